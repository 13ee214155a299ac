"""Two emulated bases, their shared folders and the real onecsync between them: the e2e harness.

Public API: `World(root, ...)`, `Run`, `SUBPROCESS`, `isolated()`, `run_in_process`,
`run_subprocess`, `CRM_SENDS`, `expected_in_crm`, `expected_in_accounting`,
`comparable(base, obj, versions)`, `assert_converged(world)`.

A *round* is what cron and the bases' schedules do: the accounting base exchanges, the CRM
exchanges, onecsync runs. onecsync runs in this process by default (`onecsync.cli.main`, the
same code cron runs, with 1C's schemas compiled once; `isolated` restores whatever a process
would have taken with it when it ended); `World(..., in_process=False)` runs it as cron runs it,
a subprocess of the CLI (`python -m onecsync --config … --json run`), where the process is the
point; a killed run always goes through `crashing`, a subprocess. ONECSYNC_E2E_SUBPROCESS=1
makes every run a subprocess, for a soak.
Every message that crosses a folder is checked against 1C's schema of its version
(`assert_valid_message`) before the other side reads it.

What each base must end up holding is written down once, in tests/emulator/expect.py (the
whole scenario of the three flows, judged from the two bases alone: catalogs and linked
settlements in the CRM, CRM orders and invoices in accounting, edits either way, nothing else);
`expected_in_crm`, `expected_in_accounting` and `assert_converged` here apply it to a World.
Over HTTP and FTP the same World runs with the bases behind tests/emulator/remote.py.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import assert_valid_message
from tests.emulator import crashing
from tests.emulator import data
from tests.emulator.base import Base
from tests.emulator.expect import CRM_SENDS
from tests.emulator.expect import Expectations
from tests.emulator.expect import check_converged
from tests.emulator.expect import comparable  # noqa: F401 - part of this module's API
from tests.emulator.expect import key
from tests.emulator.folder import Exchanged
from tests.emulator.folder import outgoing_name
from tests.emulator.folder import put_back
from tests.emulator.spec import CATALOGS
from tests.emulator.spec import DOCUMENTS
from tests.emulator.spec import VERSIONS
from tests.emulator.store import Obj
from tests.emulator.store import Ref
from tests.factory import ACCOUNTING
from tests.factory import CRM
from tests.factory import NODE

REPO = Path(__file__).resolve().parents[2]
SUBPROCESS = os.environ.get("ONECSYNC_E2E_SUBPROCESS") == "1"
ACCOUNTING_SENDS = CATALOGS + DOCUMENTS
# БП 3.0.169 lists its versions in this order (GetIBParameters); a reader must not assume sorted.
BP_VERSIONS = ("1.17", "1.16", "1.11", "1.10", "1.8", "1.15", "1.12")

CONFIG = """\
node:
  code: {node}
  formats: [{formats}]
state: state/onecsync.sqlite
bases:
  accounting:
    code: {acc}
    transport: {{kind: directory, path: exchange/accounting, compress: {compress}}}
  crm:
    code: {crm}
    transport: {{kind: directory, path: exchange/crm, compress: {compress}}}
"""


@dataclass
class Run:
    code: int
    report: dict | None
    stderr: str
    crashed_at: str | None = None
    stdout: str = ""


# What a run may change in its process: gone with the process when cron runs it.
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE", "SIGALRM",
                                               "SIGCHLD") if hasattr(signal, n))


@contextlib.contextmanager
def isolated(env: dict | None = None):
    """Run onecsync in this process as if in a fresh one started from the repository (the
    subprocess's cwd), with `env` added; then restore the environment, cwd, umask, signal
    handlers, the onecsync logger and the consoles (they cache NO_COLOR and the width)."""
    from onecsync import console

    saved_env, cwd = dict(os.environ), os.getcwd()
    umask = os.umask(0o022)
    os.umask(umask)
    handlers = {s: signal.getsignal(s) for s in _SIGNALS}
    logger = logging.getLogger("onecsync")
    logged = (list(logger.handlers), logger.level, logger.propagate, logger.disabled)
    consoles = (console._stderr, console._out)
    console._stderr = console._out = None
    os.environ.update(env or {})
    os.chdir(REPO)
    try:
        yield
    finally:
        os.chdir(cwd)
        os.umask(umask)
        os.environ.clear()
        os.environ.update(saved_env)
        for sig, handler in handlers.items():
            if handler is not None:
                signal.signal(sig, handler)
        logger.handlers[:] = logged[0]
        logger.setLevel(logged[1])
        logger.propagate, logger.disabled = logged[2], logged[3]
        console._stderr, console._out = consoles


def run_in_process(argv: list[str], env: dict | None = None) -> Run:
    """`onecsync ARGV` in this process, under `isolated`."""
    from onecsync.cli import main

    out, err = io.StringIO(), io.StringIO()
    with isolated(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
    text = out.getvalue()
    report = json.loads(text) if "--json" in argv and text.strip() else None
    return Run(code, report, err.getvalue(), stdout=text)


def run_subprocess(cmd: list[str], env: dict | None = None, crash: str | None = None) -> Run:
    """`cmd` as cron runs it: a process of its own, started from the repository."""
    p = subprocess.run(cmd, cwd=REPO, env={**os.environ, **(env or {}), "PYTHONPATH": str(REPO)},
                       capture_output=True, text=True, timeout=300)
    report = json.loads(p.stdout) if "--json" in cmd and p.stdout.strip() else None
    return Run(p.returncode, report, p.stderr,
               crash if p.returncode == crashing.EXIT_KILLED else None, stdout=p.stdout)


class World:
    def __init__(self, root: Path, *, acc_versions=BP_VERSIONS, crm_versions=VERSIONS,
                 node_formats=VERSIONS, compress: bool = False, seed: int = 0,
                 in_process: bool = True, config: str | None = None,
                 passive: bool = False) -> None:
        """`config`: onecsync's config, if not the folder one (e.g. FTP or HTTP transports);
        `passive`: the bases exchange only when onecsync calls them (1C's HTTP service), so a
        round is just onecsync's run; `in_process=False`: every run a subprocess, as cron
        runs it (so does ONECSYNC_E2E_SUBPROCESS=1 for every World)."""
        self.root = root
        self.compress = compress
        self.in_process = in_process and not SUBPROCESS
        self.passive = passive
        self.folders = {"accounting": root / "exchange" / "accounting",
                        "crm": root / "exchange" / "crm"}
        for f in self.folders.values():
            f.mkdir(parents=True, exist_ok=True)
        self.config = root / "onecsync.yaml"
        self.config.write_text(config or CONFIG.format(
            node=NODE, acc=ACCOUNTING, crm=CRM, compress=str(compress).lower(),
            formats=", ".join(f'"{v}"' for v in node_formats)), encoding="utf-8")
        self._now = datetime.datetime(2026, 11, 20, 9, 0, tzinfo=datetime.timezone.utc)
        self.acc = Base("accounting", ACCOUNTING, NODE, acc_versions, registers=ACCOUNTING_SENDS,
                        prefix="БП", seed=seed, clock=self.tick)
        self.crm = Base("crm", CRM, NODE, crm_versions, registers=CRM_SENDS, prefix="ЦР",
                        seed=seed + 1, clock=self.tick)
        self.bases = {"accounting": self.acc, "crm": self.crm}
        # Every file that appeared in a folder, as it was, for faults that bring one back.
        self.history: dict[str, list[bytes]] = {"accounting": [], "crm": [],
                                                "to-accounting": [], "to-crm": []}
        self.runs: list[Run] = []

    def tick(self) -> datetime.datetime:
        """The bases' clock: a minute per message, so CreationDate always moves forward."""
        self._now += datetime.timedelta(minutes=1)
        return self._now

    # -- the bases ------------------------------------------------------------------------
    def ours(self, name: str) -> Path:
        return self.folders[name] / f"Message_{NODE}_{self.bases[name].code}" \
            f"{'.zip' if self.compress else '.xml'}"

    def theirs(self, name: str) -> Path:
        return self.folders[name] / outgoing_name(self.bases[name], self.compress)

    def exchange(self, name: str, receive: bool = True, entered=()) -> Exchanged:
        """One session of the base; our message is checked before it reads it, its one after.
        `receive`, `entered`: see `folder.exchange`."""
        if self.passive:
            return Exchanged()  # the base's service exchanges when onecsync calls it
        base = self.bases[name]
        ours = self.ours(name)
        if receive and ours.exists() and ours.stat().st_size:
            assert_valid_message(ours)
        result = base.exchange(self.folders[name], self.compress, receive, entered)
        if result.written:
            data = self.theirs(name).read_bytes()
            self.history[name].append(data)
            if not result.corrupted:
                assert_valid_message(self.theirs(name))
        return result

    def send(self, name: str, *elements: str, receive: bool = True) -> Exchanged:
        """Base `name` exchanges, and a user enters `elements` (EnterpriseData objects or
        deletions, e.g. tests/factory.py's; see `Base.enter`) after its import of our message,
        before its export: the message carries them."""
        return self.exchange(name, receive, elements)

    def redeliver(self, name: str, back: int = 1) -> bool:
        """A file the base wrote `back` writes ago appears again in place of its newest one."""
        if len(self.history[name]) <= back:
            return False
        put_back(self.theirs(name), self.history[name][-1 - back])
        return True

    def redeliver_ours(self, name: str, back: int = 1) -> bool:
        """An older message of ours to the base appears again."""
        seen = self.history[f"to-{name}"]
        if len(seen) <= back:
            return False
        put_back(self.ours(name), seen[-1 - back])
        return True

    # -- one object across the bases --------------------------------------------------------
    def copies(self, name: str, item: Obj | Ref) -> list[Obj]:
        """What base `name` holds for an object of the other base (matched by its key)."""
        other = self.crm if name == "accounting" else self.acc
        wanted = key(other, item)
        base = self.bases[name]
        return [o for o in base.objects(wanted[0]) if key(base, o) == wanted]

    def copy_in(self, name: str, item: Obj | Ref) -> Obj:
        held = self.copies(name, item)
        assert len(held) == 1, f"{name} holds {len(held)} copies of {item!r}"
        return held[0]

    def translate(self, fields, src: str, dst: str):
        """Field values of an object of base `src`, with references to base `dst`'s copies, as a
        user of `dst` would enter the same document."""
        if isinstance(fields, Ref):
            return self.copy_in(dst, fields).ref
        if isinstance(fields, dict):
            return {k: self.translate(v, src, dst) for k, v in fields.items()}
        if isinstance(fields, list):
            return [self.translate(v, src, dst) for v in fields]
        return fields

    def seed_in(self, name: str, s):
        """The accounting seed (`data.Seeded`) as base `name` holds it."""
        if name == "accounting":
            return s
        return type(s)(**{k: self.copy_in(name, v).ref for k, v in s.__dict__.items()})

    # -- onecsync -------------------------------------------------------------------------
    def cli(self, *args: str, env: dict | None = None) -> Run:
        """`onecsync --config <this world's> ARGS`, as an admin runs it: in this process, or a
        subprocess for a World that is not `in_process`."""
        argv = ["--config", str(self.config), *args]
        if self.in_process:
            return run_in_process(argv, env)
        return run_subprocess([sys.executable, "-m", "onecsync", *argv], env)

    def run(self, crash: str | None = None, nth: int = 1) -> Run:
        if crash is None:
            result = self.cli("--json", "run")
        else:
            cmd, extra = crashing.command(sys.executable, str(self.config), crash, nth)
            result = run_subprocess(cmd, extra, crash)
        assert result.code != 70, result.stderr
        assert result.code != 1, f"onecsync hit a bug: {result.stderr}"
        for name in self.bases:
            ours = self.ours(name)
            if ours.exists():
                assert_valid_message(ours)
                data = ours.read_bytes()
                seen = self.history[f"to-{name}"]
                if not seen or seen[-1] != data:
                    seen.append(data)
        self.runs.append(result)
        return result

    def round(self) -> Run:
        if self.passive:
            return self.run()
        self.exchange("accounting")
        self.exchange("crm")
        return self.run()

    def settle(self, rounds: int = 4) -> None:
        """Faults off: a few clean rounds, each of which must end well."""
        for _ in range(rounds):
            run = self.round()
            assert run.code == 0, (run.code, run.stderr)

    def seed(self, rounds: int = 2) -> data.Seeded:
        """Where most scenarios start: the fixture catalogs entered in accounting
        (`data.seed_accounting`), settled over `rounds` rounds, both bases converged."""
        s = data.seed_accounting(self.acc)
        self.settle(rounds)
        assert_converged(self)
        return s

    # -- onecsync's state, read-only ------------------------------------------------------
    def db(self) -> sqlite3.Connection | None:
        path = self.root / "state" / "onecsync.sqlite"
        if not path.exists():
            return None
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def numbers(self, peer: str) -> tuple[int, int, int]:
        conn = self.db()
        if conn is None:
            return (0, 0, 0)
        with contextlib.closing(conn):
            row = conn.execute("SELECT sent_no, received_no, confirmed_no FROM peers "
                               "WHERE name = ?", (peer,)).fetchone()
        return tuple(row) if row else (0, 0, 0)

    def unconfirmed(self, peer: str) -> int:
        conn = self.db()
        if conn is None:
            return 0
        with contextlib.closing(conn):
            return conn.execute("SELECT count(*) FROM registrations WHERE peer = ? AND "
                                "confirmed_no IS NULL", (peer,)).fetchone()[0]

    def staged_refs(self, peer: str) -> set[tuple[str, str]]:
        conn = self.db()
        if conn is None:
            return set()
        with contextlib.closing(conn):
            return {(t, r) for t, r in conn.execute(
                "SELECT type, ref FROM inbox WHERE peer = ?", (peer,))}


@contextlib.contextmanager
def scratch_dir(fallback: Path):
    """A folder for a World: on a RAM disk when there is one (the state's fsyncs then cost
    nothing; a process crash, which is what the tests inject, behaves the same), else
    `fallback`."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(prefix="onecsync-e2e-", dir=shm) as tmp:
            yield Path(tmp)
    else:
        yield fallback


# -- what "converged" means ----------------------------------------------------------------
def versions_used(world: World) -> tuple[str, ...]:
    return (world.acc.negotiated(), world.crm.negotiated())


def expected_in_crm(world: World, obj: Obj) -> bool:
    """Must this accounting object reach the CRM? (see tests/emulator/expect.py)"""
    return Expectations(world.acc, world.crm).in_crm(obj)


def expected_in_accounting(world: World, obj: Obj) -> bool:
    """Must this CRM object reach accounting?"""
    return Expectations(world.acc, world.crm).in_accounting(obj)


def assert_converged(world: World, lost: frozenset = frozenset()) -> None:
    """Both bases hold exactly what they should and nothing is pending anywhere.

    `lost`: keys (type, Ссылка) of objects a restore took back to an older state (or out of
    existence) in one base after the other had them; nobody can tell the other base, so they
    are not compared. Refs are taken too (an accounting object's key is its own UUID).
    """
    keys = frozenset((x.type, x.id.lower()) if isinstance(x, Ref) else x for x in lost)
    check_converged(world.acc, world.crm, versions_used(world), keys)
    for name, base in world.bases.items():
        assert not base.registrations, f"{name} still has unconfirmed registrations: " \
            f"{sorted(base.registrations)[:5]}"
        assert world.unconfirmed(name) == 0, f"onecsync has unconfirmed objects for {name}"
