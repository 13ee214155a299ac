"""Healthcheck pings: `<url>/start` when a run begins, `<url>/<exit code>` when it ends.

Public API: `Healthcheck(url)`, `Healthcheck.from_config(config)`, `TIMEOUT`.

The convention of healthchecks.io (and of services that copy it): a run that never reports, or
reports a non-zero code, raises an alert. A ping never decides anything: it is tried once, done
within `DEADLINE` whatever the service does (its answer's body is never read), and a failure is
a warning, never the run's failure. The URL usually carries the check's secret key, so it is
never logged: only its host is. A `user:password@` in it is sent as UTF-8 Basic auth, as to 1C
(httpclient.basic_auth).
"""

from __future__ import annotations

import logging
from urllib.parse import unquote
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from onecsync.config import Config
from onecsync.errors import ConfigError

log = logging.getLogger("onecsync")

TIMEOUT = (5, 10)  # seconds to connect, to read: a stuck monitoring service must not hold a run
DEADLINE = 15.0    # seconds for the whole ping, however the service trickles
BODY_LIMIT = 10_000  # healthchecks.io keeps the first 100 kB of a ping's body as its log


class Healthcheck:
    def __init__(self, url: str | None) -> None:
        self.url = url.rstrip("/") if url else None

    @classmethod
    def from_config(cls, config: Config) -> Healthcheck:
        if config.healthcheck_url is None:
            return cls(None)
        try:
            url = config.healthcheck_url.reveal()
        except ConfigError as exc:
            # The run itself is fine; the missing pings are what the monitoring alerts on.
            log.warning("healthcheck: %s; not pinging", exc.line())
            return cls(None)
        if not url.startswith(("http://", "https://")):
            log.warning("healthcheck: the configured URL is not http(s); not pinging")
            return cls(None)
        from onecsync.addresses import url_problem

        if url_problem(url):  # its words would show the secret key: only that it is wrong
            log.warning("healthcheck: the configured URL is malformed (a port, a host or an "
                        "IPv6 bracket); not pinging")
            return cls(None)
        problem = _credentials_problem(url)
        # Sent as it is, the check would see another user (or none).
        if problem == "undecodable":
            log.warning("healthcheck: the user or password in the configured URL is not UTF-8 "
                        "once decoded; not pinging")
        elif problem == "colon":
            log.warning("healthcheck: the user in the configured URL holds ':' once decoded "
                        "(Basic auth would split it there); not pinging")
        elif problem == "line":
            log.warning("healthcheck: the user or password in the configured URL holds a line "
                        "break or a NUL once decoded; not pinging")
        if problem:
            return cls(None)
        return cls(url)

    @property
    def host(self) -> str:
        return urlsplit(self.url or "").hostname or "?"

    def start(self) -> None:
        self._ping("start", "")

    def finish(self, exit_code: int, summary: str = "") -> None:
        self._ping(str(int(exit_code)), summary)

    def _ping(self, suffix: str, body: str) -> None:
        if self.url is None:
            return
        import requests  # only runs with a healthcheck pay for importing it

        from onecsync import deadline
        from onecsync import httpclient

        parts = urlsplit(f"{self.url}/{suffix}")
        headers = {}
        if parts.username is not None:
            headers["Authorization"] = httpclient.basic_auth(*_credentials(parts))
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        session = httpclient.bounded_session()
        try:
            with deadline.Deadline(DEADLINE) as dl:
                response = session.post(urlunsplit(parts), data=body[:BODY_LIMIT].encode(),
                                        headers=headers, timeout=TIMEOUT, stream=True,
                                        allow_redirects=False)
                response.close()  # only the status counts: the body is never read
        except requests.RequestException as exc:
            # str(exc) names the URL, key included: only the kind of failure is logged.
            log.warning("healthcheck ping /%s to %s failed: %s", suffix, self.host,
                        "no answer within %g s" % DEADLINE if dl.expired else type(exc).__name__)
            return
        finally:
            session.close()
        if response.status_code >= 400:
            log.warning("healthcheck ping /%s to %s: HTTP %d", suffix, self.host,
                        response.status_code)
        else:
            log.debug("healthcheck ping /%s to %s: HTTP %d", suffix, self.host,
                      response.status_code)


def _credentials(parts) -> tuple[str, str]:
    """The URL's user and password, percent-decoded as UTF-8 (strictly: a wrong byte raises)."""
    return (unquote(parts.username or "", errors="strict"),
            unquote(parts.password or "", errors="strict"))


def _credentials_problem(url: str) -> str | None:
    """Which rule (a key of the warnings above) keeps the URL's `user:password@` from travelling
    as Basic auth (RFC 7617), or None: the rules of a transport's `user`, so that a healthcheck
    URL is no way around them."""
    parts = urlsplit(url)
    if parts.username is None:
        return None
    try:
        user, password = _credentials(parts)
    except UnicodeDecodeError:
        return "undecodable"
    if ":" in user:
        return "colon"
    if any(ch in user + password for ch in "\r\n\0"):
        return "line"
    return None
