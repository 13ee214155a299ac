"""What an HTTP answer from a 1C base says, read without trusting it.

Public API: `looks_like_html(start)`, `html_title(start)`, `service_message(body)`,
`known_coding(header)`, and for failed requests `not_http(exc)`, `tls_reason(exc)`,
`reason(exc)`: the words onecsync.httpclient puts in its one-line errors.

Invariant: every function reads at most a bounded start of what it is given (an error page, a
nested exception chain) and never raises on hostile input.
"""

from __future__ import annotations

import html
import http.client
import re
import ssl
from typing import Any

from onecsync import answers

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.I | re.S)


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


def service_message(body: bytes) -> tuple[str, Any]:
    """The human part of an error body: 1C's {"Message"}, OData's {"odata.error"}, or the text."""
    text = body[:1 << 16].decode("utf-8", "replace").lstrip("\ufeff")
    try:  # an error body is as hostile as any answer: never a RecursionError
        data = answers.loads(text)
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


def known_coding(header: str) -> bool:
    """Only what urllib3 undoes (gzip, deflate, stacked) may come; anything else (br, zstd)
    would be taken as the data itself."""
    return all(c.strip().lower() in ("gzip", "x-gzip", "deflate", "identity", "")
               for c in header.split(","))


def not_http(exc: BaseException) -> str | None:
    """What was wrong with an answer that http.client could not read as HTTP (a status line or
    header past 64 KiB, more than 100 headers, another protocol on the port), or None."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 8:
        e = todo.pop()
        seen.append(e)
        if isinstance(e, http.client.RemoteDisconnected):
            return None  # a connection closed early: retried, not a lie
        if isinstance(e, http.client.BadStatusLine):
            return f"its status line is {str(e).strip()[:60]!r} (is this the web server's port?)"
        if isinstance(e, http.client.HTTPException) \
                and not isinstance(e, http.client.IncompleteRead):
            return str(e)[:120]
        todo += [a for a in e.args if isinstance(a, BaseException)]
    return None


def tls_reason(exc: BaseException) -> str:
    """What the TLS library itself said ("certificate has expired", "Hostname mismatch, …"),
    found inside the pool and retry wrappers requests puts around it."""
    seen: list[BaseException] = []
    e: object = exc
    while isinstance(e, BaseException) and e not in seen and len(seen) < 12:
        seen.append(e)
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"the certificate is not trusted: {e.verify_message or e.reason}"
        if isinstance(e, ssl.SSLError) and e.reason:
            return str(e.reason).replace("_", " ").lower()
        inner = getattr(e, "reason", None)
        e = inner if isinstance(inner, BaseException) else (
            next((a for a in e.args if isinstance(a, BaseException)), None)
            or e.__cause__ or e.__context__)
    return reason(exc)


def reason(exc: BaseException) -> str:
    """The innermost useful words of a requests/urllib3 error, without the URL's query."""
    text = str(exc)
    m = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)|(Connection refused|Read timed out|"
                  r"Connection reset by peer|IncompleteRead\([^)]*\)|Connection broken[^'\"]*)",
                  text)
    if m:
        return (m.group(1) or m.group(2)).strip()
    return text.split("?")[0][:200]
