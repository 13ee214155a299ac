"""Faults around the run, each with its exit code and one line; a rerun once the fault is fixed
converges with nothing lost. (HTTP faults belong with the HTTP transport's tests.)

File modes only bite an unprivileged user: when the tests run as root, the runs that need them
run as `nobody` (effective uid only, restored after), in a sandbox that user owns.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import rich.console  # noqa: F401  (before a run drops privileges: it draws its error line with rich)

import onecsync.flows.runner  # noqa: F401  (imported before a run drops privileges)
import onecsync.state
from onecsync.transport import directory
from tests import factory as f
from tests.conftest import Sandbox

NOBODY = 65534
FIRST = f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")])
MANY = [f.counterparty(f.ref(i), f"ООО Клиент {i} " + "д" * 40) for i in range(2, 402)]
SECOND = f.Msg(message_no=2, received_no=1, created="2026-11-22T09:00:00", objects=MANY)


@pytest.fixture
def usandbox(capsys):
    """A sandbox whose runs are subject to file modes (see the module docstring)."""
    root = Path(tempfile.mkdtemp(prefix="onecsync-faults-"))
    box = Sandbox(root, capsys)
    box.unprivileged = _as_nobody if os.geteuid() == 0 else contextlib.nullcontext
    if os.geteuid() == 0:
        for p in [root, *root.rglob("*")]:
            os.chown(p, NOBODY, NOBODY)
    try:
        yield box
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def _as_nobody():
    groups = os.getgroups()
    os.setgroups([])
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(groups)


def received_first(box) -> dict:
    """Message 1 went through; returns the exchange state to compare with."""
    box.put("accounting", FIRST)
    code, _, err = box.run("pull-catalogs")
    assert code == 0, err
    box.put("accounting", SECOND)
    return box.dump()


def error_line(err: str) -> str:
    (line,) = [ln for ln in err.splitlines() if "onecsync: error: " in ln]
    assert "Traceback" not in err
    return line


def converged(box) -> None:
    """After the fix: message 2 is staged and confirmed, the CRM got everything, once."""
    code, _, err = box.run("pull-catalogs")
    assert code == 0, err
    assert box.numbers("accounting")[1] == 2
    assert box.outgoing("accounting")["received_no"] == 2
    refs = [r for _, r in box.outgoing("crm")["objects"]]
    assert sorted(refs) == sorted([f.ref(1)] + [f.ref(i) for i in range(2, 402)])


# -- the state file --------------------------------------------------------------------------

@contextlib.contextmanager
def sqlite_holder(path: Path, begin: str):
    """Another program holds the state in a transaction (`BEGIN <begin>`) until the block ends.
    A process of its own: SQLite's POSIX locks do not conflict within one process."""
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sqlite3, sys
            c = sqlite3.connect({str(path)!r}, isolation_level=None)
            c.execute("BEGIN {begin}")
            print("locked", flush=True)
            sys.stdin.read()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.communicate("")


@pytest.mark.parametrize("mode", ["EXCLUSIVE", "IMMEDIATE"])
def test_state_locked_or_written_by_another_program_is_temporary(sandbox, monkeypatch, mode):
    """EXCLUSIVE: we cannot even read. IMMEDIATE: a writer holds the file while we can still
    read it, and we fail at our first write."""
    monkeypatch.setattr(onecsync.state, "BUSY_TIMEOUT", 0.2)
    before = received_first(sandbox)
    with sqlite_holder(sandbox.state_path, mode):
        code, _, err = sandbox.run("pull-catalogs")
        assert code == 4, err
        line = error_line(err)
        assert str(sandbox.state_path) in line and "locked by another program" in line
        assert "another onecsync run" not in line  # not our run lock: that is exit 8
    assert sandbox.dump() == before
    converged(sandbox)


@pytest.mark.parametrize("what", ["file", "folder"])
def test_read_only_state_needs_a_human(usandbox, what):
    box = usandbox
    with box.unprivileged():
        before = received_first(box)
        target = box.state_path if what == "file" else box.state_path.parent
        mode = target.stat().st_mode
        os.chmod(target, 0o400 if what == "file" else 0o500)
        code, _, err = box.run("pull-catalogs")
        os.chmod(target, mode)
        assert code == 3, err
        line = error_line(err)
        assert str(box.state_path) in line and "cannot be written" in line
        assert "writable by the user" in line
        assert box.dump() == before
        converged(box)


def test_full_disk_under_the_state(sandbox, monkeypatch):
    """ENOSPC as SQLite meets it (SQLITE_FULL): the state cannot grow by a page."""
    before = received_first(sandbox)
    connect = onecsync.state._connect

    def full(path):
        conn = connect(path)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(onecsync.state, "_connect", full)
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 4, err
    assert "no space left on the device" in error_line(err)
    assert sandbox.dump() == before
    assert sandbox.outgoing("accounting")["received_no"] == 1
    monkeypatch.setattr(onecsync.state, "_connect", connect)
    converged(sandbox)


def fill_disk_under(monkeypatch, prefix: str = ".onecsync-tmp-", after: int = 0,
                    err: int = errno.ENOSPC) -> None:
    """os.write fails with `err` on files whose name starts with `prefix`, once `after` bytes
    went into them: every write, the flush of the clean-up included."""
    real_write = os.write
    written: dict[int, int] = {}

    def write(fd, data):
        try:
            name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            name = ""
        if name.startswith(prefix):
            if written.get(fd, 0) + len(data) > after:
                raise OSError(err, os.strerror(err))
            written[fd] = written.get(fd, 0) + len(data)
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)


def test_full_disk_under_the_outgoing_folder(sandbox, monkeypatch):
    received_first(sandbox)
    # Where our outgoing message is written (reading the base's message is not affected).
    fill_disk_under(monkeypatch)
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 4, err
    # One line per base that could not be sent to; the run went on to the other base.
    errors = [ln for ln in err.splitlines() if "onecsync: error: " in ln]
    assert len(errors) == 2 and "Traceback" not in err
    for line, peer in zip(errors, ("crm", "accounting"), strict=True):
        assert line.startswith(f"onecsync: error: {peer}: writing to folder")
        assert str(sandbox.folders[peer]) in line and "No space left on device" in line
    # What was received is kept; nothing was counted as sent.
    assert sandbox.numbers("accounting")[1] == 2
    assert sandbox.numbers("crm")[0] == 1
    assert not list(sandbox.folders["crm"].glob(".onecsync-tmp-*"))
    monkeypatch.undo()
    converged(sandbox)


def test_full_disk_everywhere_even_for_the_lock_file(sandbox, monkeypatch):
    before = received_first(sandbox)
    real_write = os.write

    def no_space(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", no_space)
    connect = onecsync.state._connect

    def full(path):
        conn = connect(path)
        conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
        return conn

    monkeypatch.setattr(onecsync.state, "_connect", full)
    code, _, err = sandbox.run("pull-catalogs")
    monkeypatch.undo()
    assert os.write is real_write
    assert code == 4, err
    assert "no space left" in error_line(err).lower()
    assert sandbox.dump() == before
    converged(sandbox)


def _userns_available() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-Urm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"
                            " 2>/dev/null || mount -t tmpfs -o size=64k tmpfs /tmp"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _userns_available(), reason="no user+mount namespaces for a tiny tmpfs")
def test_a_real_full_disk_on_a_tiny_tmpfs(tmp_path):
    """The state on a 2 MiB tmpfs filled to the last block: a real ENOSPC, then freed."""
    box_root = tmp_path / "box"
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(f"""
        import json, os, sys
        sys.path.insert(0, {str(f.REPO)!r})
        from tests import factory as f
        from tests.conftest import Sandbox
        from tests.emulator.world import run_in_process

        class Cap:
            def readouterr(self):
                return type("R", (), {{"out": "", "err": ""}})()

        box = Sandbox(__import__("pathlib").Path({str(box_root)!r}), Cap())
        def run():  # in this process: the tmpfs is the point, not a process per run
            r = run_in_process(["--config", str(box.config), "pull-catalogs"])
            return r.code, r.stderr
        box.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "x")]))
        first = run()
        box.put("accounting", f.Msg(message_no=2, received_no=1, created="2026-11-22T09:00:00",
                objects=[f.counterparty(f.ref(i), "y" * 200) for i in range(2, 402)]))
        before = box.dump()
        fd = os.open(box.state_path.parent / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"x" * 4096)
        except OSError:
            pass
        os.close(fd)
        full = run()
        same = box.dump() == before
        os.unlink(box.state_path.parent / "filler")
        again = run()
        print(json.dumps({{"first": first, "full": full, "same": same, "again": again,
                          "numbers": box.numbers("accounting"),
                          "crm": len(box.outgoing("crm")["objects"])}}))
    """))
    state = box_root / "state"
    state.mkdir(parents=True)
    script = (f"mount -t tmpfs -o size=2m,mode=0700 tmpfs {state} && "
              f"exec {sys.executable} {driver}")
    proc = subprocess.run(["unshare", "-Urm", "sh", "-c", script], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(f.REPO)})
    assert proc.returncode == 0, proc.stderr
    import json
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["first"][0] == 0, out
    code, err = out["full"]
    assert code == 4, err
    assert "no space left" in err.lower() or "disk" in err.lower(), err
    assert "Traceback" not in err
    assert out["same"] is True
    assert out["again"][0] == 0, out
    assert out["numbers"][1] == 2 and out["crm"] == 401


# -- the exchange folders --------------------------------------------------------------------

def test_exchange_folder_missing(sandbox):
    before = received_first(sandbox)
    moved = sandbox.root / "unmounted"
    sandbox.folders["accounting"].rename(moved)
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 3, err
    line = error_line(err)
    assert str(sandbox.folders["accounting"]) in line and "does not exist" in line
    assert sandbox.dump() == before
    moved.rename(sandbox.folders["accounting"])
    converged(sandbox)


def refused_with_mode(box, path: Path, mode: int) -> None:
    """One pull-catalogs with `path` chmod'ed to `mode` (its mode put back after): exit 3, and
    one error line naming the path as permission denied."""
    kept = stat.S_IMODE(os.stat(path).st_mode)
    os.chmod(path, mode)
    try:
        code, _, err = box.run("pull-catalogs")
    finally:
        os.chmod(path, kept)
    assert code == 3, err
    line = error_line(err)
    assert str(path) in line and "permission denied" in line


def test_exchange_folder_unreadable(usandbox):
    box = usandbox
    with box.unprivileged():
        before = received_first(box)
        refused_with_mode(box, box.folders["accounting"], 0o000)
        assert box.dump() == before
        converged(box)


def test_a_share_we_may_use_but_not_list_works(usandbox):
    """Mode 0300: the exact file names can be read and written, the folder not listed (nor
    opened to fsync the rename): that is enough, and not a failure."""
    box = usandbox
    with box.unprivileged():
        received_first(box)
        os.chmod(box.folders["accounting"], 0o300)
        try:
            code, _, err = box.run("pull-catalogs")
        finally:
            os.chmod(box.folders["accounting"], 0o700)
        assert code == 0, err
        assert box.numbers("accounting") == (2, 2, 1)
        assert box.outgoing("accounting")["received_no"] == 2


def test_message_file_unreadable(usandbox):
    box = usandbox
    with box.unprivileged():
        before = received_first(box)
        refused_with_mode(box, box.incoming("accounting"), 0o000)
        assert box.dump() == before
        converged(box)


def test_outgoing_folder_not_writable(usandbox):
    box = usandbox
    with box.unprivileged():
        received_first(box)
        refused_with_mode(box, box.folders["crm"], 0o500)
        # The accounting message is staged and will be confirmed; the CRM has not been sent
        # anything new, and gets it all on the next run.
        assert box.numbers("accounting")[1] == 2
        assert box.numbers("crm")[0] == 1
        converged(box)


def test_reading_fails_in_the_middle_of_the_message(sandbox, monkeypatch):
    """The share goes away while the file is read: temporary, nothing staged."""
    before = received_first(sandbox)

    class Dropping(io.RawIOBase):
        def __init__(self, inner):
            self.inner, self.n = inner, 0

        def readable(self):
            return True

        def readinto(self, b):
            self.n += 1
            if self.n > 2:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            data = self.inner.read(min(len(b), 2048))
            b[:len(data)] = data
            return len(data)

    real = directory.DirectoryTransport._open
    monkeypatch.setattr(directory.DirectoryTransport, "_open",
                        lambda self, fd, path: io.BufferedReader(Dropping(real(self, fd, path)),
                                                                 2048))
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 4, err
    line = error_line(err)
    assert "reading failed" in line and "Input/output error" in line
    assert sandbox.dump() == before
    assert not (sandbox.state_path.parent / "quarantine").exists()
    monkeypatch.undo()
    converged(sandbox)
