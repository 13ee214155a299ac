"""A lock whose holder will not finish by itself is no "busy, nothing to do" (review 6, #6, m3).

A run stopped by Ctrl-Z/SIGSTOP, or hung past run_timeout where no signal acts, keeps the flock:
every scheduled run after it is told loudly (exit 3, even under -q) who holds it since when and
how to resume or end it, and `status` flags it. Its lock is never broken. A holder the lock file
does not name (a dry run, flock(1)) is named by its pid, never as what it is not.
"""

from __future__ import annotations

import datetime
import os
import signal

import pytest

from onecsync import clock
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
