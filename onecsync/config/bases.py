"""The `bases` section: each base's code, its transport (one check per kind) and its OData.

Public API: `bases_section(checker, data)` → `{name: Base}` or None; `distinct_places(checker,
bases)`. A transport takes only its own kind's keys (its type's fields, model.py), so a typo or
a key of another kind is an error naming the key.
"""

from __future__ import annotations

import os
from dataclasses import fields
from typing import Any

from onecsync import addresses
from onecsync.config.checks import OBJECT_TYPE
from onecsync.config.checks import Checker
from onecsync.config.model import DEFAULT_MAX_MESSAGE_MIB
from onecsync.config.model import DEFAULT_SETTLE_MINUTES
from onecsync.config.model import PEERS
from onecsync.config.model import TRANSPORT_KINDS
from onecsync.config.model import TRANSPORTS
from onecsync.config.model import Base
from onecsync.config.model import DirectoryConfig
from onecsync.config.model import FtpConfig
from onecsync.config.model import HttpConfig
from onecsync.config.model import OData
from onecsync.config.model import Transport


def bases_section(c: Checker, data: Any) -> dict[str, Base] | None:
    if data is None:
        c.fail("bases", "missing")
        return None
    d = c.mapping(data, "bases", PEERS)
    out: dict[str, Base] = {}
    for name in PEERS:
        where = f"bases.{name}"
        if name not in d:
            c.fail(where, "missing")
            continue
        b = c.mapping(d[name], where, ("code", "alias", "transport", "odata"))
        code = c.code(b.get("code"), f"{where}.code")
        alias = c.string(b.get("alias"), f"{where}.alias", required=False)
        if alias is not None and any(ch in alias for ch in "/\\."):
            c.fail(f"{where}.alias", "a node code in a file name cannot hold '/', '\\' or '.'")
        transport = transport_section(c, b.get("transport"), f"{where}.transport")
        odata = odata_section(c, b.get("odata"), f"{where}.odata")
        if code and transport:
            out[name] = Base(name=name, code=code.lower(), transport=transport, odata=odata,
                             spelled=code, alias=alias)
    return out if len(out) == len(PEERS) else None


def distinct_places(c: Checker, bases: dict[str, Base]) -> None:
    """Two bases exchanging in one place would each read the other's messages, or none: one
    of them is refused as misaddressed every run, or nothing at all is said."""
    (a, ta), (b, tb) = ((n, base.transport) for n, base in bases.items())
    same = ta.place() == tb.place()
    if not same and isinstance(ta, DirectoryConfig) and isinstance(tb, DirectoryConfig):
        try:
            same = os.path.samefile(ta.path, tb.path)  # a bind mount, a link to the folder
        except OSError:
            pass  # one is missing: run and check say so
    if same:
        c.fail(f"bases.{b}.transport", f"the same {ta.noun} as bases.{a}.transport "
               f"({ta.shown()}): give each base its own {ta.noun}, the one "
               "set in that base's exchange settings")


def transport_section(c: Checker, data: Any, where: str) -> Transport | None:
    if data is None:
        c.fail(where, "missing")
        return None
    if not isinstance(data, dict):
        c.mapping(data, where, ())
        return None
    kind = c.string(data.get("kind"), f"{where}.kind")
    if kind is not None and kind not in TRANSPORT_KINDS:
        c.fail(f"{where}.kind", f"{kind!r} is not one of: {', '.join(TRANSPORT_KINDS)}")
        kind = None
    # With an unknown kind, only keys no kind takes are worth reporting.
    allowed = _keys(kind) if kind else tuple(k for t in TRANSPORTS for k in _keys(t))
    known = ("kind",) + tuple(k for key in allowed for k in c.secret_keys(key))
    if "archive_password" in data:
        c.fail(f"{where}.archive_password", "plaintext passwords are not allowed: use "
                                            "archive_password_env or archive_password_file")
        data = {k: v for k, v in data.items() if k != "archive_password"}
    d = c.mapping(data, where, known)
    if kind == "directory":
        return directory(c, d, where)
    if kind == "ftp":
        return ftp(c, d, where)
    if kind == "http":
        return http(c, d, where)
    return None


def _keys(kind: str) -> tuple[str, ...]:
    """The keys a transport kind takes: its type's fields."""
    return tuple(f.name for f in fields(TRANSPORTS[kind]))


def directory(c: Checker, d: dict, where: str) -> DirectoryConfig | None:
    path = c.path(d.get("path"), f"{where}.path")
    compress = c.boolean(d.get("compress"), f"{where}.compress", False)
    archive = c.secret(d, where, "archive_password", required=False)
    settle = float(c.number(d, where, "settle_minutes", DEFAULT_SETTLE_MINUTES))
    cap = int(c.number(d, where, "max_message_mib", DEFAULT_MAX_MESSAGE_MIB))
    if path is None:
        return None
    return DirectoryConfig(path=path, compress=compress, archive_password=archive,
                           settle_minutes=settle, max_message_mib=cap)


def ftp(c: Checker, d: dict, where: str) -> FtpConfig | None:
    host = c.string(d.get("host"), f"{where}.host")
    if host is not None and not c.no_credentials(host, f"{where}.host"):
        host = None
    elif host is not None and (problem := addresses.host_problem(host)):
        c.fail(f"{where}.host", problem)
        host = None
    elif host is not None:
        host = host.removeprefix("[").removesuffix("]")  # as the socket takes an IPv6 one
    port = int(c.number(d, where, "port", 21))
    user = c.string(d.get("user", "anonymous"), f"{where}.user")
    password = c.secret(d, where, "password", required=False)
    folder = c.string(d.get("folder", "/"), f"{where}.folder")
    passive = c.boolean(d.get("passive"), f"{where}.passive", True)
    tls = c.boolean(d.get("tls"), f"{where}.tls", False)
    ca_file = c.ca_file(d, where)
    timeout = c.number(d, where, "timeout", 60.0)
    compress = c.boolean(d.get("compress"), f"{where}.compress", False)
    archive = c.secret(d, where, "archive_password", required=False)
    settle = float(c.number(d, where, "settle_minutes", DEFAULT_SETTLE_MINUTES))
    cap = int(c.number(d, where, "max_message_mib", DEFAULT_MAX_MESSAGE_MIB))
    if host is None or user is None or folder is None:
        return None
    return FtpConfig(host=host, port=port, user=user, password=password, folder=folder,
                     passive=passive, tls=tls, ca_file=ca_file, timeout=timeout,
                     compress=compress, archive_password=archive, settle_minutes=settle,
                     max_message_mib=cap)


def basic_user(c: Checker, value: Any, where: str) -> str | None:
    """A user for HTTP Basic: RFC 7617 forbids ':' in it (the server would split the name
    there and read the rest as the password)."""
    user = c.string(value, where)
    if user is not None and ":" in user:
        c.fail(where, "contains ':', which HTTP Basic authentication cannot carry (RFC 7617): "
                      "use the 1C user's name without it")
        return None
    return user


def http(c: Checker, d: dict, where: str) -> HttpConfig | None:
    url = c.url(d.get("url"), f"{where}.url", ("http", "https"))
    user = basic_user(c, d.get("user"), f"{where}.user")
    password = c.secret(d, where, "password", required=True)
    cap = int(c.number(d, where, "max_message_mib", DEFAULT_MAX_MESSAGE_MIB))
    connect = c.number(d, where, "connect_timeout", 10.0)
    read = c.number(d, where, "read_timeout", 180.0)
    part = int(c.number(d, where, "part_size", 1024))
    wait = c.number(d, where, "wait_timeout", 1800.0)
    ca_file = c.ca_file(d, where)
    archive = c.secret(d, where, "archive_password", required=False)
    if url is None or user is None or password is None:
        return None
    return HttpConfig(url=url, user=user, password=password, connect_timeout=connect,
                      read_timeout=read, part_size=part, wait_timeout=wait, ca_file=ca_file,
                      archive_password=archive, max_message_mib=cap)


def odata_section(c: Checker, data: Any, where: str) -> OData | None:
    if data is None:
        return None
    d = c.mapping(data, where, ("url", "user", "password_env", "password_file", "timeout",
                                "entities"))
    url = c.url(d.get("url"), f"{where}.url", ("http", "https"))
    user = basic_user(c, d.get("user"), f"{where}.user")
    password = c.secret(d, where, "password", required=True)
    timeout = c.number(d, where, "timeout", 120.0)
    entities = {}
    for type_name, entity_set in c.mapping(d.get("entities"), f"{where}.entities").items():
        if not isinstance(type_name, str) or not OBJECT_TYPE.match(type_name):
            c.fail(f"{where}.entities.{type_name}", "is not an object type like Документ.ЗаказКлиента")
        elif (name := c.string(entity_set, f"{where}.entities.{type_name}")) is not None:
            entities[type_name] = name
    if url is None or user is None or password is None:
        return None
    return OData(url=url, user=user, password=password, timeout=timeout, entities=entities)
