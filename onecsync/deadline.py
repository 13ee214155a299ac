"""A deadline for one whole answer of a server, whatever the server does meanwhile.

Public API: `Deadline(seconds, what)` (a context manager; `.watch(sock)`, `.left()`,
`.expired`), `current()` (the deadline the calling thread is under, or None).

A socket timeout bounds each read, not the answer: a server that sends one byte a second never
trips it and holds a run (and its lock) for ever. Sockets watched by a deadline are shut down
when it passes, which wakes any read blocked on them; the code that was reading sees a closed
connection, asks `expired`, and reports the deadline instead.
"""

from __future__ import annotations

import socket
import threading
import time

_local = threading.local()


def current() -> Deadline | None:
    return getattr(_local, "deadline", None)


class Deadline:
    def __init__(self, seconds: float, what: str = "") -> None:
        self.seconds = seconds
        self.what = what
        self.expired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._end = 0.0
        self._outer: Deadline | None = None

    def __enter__(self) -> Deadline:
        self._end = time.monotonic() + self.seconds
        self._outer = current()
        _local.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        _local.deadline = self._outer

    def left(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def watch(self, sock) -> None:
        """Shut `sock` down at the deadline; a callable is asked for its socket only then."""
        if sock is None:
            return
        with self._lock:
            if sock not in self._socks:
                self._socks.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            socks = list(self._socks)
        for sock in socks:
            _shut(sock)


def _shut(sock) -> None:
    if callable(sock):
        sock = sock()
    if sock is None:
        return
    try:
        # The plain socket's shutdown, also for a TLS socket: no TLS alert from this thread.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass
