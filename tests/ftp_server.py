"""A real FTP server on 127.0.0.1 (pyftpdlib) over a local folder, with injectable transfer drops.

Public API: `FtpServer(root, user=..., password=...)` (a context manager; `.port`), and
`server.fail(kind, name_part)` to make the next transfer of a file whose name contains
`name_part` go wrong:
- "short-read": the download stops halfway and the server reports success;
- "drop-read": the server drops the connection halfway through the download;
- "drop-write": the server drops the connection halfway through an upload;
- "long-read": the download goes on past the file's end (LONG_EXTRA zero bytes more);
- "trickle-read": the download sends one byte every TRICKLE_PAUSE seconds.
A hostile server, for tests: `server.listing` (an iterable of lines, text or bytes, answered to
MLSD and NLST instead of the folder's), `server.extra` (lines, text or bytes, listed by MLSD
before the folder's own files), `server.relisted` (a file's name → the facts of a second line
MLSD lists for it right after its own, "type=file;size=12;modify=20300101000000;", as a
server with a stale cache entry does), `server.names_in` (the encoding its names travel in,
"cp1251" as a Russian Windows server without UTF-8; the folder's files keep their bytes),
`server.no_mlsd` (MLSD answered 502, as old servers do), and
`server.size_reply` (the reply to SIZE, e.g. "213 12abc"), `server.mlsd_facts` (the only facts
MLSD gives, whatever OPTS MLST asked: RFC 3659 makes each optional), `server.handler.masquerade_address`
(the address a PASV reply names).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.handlers.ftp.producers import BufferedIteratorProducer
from pyftpdlib.servers import FTPServer

logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
LONG_EXTRA = 8 << 20
TRICKLE_PAUSE = 0.5
TRICKLE_LONGEST = 60.0  # the server's own bound: a trickle stops after this


class _Faulty:
    """A file the server reads or writes, breaking the transfer halfway."""

    def __init__(self, inner, kind: str, channel, size: int) -> None:
        self._inner = inner
        self._kind = kind
        self._channel = channel
        self._budget = max(1, size // 2) if kind.endswith("read") else 2048
        self._dropped = False
        self._extra = LONG_EXTRA
        self._end = time.monotonic() + TRICKLE_LONGEST

    def read(self, n: int = -1) -> bytes:
        if self._kind == "long-read":
            data = self._inner.read(n)
            if not data and self._extra > 0:
                data = b"\0" * min(self._extra, 1 << 16)
                self._extra -= len(data)
            return data
        if self._kind == "trickle-read":  # blocks the server's loop: it serves one client here
            if time.monotonic() > self._end:
                return b""
            time.sleep(TRICKLE_PAUSE)
            return self._inner.read(1)
        if self._budget <= 0:
            if self._kind == "drop-read" and not self._dropped:
                self._dropped = True
                self._channel.close()
            return b""
        data = self._inner.read(min(n if n > 0 else self._budget, self._budget))
        self._budget -= len(data)
        return data

    def write(self, data: bytes) -> int:
        if self._dropped:
            return len(data)
        if len(data) >= self._budget:
            self._inner.write(data[: self._budget])
            self._dropped = True
            self._channel.close()
            return len(data)
        self._budget -= len(data)
        return self._inner.write(data)

    def __getattr__(self, name):
        return getattr(self._inner, name)


class FtpServer:
    def __init__(self, root: Path, *, user: str = "sync", password: str = "ftp-s3cret") -> None:
        self.root = root
        self.faults: list[tuple[str, str]] = []
        self.commands: list[str] = []
        self.listing = None
        self.no_mlsd = False
        self.size_reply: str | None = None
        self.mlsd_facts: list[str] | None = None
        self.names_in = "utf8"
        self.extra: list[str | bytes] = []
        self.relisted: dict[str, str] = {}
        server = self
        authorizer = DummyAuthorizer()
        authorizer.add_user(user, password, str(root), perm="elradfmwMT")

        class FS(AbstractedFS):
            def open(self, filename, mode):
                f = super().open(filename, mode)
                for i, (kind, part) in enumerate(server.faults):
                    if part in Path(filename).name and kind.endswith(
                            "read" if "r" in mode else "write"):
                        del server.faults[i]
                        size = Path(filename).stat().st_size if "r" in mode else 0
                        return _Faulty(f, kind, self.cmd_channel, size)
                return f

        class Handler(FTPHandler):
            use_sendfile = False  # transfers go through FS.open's file, so faults apply
            auth_failed_timeout = 0  # no 3 s penalty after a refused login
            abstracted_fs = FS

            # pyftpdlib's own: what names travel in (the folder's files keep their own bytes)
            encoding = property(lambda self: server.names_in)
            unicode_errors = "surrogateescape"

            def decode(self, line):
                # the Cyrillic login stays UTF-8: only the names are under test
                return line.decode("utf8" if line[:5] in (b"USER ", b"PASS ") else
                                   self.encoding, self.unicode_errors)

            def pre_process_command(self, line, cmd, arg):
                server.commands.append(cmd)
                return super().pre_process_command(line, cmd, arg)

            def _lie(self, cmd):
                lines = ((line if isinstance(line, bytes) else line.encode()) + b"\r\n"
                         for line in server.listing)
                self.push_dtp_data(BufferedIteratorProducer(lines), isproducer=True, cmd=cmd)

            def _with_extra(self):
                folder = Path(self.fs.ftp2fs(self.fs.cwd))
                lines = [(x if isinstance(x, bytes) else x.encode()) + b"\r\n"
                         for x in server.extra]
                for p in folder.iterdir():
                    st = p.stat()
                    modify = time.strftime("%Y%m%d%H%M%S", time.gmtime(st.st_mtime))
                    lines.append(f"type=file;size={st.st_size};modify={modify}; {p.name}\r\n"
                                 .encode())
                    if p.name in server.relisted:
                        lines.append(f"{server.relisted[p.name]} {p.name}\r\n".encode())
                self.push_dtp_data(BufferedIteratorProducer(iter(lines)), isproducer=True,
                                   cmd="MLSD")

            def ftp_MLSD(self, path):
                if server.no_mlsd:
                    self.respond("502 Command not implemented.")
                elif server.listing is not None:
                    self._lie("MLSD")
                elif server.extra or server.relisted:
                    self._with_extra()
                else:
                    if server.mlsd_facts is not None:
                        self._current_facts = list(server.mlsd_facts)
                    return super().ftp_MLSD(path)

            def ftp_NLST(self, path):
                if server.listing is not None:
                    self._lie("NLST")
                else:
                    return super().ftp_NLST(path)

            def ftp_SIZE(self, path):
                if server.size_reply is not None:
                    self.respond(server.size_reply)
                else:
                    return super().ftp_SIZE(path)

        Handler.authorizer = authorizer
        self.handler = Handler  # a test may set e.g. masquerade_address (the PASV reply)
        self.server = FTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.address[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.server.serve_forever(timeout=0.02, blocking=False, handle_exit=False)
        self.server.close_all()

    def __enter__(self) -> FtpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def fail(self, kind: str, name_part: str) -> None:
        self.faults.append((kind, name_part))
