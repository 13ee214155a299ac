"""The command line as cron and scripts see it: exit codes, --json, --dry-run, the lock."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from onecsync.cli import cli
from tests import factory as f


def tree_digest(root) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def file_mtimes(root) -> dict:
    """Every file's mtime. Not the folders': SQLite's write-ahead log files come and go beside
    the state while anyone reads it (the last reader out removes them), which a folder's mtime
    records; no file is created, changed or left."""
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_dry_run_writes_nothing_and_says_what_it_would_send(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.run("pull-catalogs")  # a state exists
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1, created="2026-11-21T09:00:00",
                                    objects=[f.counterparty(f.ref(2), "АО Василек")]))
    before = tree_digest(sandbox.root)
    mtimes = file_mtimes(sandbox.root)
    code, report, err = sandbox.run("--dry-run", "pull-catalogs")
    assert code == 0, err
    assert tree_digest(sandbox.root) == before
    assert file_mtimes(sandbox.root) == mtimes
    assert report["dry_run"] is True
    sent = report["peers"]["crm"]["sent"]
    assert sent["message_no"] == 2 and sent["objects"] == 2
    assert sent["by_type"] == {"Справочник.Контрагенты": 2}


def test_dry_run_on_a_fresh_setup_creates_no_state(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    before = tree_digest(sandbox.root)
    code, report, _ = sandbox.run("--dry-run", "run")
    assert code == 0
    assert tree_digest(sandbox.root) == before
    assert not (sandbox.root / "state").exists()
    assert report["peers"]["crm"]["sent"]["objects"] == 1


def test_a_second_concurrent_run_exits_8_naming_the_holder(sandbox):
    sandbox.run("pull-catalogs")  # creates the state folder and the lock file
    with sandbox.lock_held() as holder:
        code, report, err = sandbox.run("pull-catalogs")
        assert code == 8
        assert f"pid {holder.pid}" in err and holder.started in err
        assert report["exit_code"] == 8


def test_a_lock_left_by_a_dead_process_is_taken_over(sandbox):
    sandbox.run("pull-catalogs")
    lock = sandbox.state_path.with_name("onecsync.sqlite.lock")
    lock.write_text(json.dumps({"pid": 999999, "command": "run", "started": "yesterday"}))
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    # Released at the end: another process can take it at once.
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


def test_json_report_names_numbers_and_counts_per_peer(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка"),
                                             f.deletion("КонтрагентыСсылка", f.ref(2))]))
    code, report, _ = sandbox.run("pull-catalogs")
    assert code == 0
    assert report["command"] == "pull-catalogs" and report["exit_code"] == 0
    received = report["peers"]["accounting"]["received"]
    assert (received["message_no"], received["objects"], received["deletions"],
            received["duplicate"]) == (1, 1, 1, False)
    assert report["peers"]["crm"]["sent"]["message_no"] == 1
    # The deletion names an object the CRM never got from us: it is not passed on.
    assert report["peers"]["crm"]["sent"]["objects"] == 1
    assert report["peers"]["accounting"]["sent"]["objects"] == 0


def test_human_report_goes_to_stderr_and_stdout_stays_empty(sandbox, capsys):
    from onecsync.cli import main
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(sandbox.config), "pull-catalogs"])
    out = capsys.readouterr()
    assert exc.value.code == 0
    assert out.out == ""
    assert "received message 1: 1 object, 0 deletions" in out.err  # m8: 1 object, 2 objects
    assert "sent message 1 (format 1.8): 1 object" in out.err and "1 objects" not in out.err


@pytest.mark.parametrize("text, fragments", [
    ("node: {code: not-a-uuid}\nbases: {}\nextra: 1\n",
     ["node.code: 'not-a-uuid' is not a node code", "bases.accounting: missing",
      "bases.crm: missing", "extra: unknown key"]),
    (f"node: {{code: {f.NODE}}}\nbases:\n  accounting:\n    code: {f.ACCOUNTING}\n"
     "    transport: {kind: directory}\n    password: hunter2\n"
     f"  crm:\n    code: {f.CRM}\n    transport: {{kind: smoke-signals, path: x}}\n",
     ["bases.accounting.transport.path: missing",
      "bases.accounting.password: unknown key (plaintext passwords are not allowed",
      "bases.crm.transport.kind: 'smoke-signals' is not one of"]),
    ("node: [unclosed\n", ["not valid YAML at line"]),
])
def test_config_problems_are_all_reported_with_exit_3(sandbox, text, fragments):
    sandbox.config.write_text(text, encoding="utf-8")
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 3
    for fragment in fragments:
        assert fragment in err
    assert "hunter2" not in err and "hunter2" not in json.dumps(report)
    assert "Traceback" not in err


def test_missing_config_file_names_where_it_looked(tmp_path, capsys, monkeypatch):
    from onecsync.cli import main
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ONECSYNC_CONFIG", raising=False)
    with pytest.raises(SystemExit) as exc:
        main(["run"])
    assert exc.value.code == 3
    err = capsys.readouterr().err
    assert "no config file found (looked for onecsync.yaml, " in err
    assert "/etc/onecsync/onecsync.yaml, " in err and "/onecsync/onecsync.yaml)" in err


def test_config_from_the_environment_variable(sandbox, monkeypatch, capsys):
    from onecsync.cli import main
    monkeypatch.setenv("ONECSYNC_CONFIG", str(sandbox.config))
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    with pytest.raises(SystemExit) as exc:
        main(["--json", "pull-catalogs"])
    assert exc.value.code == 0
    assert json.loads(capsys.readouterr().out)["peers"]["crm"]["sent"]["objects"] == 1


def test_usage_error_exits_2(capsys):
    from onecsync.cli import main
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2


def test_an_unexpected_error_is_one_line_without_traceback(sandbox, monkeypatch):
    import onecsync.flows.runner as runner
    monkeypatch.setitem(runner.ROUTERS, "pull-catalogs", lambda *a: 1 / 0)
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 1
    assert "internal error: ZeroDivisionError" in err and "-v" in err
    assert "Traceback" not in err
    code, _, err = sandbox.run("-v", "pull-catalogs")
    assert "Traceback" in err


def test_every_command_has_help():
    def walk(group, prefix=""):
        for name, command in group.commands.items():
            yield prefix + name, command
            yield from walk(command, f"{prefix}{name} ") if hasattr(command, "commands") else ()

    names = []
    for name, command in walk(cli):
        assert command.help and len(command.help.strip()) > 20, name
        names.append(name)
    assert {"status", "validate", "state", "state set-numbers", "state export"} <= set(names)


def test_python_dash_m_runs_the_cli(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    proc = subprocess.run([sys.executable, "-m", "onecsync", "--config", str(sandbox.config),
                           "--json", "pull-catalogs"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["peers"]["crm"]["sent"]["objects"] == 1


def test_dry_run_copies_nothing_and_cannot_commit(sandbox, monkeypatch, tmp_path):
    """--dry-run works on the real file in a transaction it rolls back: no copy of the state
    (whose cost grows with the state), and no way for the run to make a change stick."""
    import tempfile

    from onecsync.state import dryrun
    from onecsync.state import open_dry_run

    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.run("pull-catalogs")
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1, created="2026-11-21T09:00:00",
                                    objects=[f.counterparty(f.ref(2), "АО Василек")]))

    def no_copy(*a, **kw):
        raise AssertionError("the dry run made a copy")

    monkeypatch.setattr(dryrun, "_copy", no_copy)
    monkeypatch.setattr(tempfile, "mkstemp", no_copy)
    before, mtimes = tree_digest(sandbox.root), file_mtimes(sandbox.root)
    code, report, err = sandbox.run("--dry-run", "pull-catalogs")
    assert code == 0, err
    assert report["peers"]["crm"]["sent"]["objects"] == 2
    assert (tree_digest(sandbox.root), file_mtimes(sandbox.root)) == (before, mtimes)
    state, finish = open_dry_run(sandbox.state_path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
            with state.atomic():  # inside: a savepoint; then a commit, which is refused
                state.peers.update("crm", sent_no=99)
                state.conn.execute("COMMIT")
    finally:
        finish()
    assert sandbox.numbers("crm")[0] == 1


@pytest.mark.parametrize("args, code, words", [
    (["--config", "/nonexistent/onecsync.yaml", "--json", "run"], 3, "/nonexistent/onecsync.yaml"),
    (["--json", "run", "--no-such-option"], 2, "--no-such-option"),
    (["--json", "no-such-command"], 2, "no-such-command"),
])
def test_every_failing_json_run_prints_a_document_with_its_code_and_line(capsys, args, code,
                                                                          words):
    """A script reading --json gets a document whatever ended the run: a configuration or a
    usage error (a stop by SIGTERM or run_timeout: test_killed, test_hostile_servers)."""
    from tests.conftest import invoke

    got, out, err = invoke(capsys, *args)
    assert got == code, err
    document = json.loads(out)
    assert document["exit_code"] == code and words in document["error"], document


def test_a_json_run_that_finds_the_lock_held_says_so_even_quiet(sandbox):
    sandbox.run("pull-catalogs")
    with sandbox.lock_held() as holder:
        code, report, err = sandbox.run("-q", "pull-catalogs")
    assert code == 8 and report["exit_code"] == 8 and f"pid {holder.pid}" in report["error"]


def test_a_json_run_ended_by_run_timeout_prints_its_document(sandbox, monkeypatch):
    from onecsync.errors import TimedOut
    from onecsync.flows import runner

    def stuck(*args, **kw):
        raise TimedOut(3)

    monkeypatch.setattr(runner, "execute", stuck)
    code, report, err = sandbox.run("run")
    assert code == 4, err
    assert report == {"command": "run", "dry_run": False, "exit_code": 4,
                      "error": "timed out: the run went past run_timeout (3 s): "
                      + TimedOut.remedy, "problems": []}
