"""Errors classified by what the caller must do, and the exit codes they map to.

Public API: `ExitCode` (with `meaning`), `exit_codes(codes)`, `READER_GONE`, `OnecsyncError` and
its classes by remedy (`ConfigError`, `TemporaryError`, `StateError`, `MessageRejected`, …),
`SHOWN_PROBLEMS` and `listed_problems(problems)`, `one_line(text)`.

Every failure onecsync expects is an `OnecsyncError` subclass carrying its `exit_code` and a
`remedy`; the CLI prints ``message (remedy)`` as one line and exits with the code. Anything else is
a bug (exit 1). The table is the external contract of DESIGN.md §3.
"""

from __future__ import annotations

import enum
from typing import Iterable

from onecsync.i18n import N_
from onecsync.text import one_line


class ExitCode(enum.IntEnum):
    """The exit codes of DESIGN.md §3; `meaning` is the one English word for each (Russian
    through ru.po) that the help, the man page, the console, the metrics and README's table use."""

    OK = 0
    BUG = 1
    USAGE = 2
    CONFIG = 3
    TEMPORARY = 4
    REJECTED = 5
    CONFLICT = 6
    PARTIAL = 7
    BUSY = 8
    DRIFT = 9

    @property
    def meaning(self) -> str:
        """The English meaning (N_-marked: translate it with onecsync.i18n._ where shown)."""
        return _MEANINGS[self]


_MEANINGS = {ExitCode.OK: N_("done"), ExitCode.BUG: N_("internal error"),
             ExitCode.USAGE: N_("usage error"), ExitCode.CONFIG: N_("configuration error"),
             ExitCode.TEMPORARY: N_("temporary failure"), ExitCode.REJECTED: N_("message rejected"),
             ExitCode.CONFLICT: N_("numbering conflict"), ExitCode.PARTIAL: N_("partial: objects parked"),
             ExitCode.BUSY: N_("busy"), ExitCode.DRIFT: N_("drift found")}


# The exit code of a command that did its work but whose reader went away (`| head`), as a shell
# reports a command killed by SIGPIPE; a command that failed keeps its own code.
READER_GONE = 141
READER_GONE_MEANING = "the output's reader went away"


def exit_codes(codes: Iterable[ExitCode] = tuple(ExitCode)) -> str:
    """`0 done, 1 internal error, …` for `codes`, in English."""
    return ", ".join(f"{int(c)} {c.meaning}" for c in codes)


class OnecsyncError(Exception):
    """Base of every expected failure: one line for the admin, an exit code for cron."""

    exit_code: ExitCode = ExitCode.BUG
    remedy: str = ""
    # An error line is printed even under -q (it silences progress, not errors); only a
    # failure that is no failure at all (see Busy) may be silent there.
    silent_when_quiet: bool = False

    def __init__(self, message: str, *, remedy: str | None = None) -> None:
        super().__init__(message)
        if remedy is not None:
            self.remedy = remedy

    def line(self) -> str:
        text = str(self)
        return one_line(f"{text} ({self.remedy})" if self.remedy else text)


# A config's problems past this many are counted, not listed (in text and in --json): a
# generated config with 60,000 of them gives a screenful, not megabytes.
SHOWN_PROBLEMS = 20


def listed_problems(problems: list[str]) -> str:
    """The first SHOWN_PROBLEMS of `problems` joined into one line, then how many more."""
    listed = "; ".join(problems[:SHOWN_PROBLEMS])
    more = len(problems) - SHOWN_PROBLEMS
    return N_(f"{listed}; and {more} more") if more > 0 else listed


class ConfigError(OnecsyncError):
    """The config (or a secret it names) is wrong: a human edits it, retrying will not help.
    `problems`: the first SHOWN_PROBLEMS of them; `more_problems`: how many are not listed."""

    exit_code = ExitCode.CONFIG
    remedy = "fix the configuration"

    def __init__(self, message: str, problems: list[str] | None = None, **kw) -> None:
        super().__init__(message, **kw)
        problems = list(problems or [])
        self.problems = problems[:SHOWN_PROBLEMS]
        self.more_problems = len(problems) - len(self.problems)


class TemporaryError(OnecsyncError):
    """A base, folder or server cannot be reached now; the next scheduled run retries."""

    exit_code = ExitCode.TEMPORARY
    remedy = "nothing to do: the next run retries"


class StateError(OnecsyncError):
    """The state file cannot be used (newer schema, corrupt, unwritable): a human must look."""

    exit_code = ExitCode.CONFIG
    remedy = "check the state file named in the config"


class MessageRejected(OnecsyncError):
    """A received message is not acceptable; nothing of it was applied and it is not confirmed."""

    exit_code = ExitCode.REJECTED
    remedy = "look at the message file named here; nothing of it was applied"

    def __init__(self, message: str, *, source: str | None = None, ends_early: bool = False,
                 oversize: bool = False, **kw) -> None:
        if source:
            message = f"{source}: {message}"
        super().__init__(message, **kw)
        self.source = source
        # The file stops where more was due (its XML, or a zip's end record): a base still
        # writing it looks exactly like this, so it is judged only once it stays so.
        self.ends_early = ends_early
        # Refused by its size alone, unread: final, whatever the file ends in.
        self.oversize = oversize
        # The line of the message file at fault, where one is known (`validate` names it).
        self.sourceline: int | None = None


class StrayEntry(OnecsyncError):
    """Something in an exchange folder that neither 1C nor onecsync writes there (a directory or
    a link under a message's name, a FIFO, another user's file named like ours): left alone, never
    followed; a human removes it, retrying will not help."""

    exit_code = ExitCode.CONFIG
    remedy = "remove it: 1C and onecsync write only regular files there"


class NumberingConflict(OnecsyncError):
    """The peer confirms a message we never wrote: state restored from a backup, or the wrong file."""

    exit_code = ExitCode.CONFLICT
    remedy = "see `onecsync status`; restore the right state file or set the numbers by hand"


class Busy(OnecsyncError):
    """Another run holds the lock. For a scheduled exchange (`run`, a flow command from cron)
    that is no failure: the holder does the work, so `-q` keeps cron mail empty. Any other
    command (`state … --yes`, `retry`, `reconcile`, a dry run) is an admin's decision that was
    not carried out: it always says so, `-q` or not, since only the admin can run it again."""

    exit_code = ExitCode.BUSY

    def __init__(self, holder: dict | None, *, scheduled: bool, lock: object = None,
                 command: str | None = None, kernel: tuple[int, bool] | None = None) -> None:
        """`holder`: the lock file's word, None when it names no one (a dry run shares the
        lock and writes nothing; flock(1) or another program writes nothing either);
        `kernel`: (pid, exclusive) as /proc/locks lists the lock, None where it cannot tell."""
        self.holder = holder
        self.scheduled = scheduled
        self.silent_when_quiet = scheduled
        h = holder or {}
        pid = kernel[0] if kernel else "?"
        if holder is not None:
            who = N_(f"pid {h.get('pid', '?')}, {h.get('command', '?')}, started "
                     f"{h.get('started', '?')}")
        elif kernel is None:
            who = N_("a --dry-run or another program: it names no one")
        elif not kernel[1]:
            who = N_(f"a --dry-run, pid {pid}")
        else:
            who = N_(f"pid {pid}, a program that is no onecsync run: it names no one")
        if scheduled:
            # Only a run of the same flow, or `run` (every flow), does what this one would have.
            finishes = holder is not None and h.get("command") in ("run", command)
            what = N_(f"another onecsync run holds {lock} ({who})") if holder is not None else \
                N_(f"{lock} is held ({who})")
            super().__init__(what,
                             remedy="nothing to do: that run will finish" if finishes
                             else "nothing to do: the next scheduled run does the exchange")
        elif holder is not None:
            super().__init__(f"not done: a run is in progress since {h.get('started', '?')} "
                             f"(pid {h.get('pid', '?')})", remedy="run it again when it ends")
        else:
            super().__init__(f"not done: the lock is held ({who})",
                             remedy="run it again when it ends")

    def line(self) -> str:
        return f"{self} ({self.remedy})" if self.scheduled else f"{self}; {self.remedy}"


class Stuck(OnecsyncError):
    """The lock's holder is stopped (Ctrl-Z, SIGSTOP, a frozen cgroup) or has held the lock past
    run_timeout (hung where no signal acts): it will not finish by itself, and until it ends
    nothing is exchanged. Not busy: a human must resume or end it, so it is said even under -q
    (exit 3, a human must look). Its lock is never taken over: two writers would be worse."""

    exit_code = ExitCode.CONFIG

    def __init__(self, holder: dict | None, pid: object, why: str, lock: object) -> None:
        h = holder or {}
        since = h.get("started") or "?"
        command = h.get("command") or "?"
        if why == "past run_timeout":  # holder.PAST_TIMEOUT (that module imports this one)
            super().__init__(
                N_(f"the run pid {pid} ({command}) has held {lock} since {since}, past "
                   "run_timeout: it is hung, and nothing is exchanged until it ends"),
                remedy=N_(f"end it: kill {pid}, or kill -9 {pid} if it stays; what it had "
                          "not committed is undone"))
        else:
            super().__init__(
                N_(f"the run pid {pid} ({command}) has held {lock} since {since} and is "
                   f"{why}: nothing is exchanged until it ends"),
                remedy=N_(f"let it go on: kill -CONT {pid}; or end it: kill {pid}; kill -CONT "
                          f"{pid}, which undoes what it had not committed"))
        self.holder = holder
        self.pid = pid
        self.why = why


class Misnamed(OnecsyncError):
    """The command names something that is not there (a Ссылка no parked object has): nothing
    was done; rerun it with the right name."""

    exit_code = ExitCode.USAGE


class Refused(OnecsyncError):
    """A command would replace a file it must not replace unasked: rerun it differently."""

    exit_code = ExitCode.USAGE
    remedy = "pass --force to replace it"


class Stopped(BaseException):
    """The process was told to stop (SIGTERM: `systemctl stop`, a TimeoutStartSec): not a
    failure, and not an Exception, so that only the handlers that undo or journal see it."""

    remedy = "what this run had not committed is undone; the next run carries on"

    def __init__(self, signal_name: str, *, read_only: bool = False) -> None:
        super().__init__(f"stopped ({signal_name})")
        self.signal_name = signal_name
        if read_only:  # validate, check, status: nothing to undo, nothing to carry on
            self.remedy = "it only reads: nothing was changed"
        self.exit_code = 128 + {"SIGTERM": 15, "SIGHUP": 1}.get(signal_name, 15)


class TimedOut(Stopped):
    """The run went past its ceiling (`run_timeout`): stopped as SIGTERM stops it, but a
    temporary failure for cron (exit 4): the next run carries on where this one stopped."""

    remedy = ("what it had not committed is undone; the next run carries on (raise run_timeout "
              "if a first exchange of this size needs longer)")

    def __init__(self, seconds: float) -> None:
        BaseException.__init__(self, f"timed out: the run went past run_timeout ({seconds:g} s)")
        self.signal_name = "SIGALRM"
        self.exit_code = int(ExitCode.TEMPORARY)


def ended_by(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, what the journal says) for a run ended from outside; None for anything else.
    A stop that a library reported as an error of its own (onecsync.stopping) is still a stop."""
    from onecsync import stopping

    exc = stopping.wins(exc)
    if isinstance(exc, Stopped):
        return exc.exit_code, str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return 130, "interrupted (Ctrl-C)"
    return None


# An argument echoed in an error line is cut past this many characters: the line stays one
# line an admin can read, whatever was typed or scripted (a query of 120,000 characters).
CLIP = 60


def clip(text: str, limit: int = CLIP, quoted: bool = False) -> str:
    """`text` as an error line echoes what it was given: whole when short (`quoted`: as its
    repr), else its first `limit` characters and how many there were."""
    if len(text) <= limit:
        return repr(text) if quoted else text
    head, n = text[:limit], len(text)
    return N_(f"{head}… ({n} characters)")


def clip_all(items: list[str] | tuple[str, ...], most: int = 5) -> str:
    """Items echoed in an error line, each `clip`ped: the first `most`, then how many more."""
    listed = ", ".join(clip(i) for i in items[:most])
    if len(items) <= most:
        return listed
    more = len(items) - most
    return N_(f"{listed} and {more} more")
