"""The HTTP session onecsync talks through: deadline-bound connections and UTF-8 Basic auth.

Public API: `bounded_session()`, `basic_auth(user, password)`, `encode_query(params)`,
`BasicAuth(header)`.

Every connection registers its socket with the current onecsync.deadline.Deadline, so a server
trickling a byte a second is cut when the whole answer is due, not per socket read.

Credentials go as RFC 7617 Basic with charset UTF-8 (`basic_auth`): 1C's web server extension
(Apache wsap24, IIS wsisapi) decodes them so, and an infobase user is often `Администратор`;
requests' own encoding (latin-1) cannot send such a name at all.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import requests
import urllib3

from onecsync import deadline


def encode_query(params: dict[str, Any] | None) -> str:
    """`k=v&…` with UTF-8 percent-encoding and spaces as %20, never '+' (1C reads '+' literally)."""
    if not params:
        return ""
    out = []
    for key, value in params.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        out.append(f"{quote(str(key), safe='$')}={quote(str(value), safe=chr(39) + '(),/:*$')}")
    return "&".join(out)



def basic_auth(user: str, password: str) -> str:
    """The Authorization header for Basic auth, RFC 7617 with charset="UTF-8"."""
    token = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
    return f"Basic {token}"


class BasicAuth(requests.auth.AuthBase):
    def __init__(self, header: str) -> None:
        self.header = header

    def __call__(self, r):
        r.headers["Authorization"] = self.header
        return r


def _watch(sock) -> None:
    d = deadline.current()
    if d is not None:
        d.watch(sock)


class _Watched(urllib3.connection.HTTPConnection):
    """A connection whose socket the current Deadline may shut down (plain; the TLS one below
    puts urllib3's HTTPSConnection after it)."""

    def connect(self) -> None:
        super().connect()
        _watch(self.sock)

    def request(self, *a, **kw):  # a kept-alive connection is already connected
        _watch(self.sock)
        return super().request(*a, **kw)


class _Conn(_Watched):
    pass


class _TlsConn(_Watched, urllib3.connection.HTTPSConnection):
    pass  # the handshake, however trickled, is bounded as a whole by connect_timeout (ssl)


class _Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = _Conn


class _TlsPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _TlsConn


class _Adapter(requests.adapters.HTTPAdapter):
    _pools = {"http": _Pool, "https": _TlsPool}

    def init_poolmanager(self, *a, **kw) -> None:
        super().init_poolmanager(*a, **kw)
        self.poolmanager.pool_classes_by_scheme = self._pools

    def proxy_manager_for(self, *a, **kw):
        manager = super().proxy_manager_for(*a, **kw)
        manager.pool_classes_by_scheme = self._pools
        return manager


def bounded_session() -> requests.Session:
    """A session whose connections the current onecsync.deadline.Deadline can cut."""
    s = requests.Session()
    s.mount("http://", _Adapter())
    s.mount("https://", _Adapter())
    return s
