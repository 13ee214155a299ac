"""The reusable checks of config values, each reporting a problem with its dotted path.

Public API: `Checker(base_dir)` (its `problems`, and one method per kind of value: mapping,
string, key, code, boolean, path, secret, number, url, ca_file, unique, object_path, ...), `Range`,
`NUMBERS` (every number the config takes, by key), `OBJECT_TYPE`. A check never stops at a
problem: it records it (`fail`) and gives back None or the default, so that every problem of a
config is reported at once. The sections (sections.py, bases.py) are built from these.
"""

from __future__ import annotations

import datetime
import difflib
import math
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from onecsync import addresses
from onecsync.config.model import DEFAULT_FORMATS
from onecsync.config.yamlsafe import Sources
from onecsync.i18n import N_
from onecsync.places import too_long
from onecsync.secret import Secret

OBJECT_TYPE = re.compile(r"^(Справочник|Документ)\.[^\s.]+$")


@dataclass(frozen=True)
class Range:
    """Where a number of the config may lie; `str()` is how the error line says it."""

    low: float
    high: float
    unit: str = ""
    whole: bool = False
    low_included: bool = True

    def holds(self, value: float) -> bool:
        return math.isfinite(value) and (self.low <= value if self.low_included
                                         else self.low < value) and value <= self.high

    def __str__(self) -> str:
        unit = f" ({self.unit})" if self.unit else ""
        if self.whole:
            return N_(f"a whole number from {self.low:g} to {self.high:g}{unit}") if self.low_included \
                else N_(f"a whole number above {self.low:g} to {self.high:g}{unit}")
        return N_(f"a finite number from {self.low:g} to {self.high:g}{unit}") if self.low_included \
            else N_(f"a finite number above {self.low:g} to {self.high:g}{unit}")


_SECONDS = Range(0, 86400, "seconds", low_included=False)  # a day: longer is a typo
# Every number the config takes, by key (README's Configuration table says the same ranges).
NUMBERS: dict[str, Range] = {
    "port": Range(1, 65535, "a TCP port", whole=True),
    "timeout": _SECONDS, "connect_timeout": _SECONDS, "read_timeout": _SECONDS,
    "wait_timeout": _SECONDS,
    # One part is held in memory while it is sent: 64 MiB at most.
    "part_size": Range(1, 65536, "KiB", whole=True),
    "settle_minutes": Range(0, 1440, "minutes"),
    # The most one message from a base may hold while it downloads (a lying server's size is
    # cut here, not at a disk full): 1 MiB to 64 GiB.
    "max_message_mib": Range(1, 65536, "MiB", whole=True),
    # A whole run's ceiling: a week at most; 0 switches the ceiling off.
    "run_timeout": Range(0, 7 * 86400, "seconds; 0: no ceiling"),
}


class Checker:
    """Collects problems instead of stopping at the first; `versions` are the offered formats
    a field path is judged against (set once node.formats is read)."""

    def __init__(self, base_dir: Path, sources: Sources | None = None) -> None:
        self.base_dir = base_dir
        self.sources = sources or {}  # what YAML typed → (text as written, line): yamlsafe's
        self.problems: list[str] = []
        self.versions: tuple[str, ...] = DEFAULT_FORMATS

    def fail(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def mapping(self, value: Any, where: str, known: tuple[str, ...] | None = None) -> dict:
        """A YAML mapping; with `known`, any other key is a problem. Without, its keys are
        text the config matches (a field path, an old value 1C sends): one YAML typed is a
        problem (`01` is the number 1, `yes` is true: neither would ever match), and left out."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.fail(where, f"must be a mapping, not {type(value).__name__}")
            return {}
        if known is None:
            return {text: v for k, v in value.items() if (text := self.key(k, where)) is not None}
        for key in value:
            if key in known:
                continue
            # A key YAML typed (`true:`, `yes:`, `0100:`) is named as written, with its line:
            # "node.True" is nothing the admin wrote.
            written = None if isinstance(key, str) else self.sources.get((where, key))
            text, line = written or (str(key).lower() if isinstance(key, bool) else str(key), 0)
            what = N_(f"unknown key on line {line}") if written else N_("unknown key")
            if isinstance(key, str) and (key in ("pass", "secret") or key.endswith("password")):
                what += (f" (plaintext passwords are not allowed: use {key}_env or {key}_file)"
                         if key.endswith("password") else
                         " (plaintext passwords are not allowed: use password_env or password_file)")
            elif close := difflib.get_close_matches(text, known, n=1, cutoff=0.75):
                what += f" (did you mean {close[0]}?)"
            self.fail(f"{where}.{text}" if where else text, what)
        return value

    def string(self, value: Any, where: str, *, required: bool = True,
               one_line: bool = True) -> str | None:
        """A scalar as text. Every value but a mapping's field values is one line: a line
        break in a URL, a host, a folder or a user is a slip (or an injected FTP command)."""
        if value is None:
            if required:
                self.fail(where, "missing")
            return None
        if not isinstance(value, str):
            if (as_written := self.as_written(value, where)) is None:
                self.fail(where, self.not_text(value, where))
                return None
            value = as_written
        text = value.strip()
        if not text:
            self.fail(where, "must not be empty")
            return None
        if one_line and (problem := addresses.control_problem(text)):
            self.fail(where, problem)
            return None
        return text

    def key(self, key: Any, where: str) -> str | None:
        """A key of the mapping at `where` as text: as `string` takes a value (what YAML read
        exactly as written is that text), else a problem naming the key and how to quote it."""
        if isinstance(key, str):
            return key
        written = self.sources.get((where, key))
        if written is not None and not isinstance(key, bool) and written[0] == str(key):
            return written[0]
        kind = self._kind(key)
        if kind is None:
            self.fail(where, N_(f"a key must be text, not {type(key).__name__}"))
            return None
        shown = str(key).lower() if isinstance(key, bool) else str(key)
        if written is None:
            self.fail(where, N_(f"the key {shown} is read by YAML as {kind}: quote it"))
            return None
        text, line = written
        quoted = f"'{text}'"
        if text == shown:
            self.fail(where, N_(f"the key {text} on line {line} is read by YAML as {kind}: quote "
                                f"it, {quoted}"))
        else:
            self.fail(where, N_(f"the key {text} on line {line} is read by YAML as {kind}, "
                                f"{shown}: quote it, {quoted}"))
        return None

    @staticmethod
    def _kind(value: Any) -> str | None:
        """What YAML made of a plain scalar, in words; None: not a scalar YAML types."""
        return {bool: N_("true or false"), datetime.date: N_("a date"),
                datetime.datetime: N_("a date"), int: N_("a number"),
                float: N_("a number")}.get(type(value))

    def as_written(self, value: Any, where: str) -> str | None:
        """A number or date that YAML read exactly as it is written (`1234`, `2026-12-01`) is
        that text: nothing the admin wrote was changed, and configs that worked keep working.
        What YAML changed (`0100` is 64, `1:20` is 80, `no` is false) is not."""
        if isinstance(value, bool) or not isinstance(value, (int, float, datetime.date)):
            return None
        written = self.sources.get(where)
        return written[0] if written is not None and written[0] == str(value) else None

    def not_text(self, value: Any, where: str) -> str:
        """Why a value that must be text is not: YAML typed what the admin wrote (0274… is an
        octal number, `no` is false, 2026-12-01 a date): say what was written, and quote it."""
        kind = self._kind(value)
        if kind is None:
            return N_(f"must be a string, not {type(value).__name__}")
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        if where not in self.sources:
            return N_(f"the value {shown} is read by YAML as {kind}: quote it")
        text, line = self.sources[where]
        quoted = f"'{text}'"
        if text == shown:
            return N_(f"the value {text} on line {line} is read by YAML as {kind}: quote it, "
                      f"{quoted}")
        return N_(f"the value {text} on line {line} is read by YAML as {kind}, {shown}: quote "
                  f"it, {quoted}")

    def code(self, value: Any, where: str) -> str | None:
        text = self.string(value, where)
        if text is None:
            return None
        try:
            if not text.isascii():  # uuid.UUID takes "８d0e…", which names no file of 1C's
                raise ValueError(text)
            uuid.UUID(text)
        except ValueError:
            self.fail(where, f"{text!r} is not a node code (1C node codes are UUIDs, "
                             "e.g. 8d0e3a9c-5b7f-4c1e-9a2d-3f4b5c6d7e8f)")
            return None
        return text  # as typed: the caller keeps this spelling for file names, compares .lower()

    def boolean(self, value: Any, where: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(where, "must be true or false")
            return default
        return value

    def path(self, value: Any, where: str) -> Path | None:
        text = self.string(value, where)
        if text is None:
            return None
        p = Path(os.path.expanduser(text))
        p = p if p.is_absolute() else self.base_dir / p
        why = too_long(p)
        if why:
            shown = repr(text) if len(text) <= 60 else repr(text[:40]) + "…"
            self.fail(where, f"{shown} {why}: give a shorter path")
            return None
        return p

    def secret(self, d: dict, where: str, name: str, *, plain: bool = False,
               required: bool = False) -> Secret | None:
        """`<name>_env` or `<name>_file` (or, when `plain`, `<name>` itself): at most one."""
        prefix = f"{where}." if where else ""
        keys = [k for k in ((name,) if plain else ()) + (f"{name}_env", f"{name}_file")
                if d.get(k) is not None]
        if len(keys) > 1:
            self.fail(prefix + keys[1], f"give only one of {', '.join(keys)}")
            return None
        if not keys:
            if required:
                self.fail(f"{prefix}{name}_env", f"missing (or {name}_file)")
            return None
        key = keys[0]
        text = self.string(d[key], prefix + key)
        if text is None:
            return None
        if key.endswith("_env"):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
                self.fail(prefix + key, f"{text[:40]!r} is not an environment variable name "
                                        "(the password itself never goes here)")
                return None
            return Secret(env=text)
        if key.endswith("_file"):
            # A leading $VARIABLE is expanded when the secret is read (see Secret).
            path = Path(text) if text.startswith("$") else self.path(text, prefix + key)
            return Secret(file=path)
        return Secret(value=text)

    @staticmethod
    def secret_keys(key: str) -> tuple[str, ...]:
        return (f"{key}_env", f"{key}_file") if key.endswith("password") else (key,)

    def number(self, d: dict, where: str, key: str, default: float) -> float:
        """A number of the config, checked against its range in NUMBERS: finite, in range,
        whole where it must be (.inf, .nan, 1e999 or a string are problems, never a crash)."""
        value = d.get(key)
        if value is None:
            return default
        r = NUMBERS[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or (r.whole and not isinstance(value, int)) or not r.holds(value):
            self.fail(f"{where}.{key}" if where else key, f"must be {r}")
            return default
        return value

    def optional_path(self, d: dict, where: str, key: str) -> Path | None:
        return self.path(d[key], f"{where}.{key}") if d.get(key) is not None else None

    def ca_file(self, d: dict, where: str) -> Path | None:
        path = self.optional_path(d, where, "ca_file")
        if path is not None and (problem := addresses.ca_file_problem(path)):
            self.fail(f"{where}.ca_file", problem)
            return None
        return path

    def url(self, value: Any, where: str, schemes: tuple[str, ...]) -> str | None:
        text = self.string(value, where)
        if text is None:
            return None
        try:
            parts = urlsplit(text)
            scheme, host = parts.scheme, parts.hostname
        except ValueError:  # 'http://[::1': url_problem says what
            scheme, host = text.partition("://")[0].lower(), "?"
        if scheme not in schemes or not host:
            self.fail(where, f"{text!r} is not an {' or '.join(schemes)} URL like "
                             f"{schemes[0]}://host/base")
            return None
        if problem := addresses.url_problem(text):
            self.fail(where, problem)
            return None
        if not self.no_credentials(text, where):
            return None
        return text.rstrip("/")

    def no_credentials(self, text: str, where: str) -> bool:
        """Every URL-like field (a URL, an FTP host) goes through here: a `user:password@` in it
        would end up in logs and reports, so it is refused, naming where the user goes."""
        netloc = text.partition("//")[2] if "//" in text else text
        netloc = re.split(r"[/?#]", netloc, maxsplit=1)[0]
        if "@" not in netloc:
            return True
        if ":" in netloc.rpartition("@")[0]:
            self.fail(where, "holds a user and password before '@': put the user in `user` and the "
                             "password in password_env or password_file")
        else:
            self.fail(where, "holds a user before '@': put the user in `user` and the password "
                             "in password_env or password_file")
        return False

    def object_path(self, type_name: str, path: Any, where: str) -> str | None:
        """A field path of an object type, checked against the versions we offer."""
        from onecsync.formats import load
        from onecsync.mapping import path_exists

        text = self.string(path, where)
        if text is None:
            return None
        text = text.strip("/")
        if not any(load(v).has_type(type_name) and path_exists(load(v), type_name, text)
                   for v in self.versions):
            self.fail(where, f"{text!r} is not a field path of {type_name} in any offered version")
            return None
        return text

    def unique(self, items: list, where: str) -> bool:
        """Every list of the config: an item given twice is a problem naming its index (a
        doubled version or type is a slip whose intent cannot be guessed)."""
        seen: dict = {}
        ok = True
        for i, item in enumerate(items):
            key = str(item).strip()
            if key in seen:
                self.fail(f"{where}[{i}]", f"{key!r} is given twice (also {where}[{seen[key]}])")
                ok = False
            seen.setdefault(key, i)
        return ok

    def emptied(self, data: dict, key: str, where: str, what: str) -> bool:
        """Is `key` of `data` given empty (`[]`, `{}`, or no value) where an empty one would not
        mean what it says (every organization, or silently nothing)? Then `what` (the line,
        with its remedy) is a problem: an admin who empties a list, or a template that renders
        one, must not widen a flow (review R6 M2). Left out, the key has its default."""
        if key not in data or data[key] not in (None, [], {}):
            return False
        self.fail(where, what)
        return True

    def string_list(self, value: Any, where: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(where, "must be a list")
            return []
        return value
