"""Instant relay: onecsync started the way contrib/systemd/onecsync.path starts it (the service's
own ExecStart, when an exchange folder changes) relays a base's new message to the other base.

The watcher below does what systemd's path unit does with PathChanged=: an inotify watch on each
folder with systemd's mask for it, and one start of the oneshot service per change, none while
it still runs. It measures "the base's file complete" (closed after writing) → "our message to
the other base renamed into place" (README, "Instant relay").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import select
import shlex
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests import factory as f
from tests.test_units import REPO
from tests.test_units import parse_unit

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="inotify is Linux's")

# systemd's src/core/path.c: the inotify mask of PathChanged=.
IN_ATTRIB, IN_CLOSE_WRITE, IN_MOVED_FROM, IN_MOVED_TO = 0x4, 0x8, 0x40, 0x80
IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_MOVE_SELF = 0x100, 0x200, 0x400, 0x800
PATH_CHANGED = (IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE
                | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)
EVENT = struct.Struct("iIII")

PATH_UNIT = parse_unit(REPO / "contrib" / "systemd" / "onecsync.path")
SERVICE = parse_unit(REPO / "contrib" / "systemd" / "onecsync.service")


def service_argv(config: Path) -> list[str]:
    """onecsync.service's ExecStart, for this checkout and this config."""
    argv = shlex.split(SERVICE["Service"]["ExecStart"][0])
    assert argv[0] == "/opt/onecsync/bin/onecsync" and "--config" in argv
    argv[argv.index("--config") + 1] = str(config)
    return [sys.executable, "-m", "onecsync", *argv[1:]]


class PathUnit:
    """inotify on the folders; a change starts the service unless it runs (as systemd does, a
    start of an active oneshot is merged into the running one: the change is not queued)."""

    def __init__(self, folders: list[Path], argv: list[str]) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0
        self.names = {}
        for folder in folders:
            wd = libc.inotify_add_watch(self.fd, str(folder).encode(), PATH_CHANGED)
            assert wd >= 0, os.strerror(ctypes.get_errno())
            self.names[wd] = folder
        self.argv = argv
        self.runs: list[dict] = []
        self.landed: dict[str, float] = {}   # file name → when it was renamed into place
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> PathUnit:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(30)
        os.close(self.fd)

    def _events(self, timeout: float) -> list[tuple[Path, str, int]]:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return []
        data, out = os.read(self.fd, 65536), []
        now = time.monotonic()
        while data:
            wd, mask, _, size = EVENT.unpack_from(data)
            name = data[EVENT.size:EVENT.size + size].rstrip(b"\0").decode()
            data = data[EVENT.size + size:]
            if mask & IN_MOVED_TO:
                self.landed.setdefault(name, now)
            out.append((self.names[wd], name, mask))
        return out

    def _loop(self) -> None:
        while not self.stop.is_set():
            if not self._events(0.05):
                continue
            run = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
            while run.poll() is None:  # what changes meanwhile is merged into this run
                self._events(0.01)
            out, err = run.communicate()
            while self._events(0):  # all it did is queued by now: merged into it as well
                pass
            self.runs.append({"code": run.returncode, "report": out, "err": err,
                              "ended": time.monotonic()})


def write_as_the_base(path: Path, data: bytes) -> float:
    """Write the message in pieces, as 1C does, and return when it was complete (closed)."""
    with open(path, "wb") as out:
        for i in range(0, len(data), 4096):
            out.write(data[i:i + 4096])
            out.flush()
    return time.monotonic()


def wait_for(what, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := what()) is not None:
            return value
        time.sleep(0.01)
    pytest.fail(f"nothing after {timeout} s")


def test_the_path_unit_watches_each_folder_with_path_changed_and_starts_the_service():
    path = PATH_UNIT["Path"]
    assert path["Unit"] == ["onecsync.service"]
    assert "PathModified" not in path  # a run per write() of a large message
    assert len(path["PathChanged"]) == 2


@pytest.mark.slow  # real processes, started as systemd would
def test_a_new_message_is_relayed_as_soon_as_the_base_has_written_it(sandbox):
    """The relay, and the latency figure README gives (`pytest -s` prints it)."""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert sandbox.run("run")[0] == 0  # the pair is set up and has exchanged once
    ours = f"Message_{f.NODE}_{f.CRM}.xml"
    argv = service_argv(sandbox.config) + ["--json"]
    latencies = []
    with PathUnit(list(sandbox.folders.values()), argv) as unit:
        for n in range(2, 5):
            message = f.Msg(message_no=n, objects=[f.counterparty(f.ref(n), f"ООО Номер {n}")])
            unit.landed.pop(ours, None)
            complete = write_as_the_base(sandbox.incoming("accounting"), message.xml())
            landed = wait_for(lambda: unit.landed.get(ours))
            latencies.append(landed - complete)
            wait_for(lambda at=landed: unit.runs and unit.runs[-1]["ended"] > at or None)
            assert f.ref(n) in [r for _, r in sandbox.outgoing("crm")["objects"]]
            assert sandbox.numbers("accounting")[1] == n
        runs = list(unit.runs)
    for run in runs:
        assert run["code"] == 0, run["err"]
    relayed = [json.loads(r["report"]) for r in runs]
    assert all(r["peers"]["crm"]["sent"].get("objects") for r in relayed[:1])
    # Only the base's writes started runs: ours landed while our run was going.
    assert len(runs) == 3
    print(f"\nrelay latency (file complete -> our message renamed into place): "
          f"{', '.join(f'{t * 1000:.0f} ms' for t in latencies)}")
    assert max(latencies) < 30


def test_a_run_started_by_our_own_message_writes_nothing_so_it_never_loops(sandbox):
    """Unlike systemd, suppose a change during a run did start another: that run finds nothing
    new and writes nothing into the folders, so nothing starts a third."""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    code, report, _ = sandbox.run("run")
    assert code == 0 and report["peers"]["crm"]["sent"]["message_no"] == 1
    before = {p: os.stat(sandbox.outgoing_path(p)).st_mtime_ns for p in ("crm", "accounting")}
    code, report, _ = sandbox.run("run")
    assert code == 0
    assert all(report["peers"][p]["sent"]["message_no"] is None for p in ("crm", "accounting"))
    assert {p: os.stat(sandbox.outgoing_path(p)).st_mtime_ns for p in before} == before
