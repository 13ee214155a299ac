"""The state when the admin looks: during a long run, and after the run was killed.

These use real processes, since that is the point: a writer that really holds a transaction, a
run that really gets SIGTERM, SIGINT or SIGKILL. The commands that only look (`status`,
`state show`, `check`, `--dry-run`) answer from the last commit, and a rerun converges.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tests import factory as f

FIRST = f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")])
SECOND = f.Msg(message_no=2, received_no=1, created="2026-11-22T09:00:00",
               objects=[f.counterparty(f.ref(i), f"ООО Клиент {i}") for i in range(2, 302)])

# A writer in its own process: holds the run lock, journals a run, and stages many objects in
# one transaction too big for its cache (so SQLite spills pages while it is open); then, told
# by its argument, waits on stdin, kills itself, or does the same on a state in the old
# rollback-journal mode.
WRITER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from onecsync.protocol.reader import BodyObject
    from onecsync.state import RunLock, lock_path, open_state
    path, how = Path(sys.argv[1]), sys.argv[2]
    with RunLock(lock_path(path), "run"):
        state = open_state(path)
        if how == "legacy-kill":
            state.conn.execute("PRAGMA journal_mode = DELETE")
        state.conn.execute("PRAGMA cache_size = 10")
        state.journal.begin("run")
        with state.atomic():
            state.peers.update("accounting", received_no=99)
            state.inbox.stage("accounting", 99, "1.8", (
                BodyObject(type="Справочник.Контрагенты", ref=f"{i:08d}-0000-0000-0000-000000000000",
                           kind="object", xml=b"<x>" + b"y" * 2000 + b"</x>", digest=str(i),
                           line=i, problem=None) for i in range(3000)))
            print("holding", flush=True)
            if how == "hold":
                sys.stdin.read()
            else:
                os.kill(os.getpid(), signal.SIGKILL)
""")


def writer(box, how: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(box.state_path), how],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(f.REPO)})
    assert proc.stdout.readline().strip() == "holding"
    return proc


def first_exchange(box) -> dict:
    box.put("accounting", FIRST)
    code, _, err = box.run("pull-catalogs")
    assert code == 0, err
    return box.dump()


def looks_work(box, numbers: tuple[int, int, int]) -> None:
    """Every command that only looks answers (exit 0) with the numbers of the last commit."""
    code, report, err = box.run("status")
    assert code == 0, err
    assert (report["peers"]["accounting"]["received_no"]) == numbers[1]
    code, report, err = box.run("state", "show")
    assert code == 0, err
    acc = report["peers"]["accounting"]
    assert (acc["sent_no"], acc["received_no"], acc["confirmed_no"]) == numbers
    code, report, err = box.run("check")
    assert code == 0, err


def test_status_during_a_long_transaction_answers_with_the_last_commit(sandbox):
    before = first_exchange(sandbox)
    numbers = sandbox.numbers("accounting")
    proc = writer(sandbox, "hold")
    try:
        looks_work(sandbox, numbers)
        code, report, err = sandbox.run("status")
        assert report["in_progress"]["pid"] == proc.pid
        assert report["runs"][0]["state"] == "running"
        code, out, err = sandbox.human("status")
        assert code == 0, err
        assert "a run is in progress since" in out and f"(pid {proc.pid}, run)" in out
        assert sandbox.dump() == before
        code, _, err = sandbox.human("--dry-run", "run")
        assert code == 8 and "a run is in progress" in err
    finally:
        proc.communicate("")
    code, report, _ = sandbox.run("status")
    assert report["in_progress"] is None


@pytest.mark.parametrize("how", ["kill", "legacy-kill"])
def test_after_sigkill_everything_that_looks_works_and_the_run_shows_as_died(sandbox, how):
    """SIGKILL mid-transaction: in WAL mode, and on a state still in the old journal mode
    (whose hot journal a read-only connection could not roll back: "attempt to write a
    readonly database")."""
    before = first_exchange(sandbox)
    numbers = sandbox.numbers("accounting")
    proc = writer(sandbox, how)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    looks_work(sandbox, numbers)
    code, report, err = sandbox.run("--dry-run", "pull-catalogs")
    assert code == 0, err
    code, report, _ = sandbox.run("status")
    assert report["in_progress"] is None
    died = report["runs"][0]
    assert died["state"] == "died" and died["exit_code"] is None
    assert "died" in died["error"]
    code, out, _ = sandbox.human("status")
    assert "running" not in out and "died" in out
    assert sandbox.dump() == before
    sandbox.put("accounting", SECOND)
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert sandbox.numbers("accounting")[1] == 2


# A real `onecsync run` that stops inside its receive transaction until a signal comes.
SLOW_RUN = textwrap.dedent("""
    import sys, time
    from onecsync.state.inbox import Inbox
    stage = Inbox.stage
    def slow(self, *args, **kw):
        counts = stage(self, *args, **kw)
        print("staged", flush=True)
        time.sleep(60)
        return counts
    Inbox.stage = slow
    from onecsync.cli import main
    main(sys.argv[1:])
""")


@pytest.mark.parametrize("sig, line, code", [
    (signal.SIGTERM, "stopped (SIGTERM)", 143),
    (signal.SIGINT, "interrupted (Ctrl-C)", 130)])
def test_sigterm_and_ctrl_c_are_journaled_and_undo_the_run(sandbox, sig, line, code):
    before = first_exchange(sandbox)
    sandbox.put("accounting", SECOND)
    proc = subprocess.Popen([sys.executable, "-c", SLOW_RUN, "--config", str(sandbox.config),
                             "--json", "pull-catalogs"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(f.REPO)})
    assert proc.stdout.readline().strip() == "staged"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    [shown] = [ln for ln in err.splitlines() if "onecsync: error:" in ln]
    assert line in shown and "Traceback" not in err
    # A script reading --json learns how the run ended, too.
    document = json.loads(out)
    assert document["exit_code"] == code and document["error"].startswith(line), document
    assert sandbox.dump() == before  # the message's transaction was rolled back
    assert sandbox.journal()[0] == (code, line)
    _, report, _ = sandbox.run("status")
    assert report["runs"][0]["state"] == "ended" and report["runs"][0]["error"] == line
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert sandbox.numbers("accounting")[1] == 2
    assert json.dumps(report)  # the rerun reports normally
