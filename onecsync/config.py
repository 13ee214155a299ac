"""Load the YAML config into frozen dataclasses, reporting every problem at once.

Public API: `load_config(path, environ)`, `parse_config(data, base_dir, path)`, the dataclasses
below, `DEFAULT_FLOWS`. Each problem is reported with its dotted path
(``bases.crm.transport.path: missing``); unknown keys are errors so that typos fail loudly;
relative paths are resolved against the config file's folder; passwords come only from an
environment variable (``*_env``) or a file (``*_file``), read lazily when a transport needs them.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import re
import stat
import uuid
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from typing import Mapping

import yaml

from onecsync.errors import ConfigError

log = logging.getLogger("onecsync")

DEFAULT_PLAN = "СинхронизацияДанныхЧерезУниверсальныйФормат"
DEFAULT_FORMATS = ("1.8", "1.10", "1.11", "1.12", "1.15", "1.16", "1.17")
PEERS = ("accounting", "crm")
TRANSPORT_KINDS = ("directory",)

DEFAULT_FLOWS: dict[str, tuple[str, ...]] = {
    "pull-catalogs": (
        "Справочник.Организации", "Справочник.БанковскиеСчета", "Справочник.Банки",
        "Справочник.Контрагенты", "Справочник.КонтрагентыГруппа", "Справочник.Договоры",
        "Справочник.Номенклатура", "Справочник.НоменклатураГруппа",
        "Справочник.ГруппыАналитическогоУчетаНоменклатуры", "Справочник.Валюты",
        "Справочник.ТипыЦен", "Справочник.ЕдиницыИзмерения", "Справочник.Пользователи",
        "Справочник.Подразделения",
    ),
    "push-invoices": ("Документ.СчетПокупателю", "Документ.ЗаказКлиента"),
    "pull-settlements": (
        "Документ.РеализацияТоваровУслуг", "Документ.ВозвратТоваровОтПокупателя",
        "Документ.ПБДСРасчетыСКонтрагентами", "Документ.СБДСРасчетыСКонтрагентами",
        "Документ.ПКОРасчетыСКонтрагентами", "Документ.РКОРасчетыСКонтрагентами",
    ),
}

_OBJECT_TYPE = re.compile(r"^(Справочник|Документ)\.[^\s.]+$")


@dataclass(frozen=True)
class Secret:
    """Where a password lives; `reveal()` reads it only when it is needed."""

    env: str | None = None
    file: Path | None = None

    def reveal(self, environ: Mapping[str, str] | None = None) -> str:
        environ = os.environ if environ is None else environ
        if self.env is not None:
            if self.env not in environ:
                raise ConfigError(f"environment variable {self.env} is not set",
                                  remedy="export it in the service's environment")
            return environ[self.env]
        assert self.file is not None
        try:
            if self.file.stat().st_mode & 0o004:
                log.warning("password file %s is readable by every user of this machine "
                            "(chmod o-r it)", self.file)
            return self.file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"cannot read password file {self.file}: {exc.strerror}") from None

    def __repr__(self) -> str:  # never show more than where the secret is
        return f"Secret(env={self.env!r})" if self.env else f"Secret(file={str(self.file)!r})"


@dataclass(frozen=True)
class Transport:
    kind: str
    path: Path
    compress: bool = False
    # 1C's "archive password" (ПарольАрхиваСообщенияОбмена): opens the base's encrypted .zip
    archive_password: Secret | None = None


@dataclass(frozen=True)
class Base:
    name: str
    code: str
    transport: Transport


@dataclass(frozen=True)
class Node:
    code: str
    exchange_plan: str = DEFAULT_PLAN
    formats: tuple[str, ...] = DEFAULT_FORMATS
    prefix: str | None = None


@dataclass(frozen=True)
class Flow:
    name: str
    objects: tuple[str, ...]


@dataclass(frozen=True)
class Config:
    path: Path
    node: Node
    state: Path
    bases: dict[str, Base]
    flows: dict[str, Flow] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        return self.state.parent


def find_config_path(path: str | os.PathLike | None,
                     environ: Mapping[str, str] | None = None) -> Path:
    """--config, else $ONECSYNC_CONFIG, else ./onecsync.yaml (DESIGN.md §3)."""
    environ = os.environ if environ is None else environ
    if path:
        return Path(path)
    if environ.get("ONECSYNC_CONFIG"):
        return Path(environ["ONECSYNC_CONFIG"])
    return Path("onecsync.yaml")


def load_config(path: str | os.PathLike | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    cfg_path = find_config_path(path, environ)
    try:
        text = cfg_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {cfg_path} not found",
                          remedy="pass --config PATH or set ONECSYNC_CONFIG") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {cfg_path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"{cfg_path}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    check_config_mode(cfg_path, _secret_files(data))
    return parse_config(data, cfg_path.resolve().parent, cfg_path)


def check_config_mode(path: Path, secret_files: list[str]) -> None:
    """Refuse a config others may edit; warn when others may read where the secrets are.

    Whoever can edit the config can point onecsync at other folders, bases and secret files.
    A group-writable file is accepted only when the group is the owner's own (the "user private
    group" of a umask 002 system, where a fresh clone's files are 0664).
    """
    try:
        st = os.stat(path)
    except OSError:
        return  # it was just read; a race is not worth a second error
    mode = stat.S_IMODE(st.st_mode)
    who = "everyone" if mode & 0o002 else "its group" if mode & 0o020 and \
        not _private_group(st) else None
    if who:
        raise ConfigError(f"config file {path} is writable by {who} (mode {mode:04o}): whoever "
                          "can edit it can redirect the exchange",
                          remedy=f"chmod go-w {path}")
    if mode & 0o004 and secret_files:
        log.warning("config file %s is readable by every user (mode %04o) and names the secret "
                    "file(s) %s: chmod o-r it", path, mode, ", ".join(secret_files))


def _private_group(st: os.stat_result) -> bool:
    try:
        owner = pwd.getpwuid(st.st_uid)
        group = grp.getgrgid(st.st_gid)
    except KeyError:
        return False
    return (owner.pw_gid == st.st_gid and group.gr_name == owner.pw_name
            and set(group.gr_mem) <= {owner.pw_name})


def _secret_files(data: Any) -> list[str]:
    """Every `*_file` value in the raw YAML: the places secrets are read from."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and key.endswith("_file") and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_secret_files(value))
    elif isinstance(data, list):
        for item in data:
            found.extend(_secret_files(item))
    return found


def parse_config(data: Any, base_dir: Path, path: Path) -> Config:
    v = _Validator(base_dir)
    cfg = v.config(data, path)
    if v.problems:
        noun = "problem" if len(v.problems) == 1 else "problems"
        raise ConfigError(f"{path}: {len(v.problems)} {noun}: " + "; ".join(v.problems),
                          problems=v.problems)
    assert cfg is not None
    return cfg


class _Validator:
    """Walks the YAML tree once, collecting problems instead of stopping at the first."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.problems: list[str] = []

    def fail(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def mapping(self, value: Any, where: str, known: tuple[str, ...]) -> dict:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.fail(where, f"must be a mapping, not {type(value).__name__}")
            return {}
        for key in value:
            if key not in known:
                hint = ""
                if isinstance(key, str) and (key in ("pass", "secret") or key.endswith("password")):
                    hint = (f" (plaintext passwords are not allowed: use {key}_env or {key}_file)"
                            if key.endswith("password") else
                            " (plaintext passwords are not allowed: use password_env or password_file)")
                self.fail(f"{where}.{key}" if where else str(key), "unknown key" + hint)
        return value

    def string(self, value: Any, where: str, *, required: bool = True) -> str | None:
        if value is None:
            if required:
                self.fail(where, "missing")
            return None
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            self.fail(where, f"must be a string, not {type(value).__name__}")
            return None
        text = str(value).strip()
        if not text:
            self.fail(where, "must not be empty")
            return None
        return text

    def code(self, value: Any, where: str) -> str | None:
        text = self.string(value, where)
        if text is None:
            return None
        try:
            uuid.UUID(text)
        except ValueError:
            self.fail(where, f"{text!r} is not a node code (1C node codes are UUIDs, "
                             "e.g. 8d0e3a9c-5b7f-4c1e-9a2d-3f4b5c6d7e8f)")
            return None
        return text.lower()

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
        return p if p.is_absolute() else self.base_dir / p

    def config(self, data: Any, path: Path) -> Config | None:
        if data is None:
            self.fail("(top)", "the file is empty")
            return None
        top = self.mapping(data, "", ("node", "state", "bases", "flows"))
        if not isinstance(data, dict):
            return None
        node = self.node(top.get("node"))
        state = self.path(top.get("state", "onecsync-state.sqlite"), "state")
        bases = self.bases(top.get("bases"))
        flows = self.flows(top.get("flows"))
        if node and bases:
            codes = [node.code] + [b.code for b in bases.values()]
            if len(set(codes)) != len(codes):
                self.fail("bases", "node.code and the bases' codes must all differ")
        if self.problems or node is None or state is None or bases is None:
            return None
        return Config(path=path, node=node, state=state, bases=bases, flows=flows)

    def node(self, data: Any) -> Node | None:
        if data is None:
            self.fail("node", "missing")
            return None
        d = self.mapping(data, "node", ("code", "exchange_plan", "formats", "prefix"))
        code = self.code(d.get("code"), "node.code")
        plan = self.string(d.get("exchange_plan", DEFAULT_PLAN), "node.exchange_plan")
        formats = self.formats(d.get("formats"))
        prefix = self.string(d.get("prefix"), "node.prefix", required=False)
        if prefix is not None and len(prefix) > 2:
            self.fail("node.prefix", "1C infobase prefixes are at most 2 characters")
        if code is None or plan is None or formats is None:
            return None
        return Node(code=code, exchange_plan=plan, formats=formats, prefix=prefix)

    def formats(self, data: Any) -> tuple[str, ...] | None:
        from onecsync.formats import VERSIONS
        from onecsync.formats import version_key

        if data is None:
            return DEFAULT_FORMATS
        if not isinstance(data, list) or not data:
            self.fail("node.formats", "must be a non-empty list of versions like \"1.8\"")
            return None
        out = []
        for i, item in enumerate(data):
            v = str(item).strip()
            if v not in VERSIONS:
                self.fail(f"node.formats[{i}]", f"{v!r} is not a supported EnterpriseData "
                                                f"version ({', '.join(VERSIONS)})")
            elif v not in out:
                out.append(v)
        return tuple(sorted(out, key=version_key)) if len(out) == len(data) else None

    def bases(self, data: Any) -> dict[str, Base] | None:
        if data is None:
            self.fail("bases", "missing")
            return None
        d = self.mapping(data, "bases", PEERS)
        out: dict[str, Base] = {}
        for name in PEERS:
            where = f"bases.{name}"
            if name not in d:
                self.fail(where, "missing")
                continue
            b = self.mapping(d[name], where, ("code", "transport"))
            code = self.code(b.get("code"), f"{where}.code")
            transport = self.transport(b.get("transport"), f"{where}.transport")
            if code and transport:
                out[name] = Base(name=name, code=code, transport=transport)
        return out if len(out) == len(PEERS) else None

    def transport(self, data: Any, where: str) -> Transport | None:
        if data is None:
            self.fail(where, "missing")
            return None
        d = self.mapping(data, where, ("kind", "path", "compress", "archive_password_env",
                                       "archive_password_file"))
        kind = self.string(d.get("kind"), f"{where}.kind")
        if kind is not None and kind not in TRANSPORT_KINDS:
            self.fail(f"{where}.kind", f"{kind!r} is not one of: {', '.join(TRANSPORT_KINDS)}")
            kind = None
        path = self.path(d.get("path"), f"{where}.path")
        compress = self.boolean(d.get("compress"), f"{where}.compress", False)
        password = self.secret(d, "archive_password", where)
        if kind is None or path is None:
            return None
        return Transport(kind=kind, path=path, compress=compress, archive_password=password)

    def secret(self, d: dict, name: str, where: str) -> Secret | None:
        env, file = d.get(f"{name}_env"), d.get(f"{name}_file")
        if env is not None and file is not None:
            self.fail(f"{where}.{name}_env", f"give either {name}_env or {name}_file, not both")
            return None
        if env is not None:
            text = self.string(env, f"{where}.{name}_env")
            return Secret(env=text) if text else None
        if file is not None:
            path = self.path(file, f"{where}.{name}_file")
            return Secret(file=path) if path else None
        return None

    def flows(self, data: Any) -> dict[str, Flow]:
        d = self.mapping(data, "flows", tuple(DEFAULT_FLOWS))
        out = {}
        for name, default in DEFAULT_FLOWS.items():
            where = f"flows.{name}"
            f = self.mapping(d.get(name), where, ("objects",))
            objects = f.get("objects", list(default))
            if not isinstance(objects, list) or not objects:
                self.fail(f"{where}.objects", "must be a non-empty list of object types")
                objects = list(default)
            for i, obj in enumerate(objects):
                if not isinstance(obj, str) or not _OBJECT_TYPE.match(obj):
                    self.fail(f"{where}.objects[{i}]",
                              f"{obj!r} is not an object type like Справочник.Контрагенты")
            out[name] = Flow(name=name, objects=tuple(str(o) for o in objects))
        return out
