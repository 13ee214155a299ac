"""Load the YAML config into frozen dataclasses, reporting every problem at once.

Public API: `load_config(path, environ)`, `parse_config(data, base_dir, path)`, the dataclasses
below, `DEFAULT_FLOWS`. Each problem is reported with its dotted path
(``bases.crm.transport.path: missing``); unknown keys are errors so that typos fail loudly;
relative paths are resolved against the config file's folder; passwords come only from an
environment variable (``*_env``) or a file (``*_file``), read lazily when a transport needs them
(onecsync/secret.py; `Secret` is importable from here too). The YAML text goes through yamlsafe.py.
"""

from __future__ import annotations

import difflib
import grp
import logging
import math
import os
import pwd
import re
import stat
import uuid
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import Mapping
from urllib.parse import urlsplit

from onecsync import addresses
from onecsync import topology
from onecsync import yamlsafe
from onecsync.errors import ConfigError
from onecsync.files import read_small
from onecsync.i18n import N_
from onecsync.places import forbidden_place
from onecsync.places import too_long
from onecsync.secret import Secret

if TYPE_CHECKING:  # imported where a mapping is read: lxml and the formats are not cheap to load
    from onecsync.mapping import TypeRules

log = logging.getLogger("onecsync")

DEFAULT_PLAN = "СинхронизацияДанныхЧерезУниверсальныйФормат"
DEFAULT_FORMATS = ("1.8", "1.10", "1.11", "1.12", "1.15", "1.16", "1.17")
PEERS = topology.PEERS
TRANSPORT_KINDS = ("directory", "ftp", "http")
DEFAULT_SETTLE_MINUTES = 10.0
# A first exchange of a million objects took under 10 minutes on 2 shared cores (README,
# "Performance"): an hour leaves a slower host room for it, and stops a stuck run long before
# a day of 5-minute timer runs has exited 8.
DEFAULT_RUN_TIMEOUT = 3600.0
CONFIG_FILE_CAP = 1024 * 1024  # a full config with a large mapping section is ~100 KiB
# Keys each transport kind takes; a secret `x` is written `x_env` or `x_file`.
_TRANSPORT_KEYS = {
    "directory": ("path", "compress", "archive_password", "settle_minutes"),
    "ftp": ("host", "port", "user", "password", "folder", "passive", "tls", "ca_file", "timeout",
            "compress", "archive_password", "settle_minutes"),
    "http": ("url", "user", "password", "connect_timeout", "read_timeout", "part_size",
             "wait_timeout", "ca_file", "archive_password"),
}

# The flows and their defaults are those of the topology table (onecsync/topology.py).
DEFAULT_FLOWS: dict[str, tuple[str, ...]] = {f.name: f.default_types for f in topology.FLOWS}

_OBJECT_TYPE = re.compile(r"^(Справочник|Документ)\.[^\s.]+$")


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
    # A whole run's ceiling: a week at most; 0 switches the ceiling off.
    "run_timeout": Range(0, 7 * 86400, "seconds; 0: no ceiling"),
}
@dataclass(frozen=True)
class Transport:
    """One base's transport; which fields are used depends on `kind` (see _TRANSPORT_KEYS)."""

    kind: str
    path: Path | None = None              # directory
    compress: bool = False                # directory, ftp
    archive_password: Secret | None = None  # 1C's "пароль архива сообщения" (any kind)
    url: str | None = None                # http: the base's publication, e.g. http://host/bp
    host: str | None = None               # ftp
    port: int | None = None               # ftp (21)
    user: str | None = None               # ftp, http
    password: Secret | None = None        # ftp, http
    folder: str = "/"                     # ftp: the exchange folder on the server
    passive: bool = True                  # ftp
    tls: bool = False                     # ftp: explicit TLS (AUTH TLS, then PROT P)
    ca_file: Path | None = None           # ftp, http: CA bundle for a server's own certificate
    timeout: float = 60.0                 # ftp: seconds per network operation
    connect_timeout: float = 10.0         # http
    read_timeout: float = 180.0           # http: 1C's own HTTP transport waits 180 s
    part_size: int = 1024                 # http: KiB per part, as 1C sends
    wait_timeout: float = 1800.0          # http: longest wait for the base's export/import
    # directory, ftp: how long a message that looks unfinished (the base still writing it) must
    # stay the same before it is rejected (quarantine.py)
    settle_minutes: float = DEFAULT_SETTLE_MINUTES


_PLACE = {"directory": "folder", "ftp": "FTP folder", "http": "web publication"}


def _place(t: Transport) -> tuple | None:
    """Where a transport's messages are, so that two can be compared: a folder as the file
    system resolves it (`exchange/../exchange/bp/` is `exchange/bp`), a server by host, port
    and folder or path."""
    if t.kind == "directory" and t.path is not None:
        return ("directory", os.path.realpath(t.path))
    if t.kind == "ftp" and t.host:
        folder = os.path.normpath("/" + t.folder.strip().strip("/"))
        return ("ftp", t.host.lower(), t.port or 21, folder)
    if t.kind == "http" and t.url:
        u = urlsplit(t.url)
        return ("http", (u.hostname or "").lower(), u.port, u.path.rstrip("/"))
    return None


def _shown_place(t: Transport) -> str:
    if t.kind == "directory":
        return os.path.realpath(t.path)
    return t.url or f"{t.host}{'/' + t.folder.strip('/') if t.folder.strip('/') else ''}"


@dataclass(frozen=True)
class OData:
    """A base's standard OData interface, read-only (odata.md)."""

    url: str
    user: str
    password: Secret | None = None
    timeout: float = 120.0
    # Object type -> entity set that holds it in this base, over the built-in names (reconcile).
    entities: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Base:
    name: str
    code: str
    transport: Transport
    odata: OData | None = None


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
    organizations: tuple[str, ...] = ()       # ИНН of the organizations it carries; () = all
    links: dict[str, tuple[str, ...]] = field(default_factory=dict)  # a flow with links only


@dataclass(frozen=True)
class Config:
    path: Path
    node: Node
    state: Path
    bases: dict[str, Base]
    flows: dict[str, Flow] = field(default_factory=dict)
    mapping: dict[str, dict[str, TypeRules]] = field(default_factory=dict)  # peer -> type -> rules
    healthcheck_url: Secret | None = None  # pinged at /start and /<exit code> of every run
    run_timeout: float = DEFAULT_RUN_TIMEOUT  # seconds for a whole run; 0: no ceiling
    metrics_file: Path | None = None       # node_exporter textfile written after every run

    @property
    def state_dir(self) -> Path:
        return self.state.parent


# The root the system-wide config lives under: a seam for tests, "/" on a real host.
SYSTEM_ROOT = Path("/")
CONFIG_NAME = "onecsync.yaml"


def config_search(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where a config is looked for when neither --config nor $ONECSYNC_CONFIG names one, in
    order: ./onecsync.yaml, /etc/onecsync/onecsync.yaml, $XDG_CONFIG_HOME/onecsync/onecsync.yaml
    ($XDG_CONFIG_HOME unset, empty or relative: ~/.config, as the XDG spec says)."""
    environ = os.environ if environ is None else environ
    places = [Path(CONFIG_NAME), SYSTEM_ROOT / "etc" / "onecsync" / CONFIG_NAME]
    xdg = environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(xdg):
        xdg = os.path.join(environ["HOME"], ".config") if environ.get("HOME") else ""
    if xdg:
        places.append(Path(xdg) / "onecsync" / CONFIG_NAME)
    return places


def find_config_path(path: str | os.PathLike | None,
                     environ: Mapping[str, str] | None = None) -> Path:
    """--config, else $ONECSYNC_CONFIG, else the first of `config_search` that exists (none:
    ./onecsync.yaml, which load_config reports as not found, naming every place). DESIGN.md §3."""
    environ = os.environ if environ is None else environ
    if path:
        return Path(path)
    if environ.get("ONECSYNC_CONFIG"):
        return Path(environ["ONECSYNC_CONFIG"])
    places = config_search(environ)
    for p in places:
        why = too_long(p, tail=0)
        if why:
            variable = "XDG_CONFIG_HOME" if environ.get("XDG_CONFIG_HOME") else "HOME"
            raise ConfigError(f"the config place {str(p)[:60]}… (from ${variable}) {why}",
                              remedy=f"set {variable} to a shorter path, or pass --config PATH")
        if p.exists():
            return p
    return places[0]


def load_config(path: str | os.PathLike | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    environ = os.environ if environ is None else environ
    cfg_path = find_config_path(path, environ)
    try:
        text = read_small(cfg_path, CONFIG_FILE_CAP).decode("utf-8")
    except FileNotFoundError:
        searched = not path and not environ.get("ONECSYNC_CONFIG")
        where = (f"no config file found (looked for {', '.join(map(str, config_search(environ)))})"
                 if searched else f"config file {cfg_path} not found")
        raise ConfigError(where, remedy="pass --config PATH or set ONECSYNC_CONFIG") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {cfg_path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {cfg_path} is not UTF-8 text (byte {exc.start})",
                          remedy="save it as UTF-8") from None
    data = yamlsafe.load(text, str(cfg_path))
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


_NOT_SECRET = ("metrics_file",)  # a *_file key we write, not a secret we read


def _secret_files(data: Any) -> list[str]:
    """Every `*_file` value in the raw YAML: the places secrets are read from."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and key.endswith("_file") and key not in _NOT_SECRET \
                    and isinstance(value, str):
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
        listed = "; ".join(v.problems)
        raise ConfigError(f"{path}: 1 problem: {listed}" if len(v.problems) == 1 else
                          f"{path}: {len(v.problems)} problems: {listed}", problems=v.problems)
    assert cfg is not None
    return cfg


class _Validator:
    """Walks the YAML tree once, collecting problems instead of stopping at the first."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.problems: list[str] = []

    def fail(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def mapping(self, value: Any, where: str, known: tuple[str, ...] | None = None) -> dict:
        """A YAML mapping; with `known`, any other key is a problem."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.fail(where, f"must be a mapping, not {type(value).__name__}")
            return {}
        for key in value:
            if known is not None and key not in known:
                hint = ""
                if isinstance(key, str) and (key in ("pass", "secret") or key.endswith("password")):
                    hint = (f" (plaintext passwords are not allowed: use {key}_env or {key}_file)"
                            if key.endswith("password") else
                            " (plaintext passwords are not allowed: use password_env or password_file)")
                elif close := difflib.get_close_matches(str(key), known, n=1, cutoff=0.75):
                    hint = f" (did you mean {close[0]}?)"
                self.fail(f"{where}.{key}" if where else str(key), "unknown key" + hint)
        return value

    def string(self, value: Any, where: str, *, required: bool = True,
               one_line: bool = True) -> str | None:
        """A scalar as text. Every value but a mapping's field values is one line: a line
        break in a URL, a host, a folder or a user is a slip (or an injected FTP command)."""
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
        if one_line and (problem := addresses.control_problem(text)):
            self.fail(where, problem)
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

    def config(self, data: Any, path: Path) -> Config | None:
        if data is None:
            self.fail("(top)", "the file is empty")
            return None
        top = self.mapping(data, "", ("node", "state", "bases", "flows", "mapping",
                                      "healthcheck_url", "healthcheck_url_env",
                                      "healthcheck_url_file", "metrics_file", "run_timeout"))
        if not isinstance(data, dict):
            return None
        node = self.node(top.get("node"))
        state = self.path(top.get("state", "onecsync-state.sqlite"), "state")
        bases = self.bases(top.get("bases"))
        self.versions = node.formats if node else DEFAULT_FORMATS
        flows = self.flows(top.get("flows"))
        mapping = self.mapping_section(top.get("mapping"))
        healthcheck = self.secret(top, "", "healthcheck_url", plain=True)
        run_timeout = float(self.number(top, "", "run_timeout", DEFAULT_RUN_TIMEOUT))
        if healthcheck and healthcheck.value:
            if not healthcheck.value.startswith(("http://", "https://")):
                self.fail("healthcheck_url", "must be an http:// or https:// URL")
            elif self.no_credentials(healthcheck.value, "healthcheck_url") and \
                    (problem := addresses.url_problem(healthcheck.value)):
                self.fail("healthcheck_url", problem)
        if state is not None and bases:
            self.state_apart(state, bases)
        metrics = self.metrics_file(top.get("metrics_file"))
        if metrics is not None and state is not None and bases:
            self.metrics_apart(metrics, state, path, bases)
        if node and bases:
            codes = [node.code] + [b.code for b in bases.values()]
            if len(set(codes)) != len(codes):
                self.fail("bases", "node.code and the bases' codes must all differ")
            self.distinct_places(bases)
        if self.problems or node is None or state is None or bases is None:
            return None
        return Config(path=path, node=node, state=state, bases=bases, flows=flows,
                      mapping=mapping, healthcheck_url=healthcheck, metrics_file=metrics,
                      run_timeout=run_timeout)

    def metrics_file(self, value: Any) -> Path | None:
        if value is None:
            return None
        path = self.path(value, "metrics_file")
        if path is not None and path.suffix != ".prom":
            # node_exporter's textfile collector reads *.prom only: another name is never seen.
            self.fail("metrics_file", f"{path.name!r} must end in .prom (node_exporter's textfile "
                                      "collector reads only *.prom files)")
            return None
        return path

    def metrics_apart(self, metrics: Path, state: Path, path: Path,
                      bases: dict[str, Base]) -> None:
        """The metrics file is replaced by a rename every run: never over a file of ours, never
        in a folder others write to (places.forbidden_place)."""
        folders = {n: b.transport.path for n, b in bases.items()
                   if b.transport.kind == "directory" and b.transport.path is not None}
        why = forbidden_place(metrics, state, path, folders)
        if why:
            self.fail("metrics_file", f"{metrics} {why}: point it at node_exporter's textfile "
                                      "folder, outside the state's files and every exchange folder")

    def state_apart(self, state: Path, bases: dict[str, Base]) -> None:
        """The state's folder must not be (inside) an exchange folder: the base's users
        (and a rename of ours) could replace the state, its lock or its -wal there, or 1C would
        read our state as messages. Judged on real paths (links and `..` resolved)."""
        mine = state.parent.resolve()
        for name, base in bases.items():
            if base.transport.kind != "directory" or base.transport.path is None:
                continue
            theirs = base.transport.path.resolve()
            # (An exchange folder below the state's folder is the usual layout beside the
            # config, and the state's own names there are not 1C's: that one is allowed.)
            if mine != theirs and theirs not in mine.parents:
                continue
            self.fail("state", f"{state} is in the exchange folder bases.{name}.transport.path "
                               f"({theirs}): "
                               "keep the state in a folder of its own, outside every exchange "
                               "folder")

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
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                self.fail(f"node.formats[{i}]", f"{item!r} is read by YAML as a number "
                                                "(1.10 becomes 1.1): quote the version "
                                                "('1.10'), as in [\"1.8\", \"1.10\"]")
            elif v not in VERSIONS:
                self.fail(f"node.formats[{i}]", f"{v!r} is not a supported EnterpriseData "
                                                f"version ({', '.join(VERSIONS)})")
            else:
                out.append(v)
        if not self.unique(data, "node.formats"):
            return None
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
            b = self.mapping(d[name], where, ("code", "transport", "odata"))
            code = self.code(b.get("code"), f"{where}.code")
            transport = self.transport(b.get("transport"), f"{where}.transport")
            odata = self.odata(b.get("odata"), f"{where}.odata")
            if code and transport:
                out[name] = Base(name=name, code=code, transport=transport, odata=odata)
        return out if len(out) == len(PEERS) else None

    def distinct_places(self, bases: dict[str, Base]) -> None:
        """Two bases exchanging in one place would each read the other's messages, or none: one
        of them is refused as misaddressed every run, or nothing at all is said."""
        (a, ta), (b, tb) = ((n, base.transport) for n, base in bases.items())
        same = _place(ta) is not None and _place(ta) == _place(tb)
        if not same and ta.kind == tb.kind == "directory":
            try:
                same = os.path.samefile(ta.path, tb.path)  # a bind mount, a link to the folder
            except OSError:
                pass  # one is missing: run and check say so
        if same:
            self.fail(f"bases.{b}.transport", f"the same {_PLACE[ta.kind]} as bases.{a}.transport "
                      f"({_shown_place(ta)}): give each base its own {_PLACE[ta.kind]}, the one "
                      "set in that base's exchange settings")

    def transport(self, data: Any, where: str) -> Transport | None:
        if data is None:
            self.fail(where, "missing")
            return None
        if not isinstance(data, dict):
            self.mapping(data, where, ())
            return None
        kind = self.string(data.get("kind"), f"{where}.kind")
        if kind is not None and kind not in TRANSPORT_KINDS:
            self.fail(f"{where}.kind", f"{kind!r} is not one of: {', '.join(TRANSPORT_KINDS)}")
            kind = None
        # With an unknown kind, only keys no kind takes are worth reporting.
        allowed = _TRANSPORT_KEYS[kind] if kind else tuple(k for ks in _TRANSPORT_KEYS.values()
                                                           for k in ks)
        known = ("kind",) + tuple(k for key in allowed for k in self._secret_keys(key))
        if "archive_password" in data:
            self.fail(f"{where}.archive_password", "plaintext passwords are not allowed: use "
                                                   "archive_password_env or archive_password_file")
            data = {k: v for k, v in data.items() if k != "archive_password"}
        d = self.mapping(data, where, known)
        if kind == "directory":
            return self._directory(d, where)
        if kind == "ftp":
            return self._ftp(d, where)
        if kind == "http":
            return self._http(d, where)
        return None

    @staticmethod
    def _secret_keys(key: str) -> tuple[str, ...]:
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

    def _directory(self, d: dict, where: str) -> Transport | None:
        path = self.path(d.get("path"), f"{where}.path")
        compress = self.boolean(d.get("compress"), f"{where}.compress", False)
        archive = self.secret(d, where, "archive_password", required=False)
        settle = float(self.number(d, where, "settle_minutes", DEFAULT_SETTLE_MINUTES))
        if path is None:
            return None
        return Transport(kind="directory", path=path, compress=compress, archive_password=archive,
                         settle_minutes=settle)

    def _ftp(self, d: dict, where: str) -> Transport | None:
        host = self.string(d.get("host"), f"{where}.host")
        if host is not None and not self.no_credentials(host, f"{where}.host"):
            host = None
        elif host is not None and (problem := addresses.host_problem(host)):
            self.fail(f"{where}.host", problem)
            host = None
        elif host is not None:
            host = host.removeprefix("[").removesuffix("]")  # as the socket takes an IPv6 one
        port = int(self.number(d, where, "port", 21))
        user = self.string(d.get("user", "anonymous"), f"{where}.user")
        password = self.secret(d, where, "password", required=False)
        folder = self.string(d.get("folder", "/"), f"{where}.folder")
        passive = self.boolean(d.get("passive"), f"{where}.passive", True)
        tls = self.boolean(d.get("tls"), f"{where}.tls", False)
        ca_file = self.ca_file(d, where)
        timeout = self.number(d, where, "timeout", 60.0)
        compress = self.boolean(d.get("compress"), f"{where}.compress", False)
        archive = self.secret(d, where, "archive_password", required=False)
        settle = float(self.number(d, where, "settle_minutes", DEFAULT_SETTLE_MINUTES))
        if host is None or user is None or folder is None:
            return None
        return Transport(kind="ftp", host=host, port=port, user=user, password=password,
                         folder=folder, passive=passive, tls=tls, ca_file=ca_file, timeout=timeout,
                         compress=compress, archive_password=archive, settle_minutes=settle)

    def _http(self, d: dict, where: str) -> Transport | None:
        url = self.url(d.get("url"), f"{where}.url", ("http", "https"))
        user = self.string(d.get("user"), f"{where}.user")
        password = self.secret(d, where, "password", required=True)
        connect = self.number(d, where, "connect_timeout", 10.0)
        read = self.number(d, where, "read_timeout", 180.0)
        part = int(self.number(d, where, "part_size", 1024))
        wait = self.number(d, where, "wait_timeout", 1800.0)
        ca_file = self.ca_file(d, where)
        # A base's archive password is a setting of its node, whatever the transport: its
        # zips come protected over HTTP too.
        archive = self.secret(d, where, "archive_password", required=False)
        if url is None or user is None or password is None:
            return None
        return Transport(kind="http", url=url, user=user, password=password,
                         connect_timeout=connect, read_timeout=read, part_size=part,
                         wait_timeout=wait, ca_file=ca_file, archive_password=archive)

    def odata(self, data: Any, where: str) -> OData | None:
        if data is None:
            return None
        d = self.mapping(data, where, ("url", "user", "password_env", "password_file", "timeout",
                                       "entities"))
        url = self.url(d.get("url"), f"{where}.url", ("http", "https"))
        user = self.string(d.get("user"), f"{where}.user")
        password = self.secret(d, where, "password", required=True)
        timeout = self.number(d, where, "timeout", 120.0)
        entities = {}
        for type_name, entity_set in self.mapping(d.get("entities"), f"{where}.entities").items():
            if not isinstance(type_name, str) or not _OBJECT_TYPE.match(type_name):
                self.fail(f"{where}.entities.{type_name}", "is not an object type like Документ.ЗаказКлиента")
            elif (name := self.string(entity_set, f"{where}.entities.{type_name}")) is not None:
                entities[type_name] = name
        if url is None or user is None or password is None:
            return None
        return OData(url=url, user=user, password=password, timeout=timeout, entities=entities)

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

    def string_list(self, value: Any, where: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(where, "must be a list")
            return []
        return value

    def flows(self, data: Any) -> dict[str, Flow]:
        d = self.mapping(data, "flows", topology.flow_names())
        out = {}
        for spec in topology.FLOWS:
            name, default, where = spec.name, spec.default_types, f"flows.{spec.name}"
            known = ("objects", "organizations") + (("links",) if spec.links is not None else ())
            f = self.mapping(d.get(name), where, known)
            objects = f.get("objects", list(default))
            if not isinstance(objects, list) or not objects:
                self.fail(f"{where}.objects", "must be a non-empty list of object types")
                objects = list(default)
            for i, obj in enumerate(objects):
                if not isinstance(obj, str) or not _OBJECT_TYPE.match(obj):
                    self.fail(f"{where}.objects[{i}]",
                              f"{obj!r} is not an object type like Справочник.Контрагенты")
            self.unique(objects, f"{where}.objects")
            orgs = []
            for i, inn in enumerate(self.string_list(f.get("organizations"), f"{where}.organizations")):
                text = str(inn).strip()
                if not re.fullmatch(r"\d{10}|\d{12}", text):
                    self.fail(f"{where}.organizations[{i}]", f"{text!r} is not an ИНН (10 or 12 digits)")
                orgs.append(text)
            self.unique(orgs, f"{where}.organizations")
            links = {}
            if spec.links is not None:
                links = self.links(f.get("links"), f"{where}.links", objects, spec.links)
            out[name] = Flow(name=name, objects=tuple(str(o) for o in objects),
                             organizations=tuple(orgs), links=links)
        return out

    def links(self, data: Any, where: str, objects: list,
              defaults: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        """Configured link paths are added to the defaults (an admin adds one, loses none)."""
        out = {t: defaults.get(t, ()) for t in objects if isinstance(t, str)}
        d = self.mapping(data, where, tuple(out))
        for type_name, paths in d.items():
            self.unique(self.string_list(paths, f"{where}.{type_name}"), f"{where}.{type_name}")
            for i, path in enumerate(self.string_list(paths, f"{where}.{type_name}")):
                checked = self.object_path(type_name, path, f"{where}.{type_name}[{i}]")
                if checked and checked not in out[type_name]:
                    out[type_name] += (checked,)
        return out

    def mapping_section(self, data: Any) -> dict[str, dict[str, TypeRules]]:
        d = self.mapping(data, "mapping", PEERS)
        out: dict[str, dict[str, TypeRules]] = {}
        if d:
            from onecsync.mapping import TypeRules
        for peer, types in d.items():
            where = f"mapping.{peer}"
            if not isinstance(types, dict):
                self.fail(where, "must map object types to rules")
                continue
            for type_name, raw in types.items():
                tw = f"{where}.{type_name}"
                if not isinstance(type_name, str) or not _OBJECT_TYPE.match(type_name):
                    self.fail(tw, "is not an object type like Справочник.Номенклатура")
                    continue
                r = self.mapping(raw, tw, ("drop", "set", "values"))
                drop = tuple(p for i, p in enumerate(self.string_list(r.get("drop"), f"{tw}.drop"))
                             if self.object_path(type_name, p, f"{tw}.drop[{i}]"))
                self.unique(self.string_list(r.get("drop"), f"{tw}.drop"), f"{tw}.drop")
                sets = []
                for path, value in self.mapping(r.get("set"), f"{tw}.set").items():
                    if self.object_path(type_name, path, f"{tw}.set.{path}"):
                        sets.append((str(path).strip("/"),
                                     self.string(value, f"{tw}.set.{path}", one_line=False) or ""))
                values = []
                for path, table in self.mapping(r.get("values"), f"{tw}.values").items():
                    if not isinstance(table, dict) or not table:
                        self.fail(f"{tw}.values.{path}", "must map old values to new ones")
                        continue
                    if self.object_path(type_name, path, f"{tw}.values.{path}"):
                        values.append((str(path).strip("/"),
                                       tuple((str(k), str(v)) for k, v in table.items())))
                out.setdefault(peer, {})[type_name] = TypeRules(drop=drop, set=tuple(sets),
                                                                values=tuple(values))
        return out
