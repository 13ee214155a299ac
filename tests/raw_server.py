"""A TCP server on 127.0.0.1 that answers each connection with raw bytes of a test's choosing:
what no well-behaved HTTP or FTP server library would send.

Public API: `RawServer(script)` (a context manager: `.port`, `.url`, `.connections`); `script`
is called with each accepted socket (after the request's headers were read, for `http=True`)
and writes whatever it likes; the server stops writing after `LONGEST` seconds whatever the
script does, and closes the connection when the script returns.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Callable

LONGEST = 40.0  # the test server's own bound: a hostile script stops after this


class RawServer:
    def __init__(self, script: Callable[[socket.socket], None], *, http: bool = True) -> None:
        self.script = script
        self.http = http
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/base"
        self.connections = 0
        self.requests: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept(); close() alone does not
        except OSError:
            pass
        self.sock.close()
        self._thread.join(5)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(LONGEST)
        try:
            if self.http:
                head = b""
                while b"\r\n\r\n" not in head and len(head) < 1 << 16:
                    data = conn.recv(4096)
                    if not data:
                        return
                    head += data
                self.requests.append(head)
            self.script(conn)
        except OSError:
            pass  # the client gave up: what is under test
        finally:
            conn.close()


def forever(conn: socket.socket, start: bytes, again: bytes) -> None:
    """Send `start`, then `again` over and over until the client leaves or LONGEST passes."""
    conn.sendall(start)
    end = time.monotonic() + LONGEST
    while time.monotonic() < end:
        conn.sendall(again)
