"""A quiet HTTP server on an ephemeral port of 127.0.0.1, served from a thread: the plumbing
tests' stand-ins for 1C's HTTP services share (tests/exchange_service.py, tests/emulator/odata.py).

Public API: `QuietHandler` (a request handler that logs nothing and has `_send`), `LocalServer`
(a context manager: `.port`, started on enter, shut down on exit), `basic_credentials(header)`.
"""

from __future__ import annotations

import base64
import binascii
import sys
import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, password) from an Authorization header, decoded as 1C's web server extension
    (Apache wsap24, IIS wsisapi) decodes it: base64, then UTF-8, split at the first ':'.
    None when it is missing or not so encoded (what requests' latin-1 would send for Cyrillic)."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        text = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = text.partition(":")
    return (user, password) if sep else None


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as 1C's web server answers
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes, ctype: str = "text/html; charset=utf-8",
              extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that gave up
            super().handle_error(request, client_address)


class LocalServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = _Server(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()
