"""Who holds the run lock as the kernel sees it, and whether that holder is stuck.

Public API: `lockers(path)`, `Locker`, `judged(path, holder)`, `stuck(holder, lockers,
run_timeout)`, `process_state(pid)`, `runs_onecsync(pid)`, `STUCK_MARGIN`, `PAST_TIMEOUT`.

The lock file's text is the holder's own word (pid, command, start); the kernel's list of locks
(/proc/locks) and a process's state (/proc/<pid>/stat) are what is true now. A stopped holder
(Ctrl-Z, SIGSTOP, a cgroup freezer) or one past run_timeout (hung where no signal acts, on a dead
hard-mounted share) will not finish by itself: nothing is exchanged until a human acts, so it
must not pass for "busy, nothing to do". The lock is never broken here: two writers would be
worse than none.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from onecsync import clock
from onecsync.i18n import N_

# Past run_timeout the holder is judged stuck only after this many seconds more: what a run does
# with the lock outside its ceiling (opening and upgrading the state, the healthcheck pings,
# journaling its end) must not make a slow but live run look hung.
STUCK_MARGIN = 600.0
PAST_TIMEOUT = N_("past run_timeout")

# /proc/<pid>/stat states of a process that runs no code until someone acts on it.
_STOPPED = {"T": N_("stopped by a signal"), "t": N_("stopped by a debugger"),
            "Z": N_("a zombie process")}


@dataclass(frozen=True)
class Locker:
    """One flock on the lock file as /proc/locks lists it: the pid the kernel names and
    whether it is exclusive (a run) or shared (a dry run)."""

    pid: int
    exclusive: bool


def lockers(path: Path) -> list[Locker] | None:
    """The flocks the kernel lists on this file ([] for none); None: cannot tell (no
    /proc/locks, or the same inode on a device the kernel names differently)."""
    try:
        st = os.stat(path)
        with open("/proc/locks", encoding="ascii") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    found: list[Locker] = []
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
            same = (int(major, 16), int(minor, 16)) == (os.major(st.st_dev), os.minor(st.st_dev))
            pid = int(parts[4])
        except ValueError:
            same, pid = False, 0
        if same:
            found.append(Locker(pid, parts[3] == "WRITE"))
        else:
            unsure = True
    return None if unsure and not found else found


def process_state(pid: object) -> str | None:
    """What /proc says of the process `pid` ("stopped", "a zombie"), when it runs no code until
    someone acts; None when it runs, or /proc cannot tell."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read(4096)
    except OSError:
        return None
    # "pid (comm) S …": the name may hold spaces and parentheses, the state follows the last ")".
    fields = stat.rpartition(")")[2].split()
    return _STOPPED.get(fields[0]) if fields else None


def runs_onecsync(pid: object) -> bool:
    """Is `pid` a live process of onecsync (the `onecsync` script, or `python -m onecsync`)?
    What the lock file says of a pid the kernel does not confirm: a run killed outright leaves
    its text, and its pid may since be dead or another program's."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read(1 << 16).split(b"\0")
    except OSError:
        return False
    return any(os.path.basename(arg) == b"onecsync" for arg in argv[:3])


def _started(holder: dict) -> datetime.datetime | None:
    # From when the run's ceiling began, once it has (the state opened and upgraded: that may
    # take long and is outside run_timeout), else from when the lock was taken.
    try:
        started = datetime.datetime.fromisoformat(
            str(holder.get("ceiling_started") or holder.get("started", "")))
    except ValueError:
        return None
    return started if started.tzinfo is not None else None


def stuck(holder: dict | None, found: list[Locker] | None,
          run_timeout: float) -> tuple[object, str] | None:
    """(pid, why) when the lock's holder will not finish by itself (why: "stopped", "past
    run_timeout"); None while it may. The kernel's pids are judged first (the lock file may
    name no one); the time only by the holder's own `started`."""
    pids: list[object] = [lk.pid for lk in found or ()]
    if holder and holder.get("pid") not in pids:
        pids.append(holder.get("pid"))
    for pid in pids:
        why = process_state(pid)
        if why:
            return pid, why
    started = _started(holder or {})
    if holder and run_timeout > 0 and started is not None and \
            (clock.utc_now() - started).total_seconds() > run_timeout + STUCK_MARGIN:
        return holder.get("pid", "?"), PAST_TIMEOUT
    return None


def judged(path: Path, holder: dict | None) -> tuple[dict | None, Locker | None]:
    """The holder the lock file names, if the kernel agrees that it holds the lock, and the
    kernel's own holder. The text of a run killed outright stays in the file: with only a
    shared (dry-run) lock, or another pid holding it, that text names no one now."""
    found = [lk for lk in lockers(path) or () if lk.pid > 0]  # 0: a pid of another namespace
    if not found:  # the kernel cannot tell: the text names someone only if that one is there
        return (holder if holder and runs_onecsync(holder.get("pid")) else None), None
    exclusive = [lk for lk in found if lk.exclusive]
    if not exclusive or (holder and holder.get("pid") not in {lk.pid for lk in exclusive}):
        holder = None
    return holder, (exclusive or found)[0]
