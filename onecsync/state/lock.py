"""One run at a time: a non-blocking lock file beside the state, naming its holder.

Public API: `RunLock(path)`, `DryRunLock(path)` (context managers), `read_holder(path)`.

The lock is an `flock` on `<state>.lock`: the kernel releases it when the holder dies, so a lock
left by a crashed run is simply taken over. The file's text (pid, start time, command) only
says who holds it; it never decides anything.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from onecsync import clock
from onecsync.errors import Busy
from onecsync.errors import StateError
from onecsync.files import NotRegular
from onecsync.files import open_ours


def lock_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".lock")


def read_holder(path: Path) -> dict | None:
    """Who the lock file names, as written; None when it names no one we can read. The file
    is outside input like the state: what is not an object, or a `started` that is not text,
    is no holder's word (status judges times by it)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace")[:1 << 16] or "null")
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("started", ""), str):
        return None
    return data


def _listed(path: Path) -> bool | None:
    """Does the kernel list an flock on this file (/proc/locks)? None: cannot tell."""
    try:
        st = os.stat(path)
        with open("/proc/locks", encoding="ascii") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    unsure = False
    for line in lines:
        parts = line.split()
        if len(parts) < 6 or parts[1] != "FLOCK":
            continue  # not an flock, or a waiter ("->")
        dev, _, ino = parts[5].rpartition(":")
        if ino != str(st.st_ino):
            continue
        major, _, minor = dev.partition(":")
        try:
            if (int(major, 16), int(minor, 16)) == (os.major(st.st_dev), os.minor(st.st_dev)):
                return True
        except ValueError:
            pass
        unsure = True  # same inode on another device, or a device the kernel names differently
    return None if unsure else False


def holder_if_locked(path: Path) -> dict | None:
    """Who holds the lock now, or None. Where the kernel lists its locks this never touches the
    lock at all; elsewhere it probes with a shared lock for an instant (which a run starting at
    that very instant would see as busy)."""
    listed = _listed(path)
    if listed is not None:
        return (read_holder(path) or {}) if listed else None
    try:
        fd = open_ours(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return read_holder(path) or {}
    finally:
        os.close(fd)
    return None


class DryRunLock:
    """What a --dry-run holds: the run lock shared, without creating or writing the file. A run
    cannot start meanwhile (it would wait for the dry run's transaction and fail as "locked by
    another program"); a dry run while a run goes is busy: the state is about to change."""

    def __init__(self, path: Path) -> None:
        self.path = path
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
            raise Busy(read_holder(self.path) or {}, scheduled=False) from None
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class RunLock:
    """The run lock, exclusive, naming its holder. `scheduled`: the command is one cron runs,
    for which finding the lock taken is no failure (see `Busy`)."""

    def __init__(self, path: Path, command: str, scheduled: bool = False) -> None:
        self.path = path
        self.command = command
        self.scheduled = scheduled
        self._fd: int | None = None

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
            # None: a dry run shares the lock and names no one.
            raise Busy(read_holder(self.path), scheduled=self.scheduled, lock=self.path) from None
        info = {"pid": os.getpid(), "command": self.command,
                "started": clock.local_now().isoformat(timespec="seconds")}
        try:
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(info).encode())
        except OSError:
            pass  # a full disk: the flock holds all the same; the text only names the holder
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                pass
            os.close(self._fd)  # closing releases the flock
            self._fd = None
