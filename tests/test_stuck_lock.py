"""A lock whose holder will not finish by itself is no "busy, nothing to do" (review 6, #6, m3).

A run stopped by Ctrl-Z/SIGSTOP, or hung past run_timeout where no signal acts, keeps the flock:
every scheduled run after it is told loudly (exit 3, even under -q) who holds it since when and
how to resume or end it, and `status` flags it. Its lock is never broken. A holder the lock file
does not name (a dry run, flock(1)) is named by its pid, never as what it is not.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys

import pytest

from onecsync import clock
from onecsync.flows import runner
from onecsync.state import holder as holder_module
from onecsync.state import lock as lock_module
from onecsync.state.holder import STUCK_MARGIN
from tests import factory as f


@pytest.fixture
def exchanged(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert sandbox.run("run")[0] == 0
    return sandbox


def _stopped(holder):
    os.kill(holder.pid, signal.SIGSTOP)
    # SIGSTOP is delivered asynchronously: wait (unbounded by time, bounded by the kernel) until
    # /proc says it is stopped.
    while True:
        with open(f"/proc/{holder.pid}/stat") as fh:
            if fh.read().rpartition(")")[2].split()[0] == "T":
                return


@pytest.mark.parametrize("command", [("-q", "run"), ("-q", "push-invoices"),
                                     ("state", "set-numbers", "crm", "--sent", "1", "--yes"),
                                     ("--dry-run", "run")], ids=" ".join)
def test_a_stopped_holder_is_said_loudly_with_its_pid_and_the_remedy(exchanged, command):
    box = exchanged
    dump, journal = box.dump(), box.journal()
    with box.lock_held() as holder:
        _stopped(holder)
        try:
            code, out, err = box.human(*command)
        finally:
            os.kill(holder.pid, signal.SIGCONT)
    assert code == 3, err
    assert err.splitlines() == [
        f"onecsync: error: the run pid {holder.pid} (run) has held {box.state_path}.lock since "
        f"{holder.started} and is stopped by a signal: nothing is exchanged until it ends (let it go on: "
        f"kill -CONT {holder.pid}; or end it: kill {holder.pid}; kill -CONT {holder.pid}, "
        "which undoes what it had not committed)"]
    assert box.dump() == dump and box.journal() == journal


def test_status_flags_a_stopped_holder(exchanged):
    box = exchanged
    with box.lock_held() as holder:
        _stopped(holder)
        try:
            code, report, _ = box.run("status")
            _, out, _ = box.human("status")
        finally:
            os.kill(holder.pid, signal.SIGCONT)
    assert code == 0 and report["lock"]["stuck"] == "stopped by a signal"
    assert f"; STUCK: stopped by a signal, nothing is exchanged until it ends (kill -CONT {holder.pid}, " \
           f"or kill {holder.pid})" in out


def test_a_holder_past_run_timeout_is_hung_not_busy(exchanged):
    """A run blocked where no signal acts (a dead hard-mounted share) is past its run_timeout
    (3600 s by default) and the margin; just inside them it may still finish: busy, silent."""
    box = exchanged
    with box.lock_held() as holder:
        started = datetime.datetime.fromisoformat(holder.started)
        with clock.frozen(started + datetime.timedelta(seconds=3600 + STUCK_MARGIN - 5)):
            assert box.human("-q", "run") == (8, "", "")
            assert box.run("status")[1]["lock"]["stuck"] is None
        with clock.frozen(started + datetime.timedelta(seconds=3600 + STUCK_MARGIN + 5)):
            code, _, err = box.human("-q", "run")
            assert box.run("status")[1]["lock"]["stuck"] == "past run_timeout"
    assert code == 3
    assert f"the run pid {holder.pid} (run) has held" in err and "past run_timeout: it is " \
        f"hung, and nothing is exchanged until it ends (end it: kill {holder.pid}, or kill " \
        f"-9 {holder.pid} if it stays;" in err


def test_a_killed_run_s_text_does_not_make_a_dry_run_look_hung(exchanged):
    """A run killed outright leaves its text in the lock file; a dry run holding the lock now
    is named as the dry run, not as that old run, and is not judged by its start."""
    box = exchanged
    lock = box.state_path.with_name("onecsync.sqlite.lock")
    lock.write_text('{"pid": 999999999, "command": "run", "started": "2026-01-01T00:00:00+00:00"}')
    with box.lock_held(command=None, shared=True) as holder:
        code, _, err = box.human("run")
    assert code == 8
    assert f"is held (a --dry-run, pid {holder.pid}) (nothing to do: the next scheduled run " \
        "does the exchange)" in err, err


def test_flock_by_an_admin_is_named_by_its_pid_not_as_a_dry_run(exchanged):
    box = exchanged
    with box.lock_held(command=None) as holder:
        code, _, err = box.human("run")
        code_q = box.human("-q", "run")
    assert code == 8 and code_q == (8, "", "")
    assert f"is held (pid {holder.pid}, a program that is no onecsync run: it names no one)" \
        in err and "dry-run" not in err, err


def test_a_flow_is_not_told_another_flow_will_do_its_work(exchanged):
    box = exchanged
    with box.lock_held(command="pull-catalogs"):
        _, _, other = box.human("push-invoices")
        _, _, same = box.human("pull-catalogs")
    assert "(nothing to do: the next scheduled run does the exchange)" in other, other
    assert "(nothing to do: that run will finish)" in same, same


@pytest.mark.parametrize("lie", [[1], {"a": 1}, True, -5, "123", 1.5], ids=repr)
def test_a_lock_file_that_lies_about_its_pid_names_no_one(exchanged, lie):
    """The lock file is outside input (any program may take the flock and write anything): a
    pid of the wrong kind is no holder's word, and the lock is simply busy (review 7b, #6)."""
    box = exchanged
    dump = box.dump()
    with box.lock_held(pid=lie) as holder:
        code, _, err = box.human("run")
        status, report, _ = box.run("status")
    assert code == 8, err
    assert f"is held (pid {holder.pid}," in err and "internal error" not in err, err
    assert status == 0 and report["lock"]["pid"] == holder.pid
    assert box.dump() == dump


@pytest.fixture
def kernel_cannot_tell(monkeypatch):
    """No /proc/locks (gVisor, some containers), or a holder in another pid namespace."""
    monkeypatch.setattr(holder_module, "lockers", lambda path: None)
    monkeypatch.setattr(lock_module, "lockers", lambda path: None)


def _left_text(box, pid: int) -> None:
    """What a run killed outright two hours ago left in the lock file."""
    lock = box.state_path.with_name("onecsync.sqlite.lock")
    started = (clock.local_now() - datetime.timedelta(hours=2)).isoformat(timespec="seconds")
    lock.write_text(json.dumps({"pid": pid, "command": "run", "started": started}))


@pytest.mark.parametrize("left_by", ["a dead pid", "a pid reused by another program"])
def test_without_the_kernel_s_word_a_stale_pid_is_never_named_hung(
        exchanged, kernel_cannot_tell, left_by):
    """The lock file's pid is named only when it is a live onecsync: else the admin would be
    told to kill -9 a dead pid, or an unrelated program that has it now (review 7b, m2)."""
    box = exchanged
    other = subprocess.Popen(["sleep", "30"])
    try:
        _left_text(box, 999_999_999 if left_by == "a dead pid" else other.pid)
        with box.lock_held(command=None, shared=True):
            code, _, err = box.human("run")
    finally:
        other.kill()
        other.wait()
    assert code == 8, err
    assert "hung" not in err and "kill" not in err, err
    assert "is held (a --dry-run or another program: it names no one)" in err, err


def test_without_the_kernel_s_word_a_live_onecsync_is_still_judged(exchanged, kernel_cannot_tell,
                                                                  tmp_path):
    box = exchanged
    script = tmp_path / "onecsync"  # a hung run, as /proc/<pid>/cmdline shows the script's
    script.write_text("import time\ntime.sleep(30)\n")
    run = subprocess.Popen([sys.executable, str(script)])
    try:
        _left_text(box, run.pid)
        with box.lock_held(command=None, shared=True):
            code, _, err = box.human("-q", "run")
    finally:
        run.kill()
        run.wait()
    assert code == 3 and f"the run pid {run.pid} (run) has held" in err and "past run_timeout" \
        in err, err


def test_a_holder_is_judged_hung_from_when_its_ceiling_began(exchanged):
    """Opening and upgrading a big state comes before the run's ceiling and may take long: the
    holder is judged from when its ceiling began, which the run writes then (review 7b, m4)."""
    box = exchanged
    taken = clock.local_now() - datetime.timedelta(seconds=3600 + STUCK_MARGIN + 5)
    ceiling = taken + datetime.timedelta(minutes=20)  # a 2M-object upgrade
    with box.lock_held(started=taken.isoformat(timespec="seconds"),
                       extra={"ceiling_started": ceiling.isoformat(timespec="seconds")}):
        assert box.human("-q", "run") == (8, "", "")
        assert box.run("status")[1]["lock"]["stuck"] is None
        with clock.frozen(ceiling + datetime.timedelta(seconds=3600 + STUCK_MARGIN + 5)):
            assert box.human("-q", "run")[0] == 3


def test_a_run_writes_when_its_ceiling_begins(exchanged, monkeypatch):
    box = exchanged
    lock = box.state_path.with_name("onecsync.sqlite.lock")
    seen = []

    class Recording(runner.RunCeiling):
        def __enter__(self):
            seen.append(lock_module.read_holder(lock))
            return super().__enter__()

    monkeypatch.setattr(runner, "RunCeiling", Recording)
    assert box.run("run")[0] == 0
    assert seen and seen[0]["pid"] == os.getpid() and seen[0]["ceiling_started"] >= \
        seen[0]["started"], seen
