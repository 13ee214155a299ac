"""One run at a time: a non-blocking lock file beside the state, naming its holder.

Public API: `RunLock(path)`, `DryRunLock(path)` (context managers), `read_holder(path)`,
`holder_if_locked(path)`, `ended_in(path)`.

The lock is an `flock` on `<state>.lock`: the kernel releases it when the holder dies, so a lock
left by a crashed run is simply taken over. The file's text (pid, start time, command) only
says who holds it; it never decides anything. A holder that is stopped or past run_timeout
(state/holder.py) is reported as Stuck, loudly, and its lock is still never broken.

A run that ends leaves its journal row's id and its end in the file (`ended_before` to the next
holder): a run whose record could not be written (the state's disk full) is told from one that
died without a word, whose holder text stays (review R6 L1).
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
from pathlib import Path

from onecsync import clock
from onecsync.errors import Busy
from onecsync.errors import OnecsyncError
from onecsync.errors import StateError
from onecsync.errors import Stuck
from onecsync.files import NotRegular
from onecsync.files import open_ours
from onecsync.state.holder import judged
from onecsync.state.holder import lockers
from onecsync.state.holder import stuck


def lock_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".lock")


def read_holder(path: Path) -> dict | None:
    """Who the lock file names, as written; None when it names no one we can read. The file
    is outside input like the state (any program may take the flock and write anything): each
    field is vetted by its kind, and a file with one of the wrong kind is no holder's word."""
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace")[:1 << 16] or "null")
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    for field, fits in _FIELDS.items():
        if field in data and not fits(data[field]):
            return None
    # What an ended run leaves (its journal row and end) names no one.
    return {field: data[field] for field in _FIELDS if field in data} or None


def _pid(value: object) -> bool:
    return type(value) is int and value > 0  # a bool is an int to Python, never a pid


# What a holder writes (RunLock.__enter__), by the kind each must be: the rest is not read.
_FIELDS = {"pid": _pid, "command": lambda v: isinstance(v, str),
           "started": lambda v: isinstance(v, str), "ceiling_started": lambda v: isinstance(v, str)}


def holder_if_locked(path: Path, run_timeout: float = 0.0) -> dict | None:
    """Who holds the lock now, or None: the lock file's text, with `stuck` (why it will not
    finish by itself, see holder.stuck; None while it may) and `pid` the kernel's where the
    file names no one. Where the kernel lists its locks this never touches the lock at all;
    elsewhere it probes with a shared lock for an instant (which a run starting at that very
    instant would see as busy)."""
    found = lockers(path)
    if found is None:
        try:
            fd = open_ours(path, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            return None
        finally:
            os.close(fd)
    elif not found:
        return None
    holder, kernel = judged(path, read_holder(path))
    out = dict(holder or {})
    if kernel is not None:
        out.setdefault("pid", kernel.pid)
    why = stuck(holder, found, run_timeout)
    out["stuck"] = why[1] if why else None
    return out


def _busy(path: Path, scheduled: bool, command: str | None, run_timeout: float) -> OnecsyncError:
    """What finding the lock taken means: Busy, or Stuck when its holder will not finish."""
    holder, kernel = judged(path, read_holder(path))
    why = stuck(holder, [kernel] if kernel else None, run_timeout)
    if why:
        return Stuck(holder, why[0], why[1], path)
    return Busy(holder, scheduled=scheduled, lock=path, command=command,
                kernel=(kernel.pid, kernel.exclusive) if kernel else None)


class DryRunLock:
    """What a --dry-run holds: the run lock shared, without creating or writing the file. A run
    cannot start meanwhile (it would wait for the dry run's transaction and fail as "locked by
    another program"); a dry run while a run goes is busy: the state is about to change."""

    def __init__(self, path: Path, run_timeout: float = 0.0) -> None:
        self.path = path
        self.run_timeout = run_timeout
        self._fd: int | None = None

    def __enter__(self) -> "DryRunLock":
        try:
            fd = open_ours(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return self  # no run ever took it; one that starts now waits for our transaction
        except NotRegular as exc:
            raise StateError(f"lock file {self.path} is a {exc.kind}, not a regular file",
                             remedy="remove it: onecsync makes its lock file itself") from None
        except OSError as exc:
            raise StateError(f"cannot open lock file {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _busy(self.path, False, None, self.run_timeout) from None
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class RunLock:
    """The run lock, exclusive, naming its holder. `scheduled`: the command is one cron runs,
    for which finding the lock taken is no failure (see `Busy`)."""

    def __init__(self, path: Path, command: str, scheduled: bool = False,
                 run_timeout: float = 0.0) -> None:
        self.path = path
        self.command = command
        self.scheduled = scheduled
        self.run_timeout = run_timeout  # a holder past it (and STUCK_MARGIN) is Stuck
        self._fd: int | None = None
        self._info: dict[str, object] = {}
        self._run: int | None = None  # the journal row of the run, once it has one
        self.ended_before: tuple[int, str] | None = None  # (row, end) the last holder left

    def __enter__(self) -> "RunLock":
        try:
            fd = open_ours(self.path)
        except NotRegular as exc:  # a planted link would have the run empty its target
            raise StateError(f"lock file {self.path} is a {exc.kind}, not a regular file: "
                             "nothing was written through it",
                             remedy="remove it: onecsync makes its lock file itself") from None
        except OSError as exc:
            raise StateError(f"cannot create lock file {self.path}: {exc.strerror}",
                             remedy="make the state folder writable by this user") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _busy(self.path, self.scheduled, self.command, self.run_timeout) from None
        self._info = {"pid": os.getpid(), "command": self.command,
                      "started": clock.local_now().isoformat(timespec="seconds")}
        self._fd = fd
        self.ended_before = _ended(fd)
        self._write(truncate=True)
        return self

    def ceiling_begins(self, run: int | None = None) -> None:
        """The run's ceiling (run_timeout) begins now, after the state was opened and upgraded
        (which may take long): a holder is judged hung from here, not from taking the lock.
        `run`: its journal row, which the file names once the run has ended."""
        self._run = run
        self._info["ceiling_started"] = clock.local_now().isoformat(timespec="seconds")
        self._write(truncate=False)

    def _write(self, truncate: bool) -> None:
        if self._fd is None:
            return
        text = json.dumps(self._info).encode()
        try:
            if truncate:
                os.ftruncate(self._fd, 0)
            # The new text covers the old one whole (it only grows): never an empty file
            # between, which would name no one to a reader.
            os.pwrite(self._fd, text, 0)
            os.ftruncate(self._fd, len(text))
        except OSError:
            pass  # a full disk: the flock holds all the same; the text only names the holder

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            if self._run is not None:  # written over the holder text, in blocks it holds already
                self._info = {"ended": clock.utc_now().isoformat(timespec="seconds"), "run": self._run}
                self._write(truncate=False)
            else:
                try:
                    os.ftruncate(self._fd, 0)
                except OSError:
                    pass
            os.close(self._fd)  # closing releases the flock
            self._fd = None


def ended_in(path: Path) -> tuple[int, str] | None:
    """(journal row, end) the last run left in the lock file, for `status` before the next run
    writes its row's end."""
    try:
        fd = open_ours(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return _ended(fd)
    finally:
        os.close(fd)


def _ended(fd: int) -> tuple[int, str] | None:
    """(journal row, end) a run that ended left in the lock file, vetted (any program may write
    it); None if the last holder left none (it died, or named no run)."""
    try:
        data = json.loads(os.pread(fd, 1 << 12, 0) or b"null")
        run, ended = data["run"], data["ended"]
        if type(run) is int and isinstance(ended, str):
            datetime.datetime.fromisoformat(ended)  # a ValueError if it is no time
            return run, ended
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        pass
    return None
