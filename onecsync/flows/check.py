"""`onecsync check`: is everything in place for a run, and can each base do what the flows need?

Public API: `run_check(config, dry_run=False, strict=False)` → `CheckReport` (its `to_json()` is
the `--json` document), `PeerCheck`, `CheckItem`.

It validates what the config cannot check alone (flow types that exist in no offered format
version), reaches every transport (`probe()`), and judges each base from the last message it sent
(the versions it offers, the object types it declares). It never writes the state, never takes the
run lock (a running exchange does not disturb it), and with `--dry-run` writes nothing at all.

Problems decide the exit code, most serious first (3 config or setup, 4 unreachable, then 5: a
base's message in its folder is one a run rejected, review R4 #2); warnings
(a flow type the base does not send or receive, a base not heard from yet) leave it at 0 unless
`strict`, which makes them exit 3: they all have a remedy in the config or in the base's setup.
"""

from __future__ import annotations

import inspect
import os
import sqlite3
import stat
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from typing import Mapping

from onecsync import stopping
from onecsync.config import Config
from onecsync.errors import ExitCode
from onecsync.errors import OnecsyncError
from onecsync.files import entry_kind
from onecsync.flows.addressing import scan
from onecsync.flows.declared import Finding
from onecsync.flows.declared import config_findings
from onecsync.flows.declared import peer_findings
from onecsync.flows.organizations import unknown_organizations
from onecsync.flows.waiting import rejected_waiting
from onecsync.i18n import N_
from onecsync.protocol.numbering import negotiate
from onecsync.state import lock_path
from onecsync.state import open_readonly
from onecsync.state import read_peers
from onecsync.transport import build_transport

_ORDER = (ExitCode.CONFIG, ExitCode.TEMPORARY)


@dataclass(frozen=True)
class CheckItem:
    """A problem (with the exit code it makes) or a warning (`code` None), of a base or not."""

    peer: str | None
    message: str
    code: int | None = None

    def to_json(self) -> dict:
        head = {"code": self.code} if self.code is not None else {}
        return {**head, "peer": self.peer, "message": self.message}


@dataclass(frozen=True)
class PeerCheck:
    """What check found of one base: what the state knows of it (code, versions, the version
    we would exchange in, its last message, prefix, declared object types: sends/receives),
    and how its transport and its OData answered (ok True/False/None: not checked; detail or
    error and code)."""

    code: str
    versions: tuple[str, ...] | None
    negotiated: str | None
    last_message_version: str | None
    last_received_at: str | None
    prefix: str | None
    object_types: Mapping[str, list[str]] | None
    transport: Mapping[str, Any]
    odata: Mapping[str, Any] | None = None

    def to_json(self) -> dict:
        out = {"code": self.code,
               "versions": list(self.versions) if self.versions is not None else None,
               "negotiated": self.negotiated, "last_message_version": self.last_message_version,
               "last_received_at": self.last_received_at, "prefix": self.prefix,
               "object_types": dict(self.object_types) if self.object_types is not None else None,
               "transport": dict(self.transport)}
        if self.odata is not None:
            out["odata"] = dict(self.odata)
        return out


@dataclass(frozen=True)
class CheckReport:
    dry_run: bool
    config: str
    node: Mapping[str, Any]          # code, formats, prefix
    state: Mapping[str, Any]         # path, exists
    peers: Mapping[str, PeerCheck]
    exit_code: int
    problems: tuple[CheckItem, ...]
    warnings: tuple[CheckItem, ...]

    def to_json(self) -> dict:
        return {"command": "check", "dry_run": self.dry_run, "config": self.config,
                "node": dict(self.node), "state": dict(self.state),
                "peers": {name: p.to_json() for name, p in self.peers.items()},
                "exit_code": self.exit_code, "problems": [p.to_json() for p in self.problems],
                "warnings": [w.to_json() for w in self.warnings]}


def _probe(transport, dry_run: bool) -> dict:
    probe = getattr(transport, "probe", None)
    description = getattr(transport, "description", "")
    if probe is None:
        return {"ok": None, "detail": f"{description}: this transport cannot be checked yet"}
    if dry_run:
        if "write" not in inspect.signature(probe).parameters:
            return {"ok": None, "detail": f"{description}: not checked (--dry-run writes nothing)"}
        result = probe(write=False)
    else:
        result = probe()
    return {"ok": True, "detail": result if isinstance(result, str) and result else
            f"{description}: reachable"}


def _service_versions(transport) -> list[str] | None:
    """Versions an HTTP exchange service reported in GetIBParameters during its probe."""
    params = getattr(transport, "ib_parameters", None) or {}
    versions = params.get("ExchangeFormatVersions")
    if isinstance(versions, list):
        return [str(v) for v in versions]
    return None


def _probe_odata(cfg) -> dict:
    from onecsync.odata import ODataClient

    try:
        ODataClient(cfg).probe()
    except OnecsyncError as exc:
        return {"ok": False, "url": cfg.url, "error": exc.line(), "code": int(exc.exit_code)}
    return {"ok": True, "url": cfg.url, "detail": f"OData {cfg.url}: answers"}


def _peer_view(config: Config, name: str, state) -> dict:
    view: dict = {"code": config.bases[name].code, "versions": None, "negotiated": None,
                  "last_message_version": None, "last_received_at": None, "prefix": None,
                  "object_types": None}
    if state is None:
        return view
    view.update(last_message_version=state.format_version,
                last_received_at=state.last_received_at, prefix=state.prefix)
    if state.versions is not None:
        view["versions"] = list(state.versions)
        if set(state.versions) & set(config.node.formats):
            view["negotiated"] = negotiate(config.node.formats, state.versions)
    if state.object_types is not None:
        view["object_types"] = {
            "sends": [d["name"] for d in state.object_types if d.get("sending")],
            "receives": [d["name"] for d in state.object_types if d.get("receiving")]}
    return view


def _organizations(config: Config) -> list[OnecsyncError]:
    """What a run would say of flows.*.organizations, from the organizations the bases sent."""
    try:
        state = open_readonly(config.state)
    except OnecsyncError:
        return []  # read_peers has said why already
    if state is None:
        return []
    try:
        return [e for flow in config.flows if (e := unknown_organizations(config, state, flow))]
    except sqlite3.Error:
        return []
    finally:
        state.close()


def _other_node(config: Config) -> OnecsyncError | None:
    """The refusal a run would meet if the state was made under another node code or plan."""
    try:
        state = open_readonly(config.state)
    except OnecsyncError:
        return None  # read_peers has said why already
    if state is None:
        return None
    try:
        return state.meta.other_node(config.node.code, config.node.exchange_plan)
    except sqlite3.Error:
        return None  # no meta table yet: a run migrates the state and adopts the code
    finally:
        state.close()


def _state_access(config: Config) -> tuple[list[str], list[str]]:
    """(problems, warnings) of this user's access to the state, its folder and its lock: what a
    run would meet first. Nothing is created or locked (a run may be going)."""
    eff = os.access in os.supports_effective_ids
    path, lock = config.state, lock_path(config.state)
    folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    problems, warnings = [], []
    fix = "make it writable by the user that runs onecsync (see README: the state)"
    if folder is not None and not os.access(folder, os.W_OK | os.X_OK, effective_ids=eff):
        problems.append(f"the state folder {folder} is not writable by this user ({fix})")
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"), lock):
        if p.exists() and not os.access(p, os.R_OK | os.W_OK, effective_ids=eff):
            what = "the lock file" if p == lock else "the state file"
            problems.append(f"{what} {p} is not writable by this user, so no run can "
                            f"{'take the lock' if p == lock else 'use the state'} ({fix})")
    try:
        mode = os.lstat(lock).st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):  # the run refuses it (state/lock.py)
        problems.append(f"lock file {lock} is a {entry_kind(mode)}, not a regular file: no run "
                        "takes it (remove it: onecsync makes its lock file itself)")
    if path.exists():
        owner, me = path.stat().st_uid, os.geteuid()
        if owner != me:
            warnings.append(f"the state file {path} belongs to {_user(owner)}, not to "
                            f"{_user(me)} who runs this: files a run as {_user(me)} creates "
                            "beside it (a run as root by hand) may stop the scheduled runs "
                            f"(run onecsync as {_user(owner)}, e.g. with sudo -u)")
    return problems, warnings


def _metrics_access(config: Config) -> list[str]:
    """Warnings: a metrics file no run could write (each run would only warn, and the
    monitoring would see the last file grow old)."""
    if config.metrics_file is None:
        return []
    folder = config.metrics_file.parent
    eff = os.access in os.supports_effective_ids
    if not folder.is_dir():
        return [f"metrics_file: the folder {folder} does not exist, so no run writes its metrics "
                "(create it, or point metrics_file at node_exporter's textfile folder)"]
    if config.metrics_file.is_dir():  # the rename over it fails on every run
        return [f"metrics_file: {config.metrics_file} is a folder, so no run writes its metrics "
                "(name a file in node_exporter's textfile folder, ending in .prom)"]
    if not os.access(folder, os.W_OK | os.X_OK, effective_ids=eff):
        return [f"metrics_file: the folder {folder} is not writable by this user, so no run "
                "writes its metrics (let the user that runs onecsync write there)"]
    return []


def _user(uid: int) -> str:
    try:
        import pwd

        return f"user {pwd.getpwuid(uid).pw_name}"
    except (ImportError, KeyError):
        return f"user {uid}"


def run_check(config: Config, dry_run: bool = False, strict: bool = False) -> CheckReport:
    findings: list[Finding] = list(config_findings(config))
    codes: list[ExitCode] = [ExitCode.CONFIG for f in findings if f.level == "problem"]
    problems: list[CheckItem] = [CheckItem(None, f.line(), int(ExitCode.CONFIG))
                                 for f in findings if f.level == "problem"]
    warnings: list[CheckItem] = []
    states: dict = {}
    views: dict[str, PeerCheck] = {}
    try:
        peers = read_peers(config.state)
    except OnecsyncError as exc:
        peers = None
        codes.append(exc.exit_code)
        problems.append(CheckItem(None, exc.line(), int(exc.exit_code)))
    for p in peers or []:
        states[p.name] = p
    access_problems, access_warnings = _state_access(config)
    for text in access_problems:
        codes.append(ExitCode.CONFIG)
        problems.append(CheckItem(None, text, int(ExitCode.CONFIG)))
    warnings += [CheckItem(None, text) for text in access_warnings + _metrics_access(config)]
    for wrong in [w for w in [_other_node(config)] if w] + _organizations(config):
        codes.append(wrong.exit_code)
        problems.append(CheckItem(None, wrong.line(), int(wrong.exit_code)))
    for name, base in config.bases.items():
        state = states.get(name)
        exchanged = state is not None and (state.sent_no or state.received_no or state.confirmed_no)
        if exchanged and state is not None and state.code != base.code:  # else a run adopts the corrected code
            codes.append(ExitCode.CONFIG)
            problems.append(CheckItem(name, N_(
                f"{name}: the state file belongs to a base with code {state.code}, the config "
                f"names {base.code} (use the state file of this base, or restore the old code in "
                "the config)"), int(ExitCode.CONFIG)))
            state = None
        view = _peer_view(config, name, state)
        view["transport"] = {"kind": base.transport.kind}
        try:
            transport = build_transport(base, config.node.as_typed,
                                        exchange_plan=config.node.exchange_plan,
                                        state_dir=config.state_dir, dry_run=True)
            view["transport"].update(_probe(transport, dry_run))
            addressing = scan(config, name, transport)
            if addressing.warning:
                warnings.append(CheckItem(name, addressing.warning))
            if addressing.wrong is not None:
                raise addressing.wrong
            offered = _service_versions(transport)
            if offered and view["versions"] is None:  # the web service says, before any message
                view["versions"] = offered
                if set(offered) & set(config.node.formats):
                    view["negotiated"] = negotiate(config.node.formats, tuple(offered))
        except OnecsyncError as exc:
            view["transport"].update(ok=False, error=exc.line(), code=int(exc.exit_code))
            codes.append(exc.exit_code)
            line = exc.line()
            problems.append(CheckItem(
                name, line if line.startswith(f"{name}: ") else N_(f"{name}: {line}"),
                int(exc.exit_code)))
        if (rejected := rejected_waiting(config, name, ftp=True)) is not None:
            codes.append(ExitCode.REJECTED)  # every run skips it: the exchange is stuck
            problems.append(CheckItem(name, rejected.line(name), int(ExitCode.REJECTED)))
        if base.odata is not None:
            view["odata"] = _probe_odata(base.odata)
            if not view["odata"]["ok"]:
                codes.append(ExitCode(view["odata"]["code"]))
                problems.append(CheckItem(name, N_(f"{name}: {view['odata']['error']}"),
                                          view["odata"]["code"]))
        for f in peer_findings(config, name, state):
            if f.level == "problem":
                codes.append(ExitCode.CONFIG)
                problems.append(CheckItem(name, f.line(), int(ExitCode.CONFIG)))
            else:
                warnings.append(CheckItem(name, f.line()))
        views[name] = PeerCheck(
            code=view["code"],
            versions=tuple(view["versions"]) if view["versions"] is not None else None,
            negotiated=view["negotiated"], last_message_version=view["last_message_version"],
            last_received_at=view["last_received_at"], prefix=view["prefix"],
            object_types=view["object_types"], transport=MappingProxyType(view["transport"]),
            odata=view.get("odata"))
    if strict and warnings:
        codes.append(ExitCode.CONFIG)
    stopping.check()  # a stop swallowed by SQLite or lxml is no problem of the setup
    code = next((c for c in _ORDER if c in codes), ExitCode.OK)
    if code is ExitCode.OK and codes:
        code = codes[0]
    return CheckReport(
        dry_run=dry_run, config=str(config.path),
        node={"code": config.node.code, "formats": list(config.node.formats),
              "prefix": config.node.prefix},
        state={"path": str(config.state), "exists": peers is not None}, peers=views,
        exit_code=int(code), problems=tuple(problems), warnings=tuple(warnings))
