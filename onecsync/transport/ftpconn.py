"""The FTP connection's pieces: control and data connections a deadline cuts, a listed file.

Public API: `FTP`, `FTPS`, `watched(ftp, deadline)`, `Listed`, `margin(size)`.
"""

from __future__ import annotations

import ftplib
import socket

from onecsync import deadline


def margin(size: int) -> int:
    """How far a download may run past its listed size before it is cut (a file still being
    written grows: the size check after the download tells)."""
    return 64 * 1024 + size // 100


class FTP(ftplib.FTP):
    """A control connection whose deadline (the one in force when it was made) shuts down every
    data connection too: each may trickle on its own."""

    watcher: deadline.Deadline | None = None

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[socket.socket, int | None]:
        conn, size = super().ntransfercmd(cmd, rest)
        if self.watcher is not None:
            self.watcher.watch(conn)
        return conn, size


class FTPS(FTP, ftplib.FTP_TLS):
    """The same over TLS: what is watched is the data connection FTP_TLS wrapped."""


def watched(ftp: FTP, d: deadline.Deadline) -> None:
    """Let the deadline shut down the control connection and every data connection."""
    d.watch(lambda: ftp.sock)  # made inside connect(), which may trickle
    ftp.watcher = d


class Listed:
    def __init__(self, name: str, size: int, modify: str) -> None:
        self.name, self.size, self.modify = name, size, modify

    @property
    def key(self) -> str:
        return f"ftp:{self.name}:{self.size}:{self.modify}"
