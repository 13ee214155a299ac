"""The command line: each command is a few lines of wiring around the core, its report rendered
by `onecsync.console`, what it raised turned into the exit code by `app.main`.

Modules: `app` (the group and the exit mapping), `exchange` (run and the flows, retry,
reconcile), `admin` (status, trace, validate, state), `setup` (init, settings-message, check),
`options` (the global options), `manpage`, `i18n` (help texts in the admin's language).

Public API: `cli` (the click group), `main(argv)` (the entry point).
"""

from onecsync.cli.app import cli
from onecsync.cli.app import main

__all__ = ["cli", "main"]
