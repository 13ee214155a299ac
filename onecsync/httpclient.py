"""One HTTP session to a 1C web publication, with every failure classified by what to do next.

Public API: `HttpClient`, `Refused`, `JSON_LIMIT`; re-exported for its callers:
`basic_auth`, `bounded_session`, `encode_query` (onecsync.httpsession) and `looks_like_html`,
`html_title` (onecsync.httpanswer).

Shared by the HTTP exchange transport and the OData client. Failures become errors.py classes:
unreachable, timeout, a cut answer, 5xx → TemporaryError (exit 4); 401/403 → ConfigError (exit 3,
"check user and rights"); a 2xx HTML page where 1C's JSON or data was expected (a wrong URL,
a login page) → ConfigError naming the page's <title>, never parsed as data; any other 4xx →
`Refused`, which the caller turns into its own one-line error (1C's HTTP services answer 400
with {"Message": …}, OData with {"odata.error": …}).

Every answer is bounded: `read_timeout` is a deadline for the whole answer (onecsync.deadline),
not for each socket read, so a server trickling a byte a second is cut there; a body is read
streaming and never past its cap (`JSON_LIMIT` for JSON, the caller's for files), a
Content-Length over the cap is refused before anything is read; JSON is parsed and its shape
checked by onecsync.answers. Such answers (too slow, too big, malformed, not HTTP at all: a
status line or header past http.client's limits, another protocol, a 1xx as the final answer)
are exit 4 and not retried within the run: a server that lies once will lie again in the next
second. Redirects are never followed (a login page or a proxy: exit 4 naming where).

Only requests the caller marks `safe` (reads, status polls, re-putting the same part) are
retried, at most `ATTEMPTS` times with exponential backoff and full jitter; anything that makes
the base do something is sent once.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any
from typing import Callable
from urllib.parse import urlsplit

import requests

from onecsync import __version__
from onecsync import answers
from onecsync import deadline
from onecsync.answers import Malformed
from onecsync.config import Secret
from onecsync.errors import ConfigError
from onecsync.errors import OnecsyncError
from onecsync.errors import TemporaryError
from onecsync.httpanswer import html_title
from onecsync.httpanswer import known_coding
from onecsync.httpanswer import looks_like_html
from onecsync.httpanswer import not_http
from onecsync.httpanswer import reason
from onecsync.httpanswer import service_message
from onecsync.httpanswer import tls_reason
from onecsync.httpsession import BasicAuth
from onecsync.httpsession import basic_auth
from onecsync.httpsession import bounded_session
from onecsync.httpsession import encode_query

__all__ = ["HttpClient", "Refused", "Reply", "JSON_LIMIT", "basic_auth", "bounded_session",
           "encode_query", "html_title", "looks_like_html"]

log = logging.getLogger("onecsync")

ATTEMPTS = 4
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
CHUNK = 1 << 16
JSON_LIMIT = 16 << 20  # 1C's service answers are a few hundred bytes, an OData page < 1 MiB
TEXT_LIMIT = 1 << 16   # a plain answer (version, an error page): only its start is kept


class Refused(Exception):
    """A 4xx answer other than 401/403: the service understood and said no."""

    def __init__(self, status: int, message: str, payload: Any = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.payload = payload



class Reply:
    """A 2xx answer read in full within its bounds."""

    def __init__(self, status: int, headers, body: bytes) -> None:
        self.status_code, self.headers, self.content = status, headers, body


class HttpClient:
    def __init__(self, base_url: str, user: str, password: Secret | None, *, what: str,
                 connect_timeout: float = 10.0, read_timeout: float = 180.0,
                 ca_file=None, sleep: Callable[[float], None] = time.sleep,
                 session: requests.Session | None = None, headers: dict | None = None,
                 timeout_key: str = "transport.read_timeout") -> None:
        self.base_url = base_url.rstrip("/")
        self.user = user
        self._password = password
        self.what = what
        self.timeout = (connect_timeout, read_timeout)
        self.timeout_key = timeout_key
        self.verify = str(ca_file) if ca_file else True
        self.sleep = sleep
        self._session = session
        # Answers as they are: a Content-Length then counts what we read. A server that
        # compresses anyway is still read (see _read).
        self.headers = {"User-Agent": f"onecsync/{__version__}", "Accept-Encoding": "identity",
                        **(headers or {})}
        self.host = urlsplit(self.base_url).netloc

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = bounded_session()
        if not isinstance(self._session.auth, BasicAuth):
            self._session.headers.update(self.headers)
            # Revealed only now: a base that is never contacted needs no password.
            self._session.auth = BasicAuth(basic_auth(
                self.user, self._password.reveal() if self._password else ""))
        return self._session

    # -- one request ----------------------------------------------------------------------
    def request(self, method: str, path: str, *, params: dict | None = None, safe: bool,
                data: Any = None, headers: dict | None = None, limit: int = TEXT_LIMIT,
                name: str | None = None) -> Reply:
        """The answer to one request (2xx, not an HTML page), its body at most `limit` bytes."""
        where = f"{self.what}: {name or path or '/'}"

        def attempt() -> Reply:
            with deadline.Deadline(self.timeout[1]) as dl:
                resp = self._send(method, path, params, data, headers, dl, where)
                try:
                    self._check_status(resp, where)
                    buf = bytearray()
                    self._read(resp, dl, where, limit, buf.extend)
                finally:
                    resp.close()
            if looks_like_html(bytes(buf[:512])):
                raise self._html_error(bytes(buf))
            return Reply(resp.status_code, resp.headers, bytes(buf))

        return self._with_retries(safe, attempt)

    def download(self, path: str, out: Any, *, params: dict | None = None,
                 exact: int | None = None, limit: int, name: str | None = None) -> int:
        """GET a binary body into `out` from its current position, streaming; safe to repeat.

        `limit`: the most it may hold (the part size we asked for); `exact`: the size it must
        have (a part that is not the last is a full block)."""
        start = out.tell()
        where = f"{self.what}: {name or path}"

        def attempt() -> int:
            out.seek(start)
            out.truncate()
            with deadline.Deadline(self.timeout[1]) as dl:
                resp = self._send("GET", path, params, None, None, dl, where)
                try:
                    self._check_status(resp, where)
                    first: list[bytes] = []

                    def sink(chunk: bytes) -> None:
                        if not first:
                            first.append(chunk)
                            if looks_like_html(chunk):
                                raise self._html_error(chunk)
                        out.write(chunk)

                    size = self._read(resp, dl, where, limit, sink)
                finally:
                    resp.close()
            if exact is not None and size != exact:
                raise _Retryable(TemporaryError(f"{where}: the answer was cut after {size} of "
                                                f"{exact} bytes"), None)
            return size

        return self._with_retries(True, attempt)

    def json(self, method: str, path: str, *, schema: Any, params: dict | None = None,
             safe: bool, name: str | None = None) -> Any:
        """The JSON answer of one request, bounded by JSON_LIMIT and checked against `schema`
        (onecsync.answers): what a request gets is always of the shape its caller reads."""
        reply = self.request(method, path, params=params, safe=safe, limit=JSON_LIMIT,
                             name=name)
        return answers.parse_json(reply.content, f"{self.what}: {name or path or '/'}", schema)

    # -- internals ------------------------------------------------------------------------
    def url(self, path: str, params: dict | None) -> str:
        query = encode_query(params)
        url = f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url
        return f"{url}?{query}" if query else url

    def _send(self, method, path, params, data, headers, dl, where) -> requests.Response:
        try:
            return self.session.request(method, self.url(path, params), data=data,
                                        headers=headers, timeout=self.timeout, stream=True,
                                        verify=self.verify, allow_redirects=False)
        except requests.RequestException as exc:
            raise self._network_error(exc, dl, where) from None

    def _read(self, resp: requests.Response, dl: deadline.Deadline, where: str, limit: int,
              sink: Callable[[bytes], None]) -> int:
        """Stream the body into `sink`, never past `limit` bytes or the deadline."""
        declared = resp.headers.get("Content-Length", "")
        if declared.strip().isdigit() and int(declared) > limit:
            raise Malformed(f"{where}: the server announces {int(declared)} bytes, more than "
                            f"the {limit} asked for or allowed")
        size = 0
        try:
            for chunk in resp.iter_content(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise Malformed(f"{where}: the answer goes on past {limit} bytes, more "
                                    "than asked for or allowed")
                sink(chunk)
        except requests.RequestException as exc:
            raise self._network_error(exc, dl, where, cut=True) from None
        except OSError as exc:  # a write to the spool
            if dl.expired:
                raise self._overdue(where) from None
            raise TemporaryError(f"{where}: cannot write the answer: {exc.strerror or exc}") \
                from None
        if dl.expired:
            raise self._overdue(where)
        if resp.headers.get("Content-Encoding", "identity").strip().lower() != "identity":
            # Content-Length counts the bytes on the wire, before the encoding is undone;
            # `limit` still bounds what it inflates to (a bomb goes past it at once).
            size = resp.raw.tell()
        if declared.strip().isdigit() and int(declared) != size:
            raise _Retryable(TemporaryError(f"{where}: the answer was cut after {size} of "
                                            f"{declared} bytes"), None)
        return size

    def _overdue(self, where: str) -> TemporaryError:
        return TemporaryError(f"{where}: no answer within {self.timeout[1]:g} s (the whole "
                              "answer is due by then)",
                              remedy=f"the server is too slow or stalls; the next run retries "
                                     f"(raise {self.timeout_key} if the base is just slow)")

    def _check_status(self, resp: requests.Response, where: str) -> None:
        status = resp.status_code
        if status == 206:  # a part of a body we asked for whole is no answer to take as data
            raise Malformed(f"{where}: HTTP 206: only a part of the answer "
                            f"({resp.headers.get('Content-Range', 'no Content-Range')[:80]})",
                            remedy="a proxy or the server answers out of turn; the next run "
                                   "retries")
        coding = resp.headers.get("Content-Encoding", "identity")
        if 200 <= status < 300 and not known_coding(coding):
            raise Malformed(f"{where}: HTTP {status}: Content-Encoding {coding[:60]!r} cannot "
                            "be read (only gzip, deflate, identity)",
                            remedy="a proxy in front of the base re-encodes answers; the next "
                                   "run retries")
        if 200 <= status < 300:
            return
        if status < 200:  # http.client skips only 100 Continue; any other 1xx ends here
            raise Malformed(f"{where}: HTTP {status}: an interim answer and no final one",
                            remedy="the server or a proxy in front of it answers out of turn; "
                                   "the next run retries")
        if status >= 600:
            raise Malformed(f"{where}: HTTP {status} is not a final answer")
        buf = bytearray()
        try:
            for chunk in resp.iter_content(CHUNK):  # an error page: its start says enough
                buf.extend(chunk)
                if len(buf) >= TEXT_LIMIT:
                    break
        except requests.RequestException:
            pass
        body = bytes(buf[:TEXT_LIMIT])
        message, payload = service_message(body)
        if status in (401, 403):
            raise ConfigError(f"{where}: HTTP {status}: the base refused user {self.user!r}"
                              f" ({message[:200]})",
                              remedy="check user and rights: the 1C user needs the password "
                                     "given here and the rights for data synchronization")
        if 300 <= status < 400:
            target = resp.headers.get("Location")
            went = f"redirected to {target[:120]}" if target else "a redirect without a Location"
            raise TemporaryError(f"{where}: HTTP {status}: {went}",
                                 remedy="a login page or a proxy in front of the base? check "
                                        "the URL; the next run retries")
        if status >= 500 or status in (408, 429):
            raise _Retryable(TemporaryError(f"{where}: HTTP {status}: {message[:300]}"),
                             resp.headers.get("Retry-After"))
        raise Refused(status, message[:500], payload)

    def _html_error(self, body: bytes) -> ConfigError:
        # A 200 HTML page is a wrong URL, a login page or a publication without the service:
        # retrying will not change it (a proxy's 5xx page is a status error, exit 4).
        return ConfigError(
            f"{self.what}: the server answered an HTML page {html_title(body)!r}, not 1C's "
            "service",
            remedy="check the URL and the publication (and any login page in front of it)")

    def _network_error(self, exc: requests.RequestException, dl: deadline.Deadline,
                       where: str, cut: bool = False) -> Exception:
        if dl.expired:
            return self._overdue(where)
        if isinstance(exc, requests.exceptions.SSLError):
            if "WRONG_VERSION_NUMBER" in str(exc) or "record layer failure" in str(exc):
                return ConfigError(f"{where}: {self.host} does not answer TLS on this port",
                                   remedy="check http:// or https:// and the port in the URL")
            return ConfigError(f"{where}: TLS failed: {tls_reason(exc)}",
                               remedy="check the certificate, or give its CA in ca_file")
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            err = TemporaryError(f"{where}: cannot connect to {self.host} within "
                                 f"{self.timeout[0]:g} s")
        elif isinstance(exc, requests.exceptions.Timeout):
            err = TemporaryError(f"{where}: no answer within {self.timeout[1]:g} s")
        elif (broken := not_http(exc)) is not None:
            return Malformed(f"{where}: the answer is not HTTP: {broken}")
        elif cut or isinstance(exc, requests.exceptions.ChunkedEncodingError):
            err = TemporaryError(f"{where}: the answer was cut: {reason(exc)}")
        elif isinstance(exc, requests.exceptions.ConnectionError) and (
                "RemoteDisconnected" in str(exc) or "Connection aborted" in str(exc)):
            err = TemporaryError(f"{where}: {self.host} closed the connection without an "
                                 "answer")
        elif isinstance(exc, requests.exceptions.ConnectionError):
            err = TemporaryError(f"{where}: cannot reach {self.host}: {reason(exc)}")
        else:
            err = TemporaryError(f"{where}: {type(exc).__name__}: {reason(exc)}")
        return _Retryable(err, None)

    def _with_retries(self, safe: bool, attempt: Callable[[], Any]) -> Any:
        """Only _Retryable failures (lost connections, cut answers, 5xx) are tried again: an
        answer too slow, too big or malformed is final for this run."""
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
        raise AssertionError("unreachable")


class _Retryable(Exception):
    """Carries a temporary failure out of one attempt to the retry loop."""

    def __init__(self, error: OnecsyncError, retry_after: str | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


