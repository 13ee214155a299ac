"""Worlds over 1C's remote transports: the emulated bases behind 1C's HTTP service, or reached
through an FTP server, with the real onecsync between them.

Public API: `http_world(root, ...)`, `ftp_world(root, ...)` (context managers yielding a `World`
with `.services` or `.ftp`), `Served`, `lone(name, *objects)` (one base behind a service, no
World).

Over HTTP each base sits behind its own `tests.exchange_service.ExchangeService` (1C's
`exchange_dsl_1_0_0_1`), through `Served`: the base exchanges only when onecsync calls it (the
World is passive, a round is onecsync's run), and every message that crosses, either way, is
checked against 1C's schema of its version, as the World does for files in a folder.

Over FTP the bases exchange through their folders as over the directory transport (1C's own FTP
transport writes the same `Message_*.xml` files in the FTP folder), and onecsync reaches those
folders through `tests.ftp_server.FtpServer`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

from tests.conftest import assert_valid_message
from tests.conftest import ftp_peer
from tests.conftest import http_peer
from tests.conftest import remote_config
from tests.emulator.base import Base
from tests.emulator.base import ExchangeError
from tests.emulator.folder import incoming_name
from tests.emulator.folder import outgoing_name
from tests.emulator.spec import SPECS
from tests.emulator.spec import VERSIONS
from tests.emulator.world import World
from tests.exchange_service import ExchangeService
from tests.factory import ACCOUNTING
from tests.factory import CRM
from tests.factory import NODE
from tests.ftp_server import FtpServer

PASSWORD_ENV = "ONECSYNC_TEST_PW"
FTP_PASSWORD_ENV = "ONECSYNC_TEST_FTP_PW"
# 1C users and passwords as they usually are: Cyrillic, on every transport.
USER = "Синхронизация"
PASSWORD = "пароль-s3cret"
FTP_USER = "обмен"
FTP_PASSWORD = "ftp-пароль"
CODES = {"accounting": ACCOUNTING, "crm": CRM}  # the codes a World gives its bases

class Served:
    """A `Base` as `ExchangeService` serves it: the messages crossing are checked and recorded.

    Made before its World (the service must be listening for the World's config to name its
    URL), then `bind(world, name)`. A message that fails 1C's schema is not raised from here
    (the service would turn it into a failed import, which onecsync takes for a refusal and
    retries): it is kept in `invalid`, which the World checks after every run.
    """

    def __init__(self) -> None:
        self.world: World | None = None
        self.name = ""
        self.invalid: list[str] = []
        self.exported: list[bytes] = []  # every message the base gave the service, in order
        self.answer_lost_next = False  # the import succeeds, the service reports it failed

    def bind(self, world: World, name: str) -> None:
        self.world, self.name, self.base = world, name, world.bases[name]

    def _check(self, data: bytes, file_name: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / file_name
            path.write_bytes(data)
            try:
                assert_valid_message(path)
            except AssertionError as exc:
                self.invalid.append(str(exc))

    def export_message(self) -> bytes | None:
        data = self.base.export_message()
        if data is not None:
            self._check(data, outgoing_name(self.base))
            self.exported.append(data)
            if self.world is not None:
                self.world.history[self.name].append(data)
        return data

    def import_message(self, data: bytes) -> None:
        self._check(data, incoming_name(self.base) + ".xml")
        if self.world is not None:
            self.world.history[f"to-{self.name}"].append(data)
        self.base.import_message(data)  # ExchangeError: the service reports a failed import
        if self.answer_lost_next:
            self.answer_lost_next = False
            raise ExchangeError(f"{self.name}: the session ended before the answer (injected)")


def lone(name: str, *objects: str) -> Served:
    """One base alone behind a service, for tests of a transport rather than of a whole
    exchange: coded as a World codes it (`CODES`), every type registered for our node, `objects`
    (tests/factory.py elements) entered by its users. Check `.invalid` when done."""
    served = Served()
    served.name = name
    served.base = Base(name, CODES[name], NODE, registers=SPECS)
    for element in objects:
        served.base.enter(element)
    return served


class _Checked(World):
    """A World that also checks what crossed through `Served` adapters after every run."""

    served: dict[str, Served]
    services: dict[str, ExchangeService]
    ftp: FtpServer
    whole_seconds = False

    def run(self, crash: str | None = None, nth: int = 1):
        result = super().run(crash, nth)
        for s in self.served.values():
            assert not s.invalid, f"{s.name}: {s.invalid}"
        return result

    def exchange(self, name: str, *args):
        result = super().exchange(name, *args)
        if result.written and self.whole_seconds:
            _a_second_later(self.theirs(name))
        return result


_last_second = 0


def _a_second_later(path: Path) -> None:
    """A base's new file is stamped at least a second after the last one.

    An FTP listing gives modification times to the second (MLSD, MDTM), and onecsync knows a
    file it has seen by name, size and that time. Real exchanges are minutes apart; the
    emulator's are milliseconds apart, and two equal-sized messages (say two empty ones, only
    confirming) written within one second would look like one unchanged file: onecsync would
    take the second only with the base's next message (a delay, never a loss).
    """
    global _last_second
    t = max(int(time.time()) + 1, _last_second + 1)
    _last_second = t
    os.utime(path, (t, t))


@contextlib.contextmanager
def http_world(root: Path, *, part_size: int = 8, long_polls: int = 0, node_formats=VERSIONS,
               **kwargs):
    """Both bases behind 1C's HTTP service; onecsync configured with `kind: http`.

    The passwords come from the environment (`PASSWORD_ENV`): set it before a run."""
    served = {name: Served() for name in CODES}
    with contextlib.ExitStack() as stack:
        services = {name: stack.enter_context(ExchangeService(
            served[name], user=USER, password=PASSWORD, publication=name,
            long_polls=long_polls))
            for name in CODES}
        config = remote_config({
            name: http_peer(services[name].url, user=USER, env=PASSWORD_ENV,
                                 part_size=part_size) for name in CODES}, node_formats)
        world = _Checked(root, passive=True, node_formats=node_formats, config=config,
                         **kwargs)
        for name, s in served.items():
            s.bind(world, name)
        world.served, world.services = served, services
        yield world


@contextlib.contextmanager
def ftp_world(root: Path, *, node_formats=VERSIONS, compress: bool = False, **kwargs):
    """The bases exchange through their folders; onecsync reaches them over FTP (`kind: ftp`).

    The password comes from the environment (`FTP_PASSWORD_ENV`): set it before a run."""
    for name in CODES:
        (root / "exchange" / name).mkdir(parents=True, exist_ok=True)
    with FtpServer(root / "exchange", user=FTP_USER, password=FTP_PASSWORD) as server:
        config = remote_config({
            name: ftp_peer(name, server.port, user=FTP_USER, env=FTP_PASSWORD_ENV,
                                extra=f", compress: {str(compress).lower()}") for name in CODES},
            node_formats)
        world = _Checked(root, node_formats=node_formats, config=config, compress=compress,
                         **kwargs)
        world.served, world.ftp, world.whole_seconds = {}, server, True
        yield world
