"""What a valid config is: frozen dataclasses, one per section, one per transport kind.

Public API: `Config`, `Node`, `Base`, `DirectoryConfig`, `FtpConfig`, `HttpConfig` (and
`Transport`, their union), `OData`, `Flow`, `exchange_folders(bases)`; the defaults (`DEFAULT_PLAN`, `DEFAULT_FORMATS`,
`DEFAULT_FLOWS`, ...), `PEERS`, `TRANSPORT_KINDS`. A value of these types has
passed every check (sections.py): a field a kind needs is there, never None.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import ClassVar
from typing import Union
from urllib.parse import urlsplit

from onecsync import topology
from onecsync.secret import Secret

if TYPE_CHECKING:  # imported where a mapping is read: lxml and the formats are not cheap to load
    from onecsync.mapping import TypeRules

DEFAULT_PLAN = "СинхронизацияДанныхЧерезУниверсальныйФормат"
DEFAULT_FORMATS = ("1.8", "1.10", "1.11", "1.12", "1.15", "1.16", "1.17")
PEERS = topology.PEERS
DEFAULT_SETTLE_MINUTES = 10.0
DEFAULT_MAX_MESSAGE_MIB = 4096  # a few GiB: a real 1C message is far smaller
# A first exchange of a million objects took under 10 minutes on 2 shared cores (README,
# "Performance"): an hour leaves a slower host room for it, and stops a stuck run long before
# a day of 5-minute timer runs has exited 8.
DEFAULT_RUN_TIMEOUT = 3600.0

# The flows and their defaults are those of the topology table (onecsync/topology.py).
DEFAULT_FLOWS: dict[str, tuple[str, ...]] = {f.name: f.default_types for f in topology.FLOWS}


# -- transports: the keys each kind takes are its fields (a secret `x` is written `x_env` or
# `x_file`). `place()` says where a transport's messages are, so that two can be compared;
# `shown()` is how an error line names that place, `noun` what it is called there.
@dataclass(frozen=True)
class DirectoryConfig:
    """kind: directory — a folder the base reads and writes."""

    kind: ClassVar[str] = "directory"
    noun: ClassVar[str] = "folder"
    path: Path
    compress: bool = False
    archive_password: Secret | None = None  # 1C's "пароль архива сообщения" (any kind)
    # How long a message that looks unfinished (the base still writing it) must stay the same
    # before it is rejected (quarantine.py).
    settle_minutes: float = DEFAULT_SETTLE_MINUTES
    max_message_mib: int = DEFAULT_MAX_MESSAGE_MIB  # the largest base's file read

    def place(self) -> tuple:
        # as the file system resolves it: `exchange/../exchange/bp/` is `exchange/bp`
        return ("directory", os.path.realpath(self.path))

    def shown(self) -> str:
        return os.path.realpath(self.path)


@dataclass(frozen=True)
class FtpConfig:
    """kind: ftp — a folder on an FTP server."""

    kind: ClassVar[str] = "ftp"
    noun: ClassVar[str] = "FTP folder"
    host: str
    port: int = 21
    user: str = "anonymous"
    password: Secret | None = None
    folder: str = "/"                     # the exchange folder on the server
    passive: bool = True
    tls: bool = False                     # explicit TLS (AUTH TLS, then PROT P)
    ca_file: Path | None = None           # CA bundle for a server's own certificate
    timeout: float = 60.0                 # seconds per network operation
    compress: bool = False
    archive_password: Secret | None = None
    settle_minutes: float = DEFAULT_SETTLE_MINUTES
    max_message_mib: int = DEFAULT_MAX_MESSAGE_MIB  # one download's cap

    def place(self) -> tuple:
        folder = os.path.normpath("/" + self.folder.strip().strip("/"))
        return ("ftp", self.host.lower(), self.port, folder)

    def shown(self) -> str:
        return f"{self.host}{'/' + self.folder.strip('/') if self.folder.strip('/') else ''}"


@dataclass(frozen=True)
class HttpConfig:
    """kind: http — the base's publication of 1C's exchange web service."""

    kind: ClassVar[str] = "http"
    noun: ClassVar[str] = "web publication"
    url: str                              # the base's publication, e.g. http://host/bp
    user: str
    password: Secret
    connect_timeout: float = 10.0
    read_timeout: float = 180.0           # 1C's own HTTP transport waits 180 s
    part_size: int = 1024                 # KiB per part, as 1C sends
    wait_timeout: float = 1800.0          # longest wait for the base's export/import
    max_message_mib: int = DEFAULT_MAX_MESSAGE_MIB  # one download's cap
    ca_file: Path | None = None
    # A base's archive password is a setting of its node, whatever the transport: its zips come
    # protected over HTTP too.
    archive_password: Secret | None = None

    def place(self) -> tuple:
        u = urlsplit(self.url)
        return ("http", (u.hostname or "").lower(), u.port, u.path.rstrip("/"))

    def shown(self) -> str:
        return self.url


Transport = Union[DirectoryConfig, FtpConfig, HttpConfig]
TRANSPORTS: dict[str, type[DirectoryConfig] | type[FtpConfig] | type[HttpConfig]] = {
    t.kind: t for t in (DirectoryConfig, FtpConfig, HttpConfig)}
TRANSPORT_KINDS = tuple(TRANSPORTS)


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
    code: str  # lower case: what onecsync compares and keeps in its state
    transport: Transport
    odata: OData | None = None
    spelled: str = ""  # the code as the admin typed it (and the base): what file names carry
    # 1C's "predefined node alias": the old code a base still writes as its sender (SSL
    # PredefinedNodeAlias; its header then has From = alias, NewFrom = code).
    alias: str | None = None

    @property
    def senders(self) -> tuple[str, ...]:
        """The sender codes the base's message to us may carry in its name."""
        return (self.as_typed, self.alias) if self.alias else (self.as_typed,)

    @property
    def as_typed(self) -> str:
        return self.spelled or self.code


@dataclass(frozen=True)
class Node:
    code: str  # lower case, as Base.code
    exchange_plan: str = DEFAULT_PLAN
    formats: tuple[str, ...] = DEFAULT_FORMATS
    prefix: str | None = None
    spelled: str = ""  # as Base.spelled

    @property
    def as_typed(self) -> str:
        return self.spelled or self.code


@dataclass(frozen=True)
class Flow:
    name: str
    objects: tuple[str, ...]
    organizations: tuple[str, ...] = ()       # ИНН of the organizations it carries; () = all (left out)
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


def exchange_folders(bases: dict[str, Base]) -> dict[str, Path]:
    """Each base's exchange folder, of the bases that exchange through one on this host."""
    return {n: b.transport.path for n, b in bases.items() if isinstance(b.transport, DirectoryConfig)}
