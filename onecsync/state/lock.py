"""One run at a time: a non-blocking lock file beside the state, naming its holder.

Public API: `RunLock(path)`, `DryRunLock(path)` (context managers), `read_holder(path)`,
`holder_if_locked(path)`.

The lock is an `flock` on `<state>.lock`: the kernel releases it when the holder dies, so a lock
left by a crashed run is simply taken over. The file's text (pid, start time, command) only
says who holds it; it never decides anything. A holder that is stopped or past run_timeout
(state/holder.py) is reported as Stuck, loudly, and its lock is still never broken.
"""

from __future__ import annotations

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
    return {field: data[field] for field in _FIELDS if field in data}


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
        self._write(truncate=True)
        return self

    def ceiling_begins(self) -> None:
        """The run's ceiling (run_timeout) begins now, after the state was opened and upgraded
        (which may take long): a holder is judged hung from here, not from taking the lock."""
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
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                pass
            os.close(self._fd)  # closing releases the flock
            self._fd = None
