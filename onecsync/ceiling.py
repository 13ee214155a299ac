"""The ceiling on one whole run (`run_timeout`): past it, the run stops as SIGTERM stops it.

Public API: `RunCeiling(seconds)` (a context manager; 0 or None: no ceiling).

Each answer and each wait has its own bound (onecsync.deadline), yet a server answering every
request just inside its bound can hold a run, and its lock, for hours while every cron run after
it exits 8. SIGALRM fires in the main thread even while it is blocked reading a socket, and
raises `TimedOut` there: a `Stopped`, so that what the run had not committed is undone and the
journal says why, exactly as for `systemctl stop`, but exit 4, since the next run carries on.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any
from typing import Callable

from onecsync import stopping
from onecsync.errors import TimedOut

log = logging.getLogger("onecsync")


class RunCeiling:
    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds or 0.0
        # What signal.signal gives back: None for a handler installed from outside Python.
        self._previous: Callable[[int, FrameType | None], Any] | int | None = None
        self._armed = False

    def __enter__(self) -> RunCeiling:
        if self.seconds <= 0:
            return self
        if not hasattr(signal, "setitimer") or threading.current_thread() is not \
                threading.main_thread():
            # Only the main thread gets signals; cron's runs always are in it.
            log.debug("run_timeout: not enforced outside the main thread")
            return self
        self._previous = signal.signal(signal.SIGALRM, self._expire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        self._armed = True
        return self

    def __exit__(self, *exc) -> None:
        if self._armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            # A handler Python did not install cannot be put back: the default is (it takes None
            # for no handler at all and would raise TypeError, in place of the run's outcome).
            signal.signal(signal.SIGALRM, signal.SIG_DFL if self._previous is None else self._previous)
            self._armed = False

    def _expire(self, signum, frame) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)  # once: the undoing must not be cut too
        raise stopping.asked(TimedOut(self.seconds))
