"""One HTTP session to a 1C web publication, with every failure classified by what to do next.

Public API: `HttpClient`, `Refused`, `encode_query(params)`, `looks_like_html(start)`,
`html_title(text)`.

Shared by the HTTP exchange transport and the OData client. Failures become errors.py classes:
unreachable, timeout, a cut answer, 5xx → TemporaryError (exit 4); 401/403 → ConfigError (exit 3,
"check user and rights"); an HTML page where 1C's JSON or data was expected (a login page or a
proxy error, often with status 200) → TemporaryError naming the page's <title>, never parsed as
data; any other 4xx → `Refused`, which the caller turns into its own one-line error (1C's HTTP
services answer 400 with {"Message": …}, OData with {"odata.error": …}).

Only requests the caller marks `safe` (reads, status polls, re-putting the same part) are
retried, at most `ATTEMPTS` times with exponential backoff and full jitter; anything that makes
the base do something is sent once.
"""

from __future__ import annotations

import html
import json
import logging
import random
import re
import time
from typing import Any
from typing import BinaryIO
from typing import Callable
from urllib.parse import quote
from urllib.parse import urlsplit

import requests

from onecsync import __version__
from onecsync.config import Secret
from onecsync.errors import ConfigError
from onecsync.errors import OnecsyncError
from onecsync.errors import TemporaryError

log = logging.getLogger("onecsync")

ATTEMPTS = 4
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
CHUNK = 1 << 16
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.I | re.S)


class Refused(Exception):
    """A 4xx answer other than 401/403: the service understood and said no."""

    def __init__(self, status: int, message: str, payload: Any = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.payload = payload


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


def looks_like_html(start: bytes) -> bool:
    """Does a body start like a web page? (1C itself labels JSON as text/html, so sniff.)"""
    head = start[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<title"))


def html_title(start: bytes) -> str:
    m = _TITLE.search(start[:1 << 16])
    if not m:
        return "(untitled)"
    text = html.unescape(m.group(1).decode("utf-8", "replace"))
    return " ".join(text.split())[:120] or "(untitled)"


def _service_message(body: bytes) -> tuple[str, Any]:
    """The human part of an error body: 1C's {"Message"}, OData's {"odata.error"}, or the text."""
    text = body[:1 << 16].decode("utf-8", "replace").lstrip("\ufeff")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("odata.error")
        if isinstance(err, dict):
            msg = err.get("message")
            value = msg.get("value") if isinstance(msg, dict) else msg
            return f"error {err.get('code', '?')}: {value}", data
        for key in ("Message", "message"):  # 1C writes "Message"; its own client reads "message"
            if isinstance(data.get(key), str) and data[key].strip():
                return data[key], data
    if looks_like_html(body):
        return f"HTML page {html_title(body)!r}", None
    return " ".join(text.split())[:300] or "(empty answer)", data


class HttpClient:
    def __init__(self, base_url: str, user: str, password: Secret | None, *, what: str,
                 connect_timeout: float = 10.0, read_timeout: float = 180.0,
                 ca_file=None, sleep: Callable[[float], None] = time.sleep,
                 session: requests.Session | None = None, headers: dict | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.user = user
        self._password = password
        self.what = what
        self.timeout = (connect_timeout, read_timeout)
        self.verify = str(ca_file) if ca_file else True
        self.sleep = sleep
        self._session = session
        self.headers = {"User-Agent": f"onecsync/{__version__}", **(headers or {})}
        self.host = urlsplit(self.base_url).netloc

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            s = requests.Session()
            s.headers.update(self.headers)
            # Revealed only now: a base that is never contacted needs no password.
            s.auth = (self.user, self._password.reveal() if self._password else "")
            self._session = s
        elif self._session.auth is None:
            self._session.headers.update(self.headers)
            self._session.auth = (self.user, self._password.reveal() if self._password else "")
        return self._session

    # -- one request ----------------------------------------------------------------------
    def request(self, method: str, path: str, *, params: dict | None = None, safe: bool,
                data: Any = None, headers: dict | None = None) -> requests.Response:
        """The answer to one request (2xx, not an HTML page), its body read in full."""
        return self._with_retries(safe, lambda: self._once(method, path, params, data, headers))

    def download(self, path: str, out: BinaryIO, *, params: dict | None = None,
                 exact: int | None = None) -> int:
        """GET a binary body into `out` from its current position, streaming; safe to repeat.

        `exact`: the size the body must have (a part that is not the last is a full block)."""
        start = out.tell()

        def attempt() -> int:
            out.seek(start)
            out.truncate()
            resp = self._send("GET", path, params, None, None, stream=True)
            try:
                self._check_status(resp, resp.content if resp.status_code >= 300 else b"")
                size = 0
                first = True
                for chunk in resp.iter_content(CHUNK):
                    if first and looks_like_html(chunk):
                        raise self._html_error(chunk)
                    first = False
                    out.write(chunk)
                    size += len(chunk)
                expected = resp.headers.get("Content-Length")
                if expected is not None and expected.isdigit() and int(expected) != size:
                    raise TemporaryError(f"{self.what}: the answer was cut after {size} of "
                                         f"{expected} bytes")
                if exact is not None and size != exact:
                    raise TemporaryError(f"{self.what}: the answer was cut after {size} of "
                                         f"{exact} bytes")
            except requests.RequestException as exc:
                raise self._network_error(exc, cut=True) from None
            finally:
                resp.close()
            return size

        return self._with_retries(True, attempt)

    def json(self, method: str, path: str, *, params: dict | None = None, safe: bool) -> Any:
        resp = self.request(method, path, params=params, safe=safe)
        text = resp.content.decode("utf-8", "replace").lstrip("\ufeff")
        try:
            return json.loads(text)
        except ValueError:
            raise TemporaryError(f"{self.what}: {path}: expected JSON, got "
                                 f"{' '.join(text.split())[:80]!r}") from None

    # -- internals ------------------------------------------------------------------------
    def url(self, path: str, params: dict | None) -> str:
        query = encode_query(params)
        url = f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url
        return f"{url}?{query}" if query else url

    def _send(self, method, path, params, data, headers, *, stream=False) -> requests.Response:
        try:
            return self.session.request(method, self.url(path, params), data=data,
                                        headers=headers, timeout=self.timeout, stream=stream,
                                        verify=self.verify, allow_redirects=False)
        except requests.RequestException as exc:
            raise self._network_error(exc) from None

    def _once(self, method, path, params, data, headers) -> requests.Response:
        resp = self._send(method, path, params, data, headers)
        self._check_status(resp, resp.content)
        if looks_like_html(resp.content):
            raise self._html_error(resp.content)
        return resp

    def _check_status(self, resp: requests.Response, body: bytes) -> None:
        status = resp.status_code
        if 200 <= status < 300:
            return
        message, payload = _service_message(body)
        if status in (401, 403):
            raise ConfigError(f"{self.what}: HTTP {status}: the base refused user {self.user!r}"
                              f" ({message[:200]})",
                              remedy="check user and rights: the 1C user needs the password "
                                     "given here and the rights for data synchronization")
        if 300 <= status < 400:
            where = resp.headers.get("Location", "?")
            raise TemporaryError(f"{self.what}: HTTP {status}: redirected to {where[:120]}",
                                 remedy="a login page or a proxy in front of the base? check "
                                        "the URL; the next run retries")
        if status >= 500 or status in (408, 429):
            raise _Retryable(TemporaryError(f"{self.what}: HTTP {status}: {message[:300]}"),
                             resp.headers.get("Retry-After"))
        raise Refused(status, message[:500], payload)

    def _html_error(self, body: bytes) -> TemporaryError:
        return TemporaryError(
            f"{self.what}: the server answered with an HTML page {html_title(body)!r} instead "
            "of the 1C service",
            remedy="a login page or a proxy error: check the URL and the web server; the next "
                   "run retries")

    def _network_error(self, exc: requests.RequestException, cut: bool = False) -> Exception:
        if isinstance(exc, requests.exceptions.SSLError):
            return ConfigError(f"{self.what}: TLS failed: {_reason(exc)}",
                               remedy="check the certificate, or give its CA in ca_file")
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            err = TemporaryError(f"{self.what}: cannot connect to {self.host} within "
                                 f"{self.timeout[0]:g} s")
        elif isinstance(exc, requests.exceptions.Timeout):
            err = TemporaryError(f"{self.what}: no answer within {self.timeout[1]:g} s")
        elif cut or isinstance(exc, requests.exceptions.ChunkedEncodingError):
            err = TemporaryError(f"{self.what}: the answer was cut: {_reason(exc)}")
        elif isinstance(exc, requests.exceptions.ConnectionError) and (
                "RemoteDisconnected" in str(exc) or "Connection aborted" in str(exc)):
            err = TemporaryError(f"{self.what}: {self.host} closed the connection without an "
                                 "answer")
        elif isinstance(exc, requests.exceptions.ConnectionError):
            err = TemporaryError(f"{self.what}: cannot reach {self.host}: {_reason(exc)}")
        else:
            err = TemporaryError(f"{self.what}: {type(exc).__name__}: {_reason(exc)}")
        return _Retryable(err, None)

    def _with_retries(self, safe: bool, attempt: Callable[[], Any]) -> Any:
        for n in range(1, ATTEMPTS + 1):
            try:
                return attempt()
            except _Retryable as r:
                if not safe or n == ATTEMPTS:
                    raise r.error from None
                delay = random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (n - 1)))
                if r.retry_after and r.retry_after.isdigit():
                    delay = max(delay, min(float(r.retry_after), BACKOFF_CAP))
                log.debug("%s (attempt %d of %d; again in %.1f s)", r.error, n, ATTEMPTS, delay)
                self.sleep(delay)
            except TemporaryError as exc:
                # A cut or size mismatch found while reading: as retryable as a lost connection.
                if not safe or n == ATTEMPTS:
                    raise
                self.sleep(random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (n - 1))))
                log.debug("%s (attempt %d of %d)", exc, n, ATTEMPTS)
        raise AssertionError("unreachable")


class _Retryable(Exception):
    """Carries a temporary failure out of one attempt to the retry loop."""

    def __init__(self, error: OnecsyncError, retry_after: str | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def _reason(exc: BaseException) -> str:
    """The innermost useful words of a requests/urllib3 error, without the URL's query."""
    text = str(exc)
    m = re.search(r"\[Errno -?\d+\] ([^')\]]+)|(Connection refused|Read timed out|"
                  r"Connection reset by peer|IncompleteRead\([^)]*\)|Connection broken[^'\"]*)",
                  text)
    if m:
        return (m.group(1) or m.group(2)).strip()
    return text.split("?")[0][:200]
