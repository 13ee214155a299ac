"""The FTP connection's pieces: control and data connections a deadline cuts, a listed file,
and what a failure of either means.

Public API: `FTP`, `FTPS`, `watched(ftp, deadline)`, `Listed`, `margin(size)`,
`classify(exc, where, t)`.
"""

from __future__ import annotations

import ftplib
import socket
import ssl

from onecsync import deadline
from onecsync.answers import Malformed
from onecsync.config import FtpConfig
from onecsync.errors import ConfigError
from onecsync.errors import OnecsyncError
from onecsync.errors import TemporaryError


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


def classify(exc: BaseException, where: str, t: FtpConfig) -> OnecsyncError:
    """An FTP failure, classified by what the admin must do (`where`: the server and the job)."""
    if isinstance(exc, ftplib.error_perm):
        text = str(exc).strip()
        code = text[:3]
        if code in ("530", "532"):
            return ConfigError(f"{where}: login refused for {t.user!r}: {text}",
                               remedy="check user and password")
        if code == "552":
            return TemporaryError(f"{where}: the server is out of space: {text}")
        return ConfigError(f"{where}: {text}",
                           remedy="check transport.folder and the FTP user's rights on it")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ConfigError(f"{where}: TLS certificate not trusted: {exc.verify_message}",
                           remedy="give the server's CA in transport.ca_file")
    if isinstance(exc, ftplib.error_temp):
        return TemporaryError(f"{where}: {str(exc).strip()}")
    if isinstance(exc, (ftplib.error_proto, ftplib.error_reply)) or type(exc) is ftplib.Error:
        # A reply that is no FTP reply (another protocol on the port) or a line past 8 KiB
        return Malformed(f"{where}: the server does not answer as FTP does: "
                         f"{str(exc).strip()[:80]!r}")
    if isinstance(exc, UnicodeDecodeError):
        return Malformed(f"{where}: the server sent text that is not UTF-8")
    if isinstance(exc, TimeoutError):
        return TemporaryError(f"{where}: no answer within {t.timeout:g} s")
    if isinstance(exc, EOFError):
        return TemporaryError(f"{where}: the server closed the connection")
    if isinstance(exc, OSError):
        return TemporaryError(f"{where}: {exc.strerror or exc}")
    return TemporaryError(f"{where}: {type(exc).__name__}: {exc}")
