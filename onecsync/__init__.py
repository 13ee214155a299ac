"""onecsync: a store-and-forward node of 1C's EnterpriseData exchange between 1C:CRM and 1C:БП 3.0.

The library API, as the command line uses it (`onecsync.api` says what each call does):

    import onecsync
    config = onecsync.load_config("/etc/onecsync/onecsync.yaml")
    report = onecsync.run(config, dry_run=True)     # or flow=onecsync.topology.PULL_CATALOGS
    check = onecsync.validate_message("Message_….xml", config)

Errors are `OnecsyncError` subclasses carrying `exit_code` and `remedy`. Importing this package
loads nothing else: each name below is imported at its first use.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name → the module that defines it: the one table `__all__` and the lazy lookup derive from.
_EXPORTS = {
    **dict.fromkeys(("load_config", "run", "retry", "reconcile", "validate_message", "status",
                     "trace", "check"), "onecsync.api"),
    **dict.fromkeys(("ExitCode", "OnecsyncError", "ConfigError", "TemporaryError", "StateError",
                     "MessageRejected", "StrayEntry", "NumberingConflict", "Busy", "Stuck", "Misnamed",
                     "Refused", "Stopped", "TimedOut"), "onecsync.errors"),
    "Config": "onecsync.config",
    "MessageCheck": "onecsync.protocol.check",
    **dict.fromkeys(("RunReport", "PeerRun", "Received", "ReceivedKind", "Sent", "Routed",
                     "RunError"), "onecsync.runs"),
    **dict.fromkeys(("CheckReport", "PeerCheck", "CheckItem"), "onecsync.flows.check"),
    **dict.fromkeys(("StatusReport", "PeerStatus", "Backlog", "RunSummary"),
                    "onecsync.state.status_report"),
    **dict.fromkeys(("TraceReport", "Journey"), "onecsync.state.trace_report"),
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> object:  # no `typing`: it alone would triple the import
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'onecsync' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
