"""Judge each address and file the config names (a URL, an FTP host or folder, a CA file) once,
at load, the way the run will use it.

Public API: `control_problem(text)`, `url_problem(url)`, `host_problem(host)`, `ca_file_problem(path)`;
each `*_problem` returns what is wrong in words for the config's error line, or None.

A malformed value is the admin's to fix: found here it is exit 3 naming the key, where the run
would have crashed (an IPv6 URL without its `]`, a 70-character host label: exit 1) or taken it
for a network failure and retried for ever (port 99999, a CA file that is no certificate: exit 4).
The checks are the run's own parsers (urllib's, requests', the `idna` codec sockets use, ssl's),
so what passes here is what the run can use.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
import unicodedata
from pathlib import Path
from urllib.parse import urlsplit

from onecsync.files import read_small

CA_FILE_CAP = 16 * 1024 * 1024  # the system's whole bundle is ~250 KiB
_ASCII_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?")


def control_problem(text: str) -> str | None:
    if any(unicodedata.category(c) == "Cc" for c in text):
        return f"{text!r} holds a line break or control character: it must be one line"
    return None


def url_problem(url: str) -> str | None:
    """What keeps `url` (already known to be http(s) with a host) from being requested."""
    from requests.exceptions import RequestException
    from requests.models import PreparedRequest

    try:
        parts = urlsplit(url)
        port = parts.port  # urllib's own check: 'abc', 99999
    except ValueError as exc:
        return f"{url!r} is not a URL ({exc})"
    if port == 0:
        return f"{url!r}: port 0 is no TCP port (1 to 65535)"
    if parts.hostname and (problem := host_problem(parts.hostname, in_url=True)):
        return problem
    try:
        PreparedRequest().prepare_url(url, None)
    except (RequestException, ValueError, UnicodeError) as exc:
        return f"{url!r} is not a URL requests can use ({exc})"
    return None


def host_problem(host: str, *, in_url: bool = False) -> str | None:
    """What keeps `host` from being looked up: a DNS name (each label 1 to 63 characters, 253 in
    all, IDNA for Cyrillic ones) or an IP address."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(bare)
        return None
    except ValueError:
        pass
    if ":" in host or "[" in host or "]" in host:
        return (f"{host!r} is not a host name or an IP address" +
                ("" if in_url else " (give the port in `port`, an IPv6 address as ::1)"))
    try:
        ascii_name = bare.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return f"{host!r} is not a host name: a label is empty or over 63 characters"
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(_ASCII_LABEL.fullmatch(lb) for lb in labels):
        return (f"{host!r} is not a host name (labels of letters, digits and '-', 1 to 63 "
                "characters each, 253 in all)")
    return None


def ca_file_problem(path: Path) -> str | None:
    """A CA file must be a regular file of PEM certificates that ssl loads (FTP's and
    requests' verification both load it so)."""
    try:
        read_small(path, CA_FILE_CAP)  # a regular file of sane size: never a FIFO's hang
    except FileNotFoundError:
        return f"{path} does not exist"
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(path))
    except (OSError, ValueError):  # ssl.SSLError is an OSError
        return f"{path} holds no PEM certificate (give the CA bundle, -----BEGIN CERTIFICATE-----)"
    return None
