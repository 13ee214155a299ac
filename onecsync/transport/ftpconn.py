"""The FTP connection's pieces: control and data connections a deadline cuts, a listing read
name by name, a listed file, and what a failure of either means.

Public API: `FTP`, `FTPS`, `watched(ftp, deadline)`, `listing(ftp, cmd, where)`,
`not_a_file(name)`, `Listed`, `margin(size)`, `classify(exc, where, t)`, `LISTING_LINES`.

FTP names are bytes: a server on a Russian Windows without UTF-8 lists them in cp1251. Every
text from the server is decoded as UTF-8 with surrogateescape, and a name goes back to it as
the same bytes, so one name in another encoding neither stops the listing nor is misread: it is
not ours unless its bytes fit the mask (messagefiles.addressed), like any other name.
"""

from __future__ import annotations

import ftplib
import io
import socket
import ssl
from typing import Iterator

from onecsync import deadline
from onecsync.answers import Malformed
from onecsync.config import FtpConfig
from onecsync.errors import ConfigError
from onecsync.errors import OnecsyncError
from onecsync.errors import TemporaryError
from onecsync.text import utf8

LISTING_LINES = 100_000  # an exchange folder holds a handful of files
NAME_MAX = 255  # bytes: longer is no file's name on the server's disk or on ours


def margin(size: int) -> int:
    """How far a download may run past its listed size before it is cut (a file still being
    written grows: the size check after the download tells)."""
    return 64 * 1024 + size // 100


class FTP(ftplib.FTP):
    """A control connection whose deadline (the one in force when it was made) shuts down every
    data connection too: each may trickle on its own."""

    watcher: deadline.Deadline | None = None
    _file: io.TextIOBase | None = None

    @property  # type: ignore[override]  # ftplib's plain attribute, kept as one
    def file(self) -> io.TextIOBase | None:
        return self._file

    @file.setter
    def file(self, fp: io.TextIOBase | None) -> None:
        # ftplib reads the replies (which may echo a name) strictly in its encoding
        if isinstance(fp, io.TextIOWrapper):
            fp.reconfigure(errors="surrogateescape")
        self._file = fp

    def putline(self, line: str) -> None:
        """ftplib's, sending a listed name back as the very bytes the server listed."""
        if "\r" in line or "\n" in line:
            raise ValueError("an illegal newline character should not be contained")
        assert self.sock is not None
        self.sock.sendall(f"{line}\r\n".encode(self.encoding, "surrogateescape"))

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


def listing(ftp: ftplib.FTP, cmd: str, where: str) -> Iterator[str]:
    """The lines of a listing, one at a time (never all kept), at most LISTING_LINES, each
    decoded on its own (see the module docstring)."""
    count = 0
    ftp.sendcmd("TYPE A")
    with ftp.transfercmd(cmd) as conn, conn.makefile("rb") as fp:
        while True:
            line = fp.readline(ftp.maxline + 1)
            if len(line) > ftp.maxline:
                raise Malformed(f"{where}: {cmd}: a listing line longer than {ftp.maxline} bytes")
            if not line:
                break
            count += 1
            if count > LISTING_LINES:
                raise Malformed(f"{where}: {cmd}: the listing goes on past {LISTING_LINES} lines")
            yield line.rstrip(b"\r\n").decode(ftp.encoding, "surrogateescape")
        if isinstance(conn, ssl.SSLSocket):
            conn.unwrap()
    ftp.voidresp()


def not_a_file(name: str) -> bool:
    """A listed name no file of the folder can have: a path ("/", "\\", ".."), a NUL, or too
    long for a disk. It is never asked for, nor joined to a local path."""
    return any(bad in name for bad in ("/", "\\", "\0", "..")) or \
        len(name.encode("utf-8", "surrogateescape")) > NAME_MAX


class Listed:
    def __init__(self, name: str, size: int, modify: str) -> None:
        self.name, self.size, self.modify = name, size, modify

    @property
    def key(self) -> str:
        return f"ftp:{utf8(self.name)}:{self.size}:{self.modify}"  # the state stores it


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
    if isinstance(exc, UnicodeError):  # lasting: the server's setting, not a passing fault
        return ConfigError(f"{where}: the server sent text this host cannot read as UTF-8",
                           remedy="the server sends names in another encoding: switch it to "
                                  "UTF-8 (OPTS UTF8 ON, or its own setting)")
    if isinstance(exc, TimeoutError):
        return TemporaryError(f"{where}: no answer within {t.timeout:g} s")
    if isinstance(exc, EOFError):
        return TemporaryError(f"{where}: the server closed the connection")
    if isinstance(exc, OSError):
        return TemporaryError(f"{where}: {exc.strerror or exc}")
    return TemporaryError(f"{where}: {type(exc).__name__}: {exc}")
