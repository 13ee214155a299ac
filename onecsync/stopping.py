"""The stop a signal asked for (SIGTERM, Ctrl-C, run_timeout's alarm), remembered, so that it
wins over whatever error a library made of it.

Public API: `asked(exc)` (a signal handler: remember the stop, then raise what it returns),
`wins(exc)` (what to raise or report instead of `exc`), `check()` (raise the stop if one was
asked), `pending()`, `forget()` (a new command begins), `settle()`, `settled()` and `settles`
(a printer's decorator): the command's outcome is decided, a stop from then on changes nothing.

Python runs a signal's handler in the main thread between two bytecodes, so the exception it
raises lands in whatever Python code runs then. When that is a callback of a C library, the
library swallows it and reports an error of its own: SQLite's "user-defined function raised
exception" (migration 0004's packer), "not authorized" (the dry run's authorizer),
"interrupted" (a progress handler); lxml's "Failed to parse the XML resource" (a schema's
resolver). Translated as usual, that would blame the state file (exit 3), the message (exit 5),
or be a bug (exit 1), where the admin only stopped the run. Each place that translates an error
(state/failures.py, the run's journal, the steps that collect errors and go on, the exit
mapping) asks `wins` or `check` first.
"""

from __future__ import annotations

import functools
from typing import Callable
from typing import ParamSpec
from typing import TypeVar

_asked: BaseException | None = None
_settled = False
P = ParamSpec("P")
R = TypeVar("R")


def asked(exc: BaseException) -> BaseException:
    """Remember `exc` (a Stopped, a KeyboardInterrupt) as this process's stop; the first wins."""
    global _asked
    if _asked is None:
        _asked = exc
    return _asked


def pending() -> BaseException | None:
    return _asked


def wins(exc: BaseException) -> BaseException:
    """The stop, if one was asked; else `exc` itself."""
    return _asked if _asked is not None else exc


def check() -> None:
    """Raise the stop if one was asked (and some library swallowed it)."""
    if _asked is not None:
        raise _asked


def forget() -> None:
    global _asked, _settled
    _asked, _settled = None, False


def settle() -> None:
    """The command's outcome is decided: its work committed (or failed) and its report begun. A
    stop from now on undoes nothing and must say nothing: the report said is the outcome, and
    a second --json document or a "stopped: undone" line after it would be false."""
    global _settled
    _settled = True


def settled() -> bool:
    return _settled


def settles(printer: Callable[P, R]) -> Callable[P, R]:
    """`printer` writes a command's report: settled before its first byte, so that a stop lands
    either before the report (and is the outcome) or after it began (and changes nothing)."""
    @functools.wraps(printer)
    def settling(*args: P.args, **kw: P.kwargs) -> R:
        settle()
        return printer(*args, **kw)
    return settling
