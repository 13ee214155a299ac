"""Shared fixtures: a sandbox with two exchange folders and a config, a CLI runner, and the
check that every message onecsync writes is valid per 1C's schema of its version."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings
from lxml import etree

from onecsync import clock
from onecsync import formats
from onecsync.cli import main
from onecsync.protocol.check import check_message
from onecsync.state import read_connection
from tests import factory

# Hypothesis profiles: `ci` (the default) is small enough for every push; `dev`, `fuzz` and
# `long` are for a longer look: HYPOTHESIS_PROFILE=fuzz pytest tests/test_fuzz.py,
# HYPOTHESIS_PROFILE=long pytest tests/test_convergence.py (test_convergence sizes itself).
_HYPOTHESIS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                         HealthCheck.too_slow])
settings.register_profile("ci", max_examples=60, derandomize=True, **_HYPOTHESIS)
settings.register_profile("dev", max_examples=300, **_HYPOTHESIS)
settings.register_profile("fuzz", max_examples=5000, **_HYPOTHESIS)
settings.register_profile("long", max_examples=500, **_HYPOTHESIS)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# 1C's schemas and samples sit beside the checkout (never copied into it).
SHARED = Path(__file__).resolve().parents[2] / "shared"


def need_shared(*parts: str) -> Path:
    """The path under ../shared/ a test needs. Absent: the test skips saying what is missing,
    except where CI=true, where it fails with that line (CI must not go green by skipping)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        line = f"reference data not found at {path} (../shared/ beside the checkout is missing)"
        if os.environ.get("CI") == "true":
            pytest.fail(line, pytrace=False)
        pytest.skip(line)
    return path


@pytest.fixture
def enterprisedata_reference() -> Path:
    """shared/reference/enterprisedata, through `need_shared`."""
    return need_shared("reference", "enterprisedata")


DEFAULT_CONFIG = """\
node:
  code: {node}
state: state/onecsync.sqlite
bases:
  accounting:
    code: {acc}
    transport: {{kind: directory, path: exchange/accounting{acc_extra}}}
  crm:
    code: {crm}
    transport: {{kind: directory, path: exchange/crm{crm_extra}}}
"""


def remote_config(transports: dict[str, str], formats=()) -> str:
    """onecsync's config over remote transports: our node (offering `formats`, if given), the
    state, and each base (accounting, crm: their factory codes) with its transport, e.g.
    `remote_config({"accounting": http_peer(url), "crm": http_peer(url2)})`."""
    codes = {"accounting": factory.ACCOUNTING, "crm": factory.CRM}
    offered = f"  formats: [{', '.join(f'{v!r}' for v in formats)}]\n" if formats else ""
    return (f"node:\n  code: {factory.NODE}\n{offered}state: state/onecsync.sqlite\nbases:\n"
            + "".join(f"  {name}:\n    code: {codes[name]}\n    transport: {{{transport}}}\n"
                      for name, transport in transports.items()))


def http_peer(url: str, *, user: str = "sync", env: str = "ONECSYNC_TEST_PW",
                   part_size: int = 1, read_timeout: float = 5) -> str:
    """A base's `kind: http` transport (the inside of its flow mapping), for `remote_config`."""
    return (f'kind: http, url: "{url}", user: {user}, password_env: {env}, '
            f"part_size: {part_size}, read_timeout: {read_timeout}")


def ftp_peer(name: str, port: int, *, user: str = "sync", env: str = "ONECSYNC_TEST_FTP_PW",
                  timeout: float = 5, extra: str = "") -> str:
    """A base's `kind: ftp` transport on 127.0.0.1, its folder /<name>, for `remote_config`."""
    return (f"kind: ftp, host: 127.0.0.1, port: {port}, user: {user}, password_env: {env}, "
            f"folder: /{name}, timeout: {timeout}{extra}")


def parse_message(path: Path):
    """(header element, version, [body elements]) of a message file, .xml or .zip."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            assert len(zf.infolist()) == 1
            data = zf.read(zf.infolist()[0])
    else:
        data = path.read_bytes()
    root = etree.fromstring(data)
    header = root[0]
    fmt = header.findtext(f"{{{formats.ENVELOPE_NS}}}Format")
    version = formats.version_of(fmt)
    body = root.find(f"{{{formats.namespace(version)}}}Body") if version else None
    return header, version, (list(body) if body is not None else [])


def assert_valid_message(path: Path) -> None:
    """The whole message passes 1C's schemas, checked exactly as `onecsync validate` does.

    A message onecsync wrote (From = our node code) must also declare its object types: 1C
    sends a peer, and accepts from it, only the types the peer declares.
    """
    check = check_message(path)
    assert check.valid, f"{path.name}: " + "; ".join(
        f"line {p.line}: {p.text()}" for p in check.problems)
    header, _, _ = parse_message(path)
    ns = {"m": formats.ENVELOPE_NS}
    if header.findtext("m:Confirmation/m:From", namespaces=ns) == factory.NODE:
        declared = header.findall("m:AvailableObjectTypes/m:ObjectType", ns)
        assert declared, f"{path.name}: header declares no AvailableObjectTypes"


class _ClosingConnection(sqlite3.Connection):
    """`with box.db() as c:` closes it at the end, so SQLite's log files go with it."""

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            self.close()


class Sandbox:
    def __init__(self, root: Path, capsys) -> None:
        self.root = root
        self.capsys = capsys
        self.config = root / "onecsync.yaml"
        self.folders = {"accounting": root / "exchange" / "accounting",
                        "crm": root / "exchange" / "crm"}
        for f in self.folders.values():
            f.mkdir(parents=True)
        self.write_config()
        self._mtime = 1_700_000_000_000_000_000

    @classmethod
    def attach(cls, root: Path, capsys) -> "Sandbox":
        """A sandbox over an existing tree, e.g. a copy of a prepared one."""
        box = cls.__new__(cls)
        box.root, box.capsys, box.config = root, capsys, root / "onecsync.yaml"
        box.folders = {p: root / "exchange" / p for p in ("accounting", "crm")}
        box._mtime = 1_800_000_000_000_000_000  # newer than whatever the tree holds
        return box

    def write_config(self, text: str | None = None, compress: bool = False) -> None:
        extra = ", compress: true" if compress else ""
        self.config.write_text(text or DEFAULT_CONFIG.format(
            node=factory.NODE, acc=factory.ACCOUNTING, crm=factory.CRM,
            acc_extra=extra, crm_extra=extra), encoding="utf-8")

    @property
    def state_path(self) -> Path:
        return self.root / "state" / "onecsync.sqlite"

    def code(self, peer: str) -> str:
        return factory.ACCOUNTING if peer == "accounting" else factory.CRM

    def incoming(self, peer: str, suffix: str = ".xml") -> Path:
        return self.folders[peer] / f"Message_{self.code(peer)}_{factory.NODE}{suffix}"

    def put(self, peer: str, data: bytes | factory.Msg, suffix: str = ".xml") -> Path:
        """Leave a message as the base would, each one newer than the last."""
        if isinstance(data, factory.Msg):
            data = data.xml()
        path = self.incoming(peer, suffix)
        if suffix == ".zip":
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(path.with_suffix(".xml").name, data)
        else:
            path.write_bytes(data)
        self._mtime += 1_000_000_000
        os.utime(path, ns=(self._mtime, self._mtime))
        return path

    def put_raw(self, peer: str, data: bytes | Path, suffix: str = ".xml") -> Path:
        """Leave a file exactly as given (a .zip is not zipped again), newer than the last."""
        path = self.incoming(peer, suffix)
        if isinstance(data, Path):
            shutil.copyfile(data, path)
        else:
            path.write_bytes(data)
        self._mtime += 1_000_000_000
        os.utime(path, ns=(self._mtime, self._mtime))
        return path

    def settle(self, peer: str = "accounting", minutes: float = 11) -> None:
        """Age the memory of the base's unfinished-looking message (quarantine/<peer>.pending)
        by `minutes`, as if it had stayed so that long (the default settle_minutes is 10)."""
        pending = self.state_path.parent / "quarantine" / f"{peer}.pending"
        data = json.loads(pending.read_text(encoding="utf-8"))
        first = datetime.datetime.fromisoformat(data["first_seen"])
        data["first_seen"] = (first - datetime.timedelta(minutes=minutes)).isoformat()
        pending.write_text(json.dumps(data), encoding="utf-8")

    def journal(self) -> list[tuple]:
        """The run journal, newest first: (exit code, error)."""
        with self.db() as c:
            return c.execute("SELECT exit_code, error FROM runs ORDER BY id DESC").fetchall()

    def outgoing_path(self, peer: str) -> Path | None:
        for suffix in (".xml", ".zip"):
            p = self.folders[peer] / f"Message_{factory.NODE}_{self.code(peer)}{suffix}"
            if p.exists():
                return p
        return None

    def outgoing(self, peer: str) -> dict:
        """Our message to the peer, checked against 1C's schema, as a dict for asserts."""
        path = self.outgoing_path(peer)
        assert path is not None, f"no message to {peer}"
        assert_valid_message(path)
        header, version, objects = parse_message(path)
        ns = {"m": formats.ENVELOPE_NS}
        conf = header.find("m:Confirmation", ns)
        refs = []
        for el in objects:
            local = etree.QName(el).localname
            if local == "УдалениеОбъекта":
                target = el[0][0][0]
                refs.append(("delete", etree.QName(target).localname, target.text))
            else:
                r = el.find(f"{{{formats.namespace(version)}}}КлючевыеСвойства/"
                            f"{{{formats.namespace(version)}}}Ссылка")
                refs.append((local, r.text if r is not None else None))
        return {"path": path, "version": version,
                "message_no": int(conf.findtext("m:MessageNo", namespaces=ns)),
                "received_no": int(conf.findtext("m:ReceivedNo", namespaces=ns)),
                "to": conf.findtext("m:To", namespaces=ns),
                "from": conf.findtext("m:From", namespaces=ns),
                "versions": [v.text for v in header.findall("m:AvailableVersion", ns)],
                "objects": refs}

    def human(self, *args: str) -> tuple[int, str, str]:
        """Run the CLI in-process without --json; returns (exit code, stdout, stderr)."""
        self.capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            main(["--config", str(self.config), *args])
        out = self.capsys.readouterr()
        return exc.value.code, out.out, out.err

    @contextlib.contextmanager
    def lock_held(self, command: str | None = "run", started: str | None = None,
                  shared: bool = False, pid: object = None, extra: dict | None = None):
        """Another process holds the run lock (as a running `run` would: `command`, since
        `started`, now by default); yields its Popen, with `started`. `command` None: it writes nothing, as
        flock(1) or a dry run (`shared`) does. `pid`: what it writes as its pid (its own by default);
        `extra`: more fields it writes."""
        lock = self.state_path.with_name("onecsync.sqlite.lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        started = started or clock.local_now().isoformat(timespec="seconds")
        info = None if command is None else {"command": command, "started": started}
        if info is not None and pid is not None:
            info["pid"] = pid  # type: ignore[assignment]  # a lie in the lock file, on purpose
        if info is not None:
            info.update(extra or {})
        holder = subprocess.Popen(
            [sys.executable, "-c",
             "import fcntl, json, os, sys, time\n"
             f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
             f"fcntl.flock(fd, fcntl.{'LOCK_SH' if shared else 'LOCK_EX'})\n"
             f"info = {info!r}\n"
             "if info is not None:\n"
             "    os.ftruncate(fd, 0)\n"
             "    os.write(fd, json.dumps({'pid': os.getpid(), **info}).encode())\n"
             "print('locked', flush=True)\n"
             "time.sleep(30)\n"], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "locked"
            holder.started = started  # type: ignore[attr-defined]  # what the lock file says
            yield holder
        finally:
            holder.kill()
            holder.wait()

    def run(self, *args: str) -> tuple[int, dict | None, str]:
        """Run the CLI in-process as cron would; returns (exit code, JSON report, stderr)."""
        self.capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            main(["--config", str(self.config), "--json", *args])
        out = self.capsys.readouterr()
        report = json.loads(out.out) if out.out.strip() else None
        return exc.value.code, report, out.err

    def db(self) -> sqlite3.Connection:
        """The state as onecsync's readers open it: writes refused, and no log files left
        behind (a mode=ro connection would leave SQLite's -wal and -shm beside the state)."""
        return read_connection(self.state_path, factory=_ClosingConnection)

    def numbers(self, peer: str) -> tuple[int, int, int]:
        with self.db() as c:
            row = c.execute("SELECT sent_no, received_no, confirmed_no FROM peers WHERE name=?",
                            (peer,)).fetchone()
        return tuple(row) if row else (0, 0, 0)

    def dump(self) -> dict:
        """Everything of the exchange state except the run journal, for before/after compares."""
        if not self.state_path.exists():
            return {}
        with self.db() as c:
            return {t: c.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                    for t in ("peers", "inbox", "inbox_payloads", "registrations",
                              "registration_payloads")}


def invoke(capsys, *args: str) -> tuple[int, str, str]:
    """onecsync's CLI in-process with `args`: its exit code, stdout and stderr."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@contextlib.contextmanager
def unblocking(fifo: Path, after: float = 10.0):
    """Turn a run that would hang reading `fifo` into a failure: if something still waits on it
    after `after` seconds, a writer opens and closes it (the reader gets end of file), and the
    block fails the test on exit."""
    import threading

    stop = threading.Event()
    fired = []

    def watchdog() -> None:
        if not stop.wait(after):
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                fired.append(True)

    thread = threading.Thread(target=watchdog, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    assert not fired, f"something blocked reading the FIFO {fifo}"


@pytest.fixture(autouse=True)
def _no_host_config(tmp_path_factory, monkeypatch):
    """A config in this host's /etc/onecsync or ~/.config must not leak into a test: both
    places of the config search point into an empty folder."""
    empty = tmp_path_factory.mktemp("no-host-config")
    monkeypatch.setattr("onecsync.config.SYSTEM_ROOT", empty)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(empty / "xdg"))


LOCALE_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


@pytest.fixture(autouse=True)
def _english(monkeypatch):
    """The suite asserts English lines: a Russian host locale must not turn them Russian
    (tests of the Russian display set the locale themselves, with `russian`)."""
    for var in LOCALE_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


@pytest.fixture
def russian(monkeypatch):
    """The admin's locale says Russian (as on a Russian server: LANG only)."""
    for var in LOCALE_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")


@pytest.fixture
def world(tmp_path):
    """Two emulated 1C bases and onecsync between them, run in-process (tests/emulator)."""
    from tests.emulator.world import World
    from tests.emulator.world import scratch_dir

    with scratch_dir(tmp_path) as root:
        yield World(root, in_process=True)


@pytest.fixture
def sandbox(tmp_path, capsys) -> Sandbox:
    return Sandbox(tmp_path, capsys)

