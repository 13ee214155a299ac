"""Review R6 H2: a command started with stdin, stdout or stderr closed (`2>&-`, `>&-`, `<&-`:
Python makes sys.stderr None) does its work as with /dev/null there, and exits with its work's
code. The process itself is under test: only a real closed descriptor makes sys.stderr None."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests import factory as f


def closed(box, redirect: str, *args: str) -> subprocess.CompletedProcess:
    command = " ".join([sys.executable, "-m", "onecsync", "--config", str(box.config), *args])
    return subprocess.run(["sh", "-c", f"exec {command} {redirect}"], capture_output=True,
                          timeout=60)


@pytest.mark.parametrize("redirect, args", [
    ("2>&-", ("run",)), ("2>&-", ("--log-format", "json", "run")),
    ("2>&-", ("--json", "run")), (">&-", ("--json", "run")), ("<&-", ("run",)),
], ids=lambda v: v if isinstance(v, str) else " ".join(v))
def test_a_run_with_a_stream_closed_does_its_work_and_exits_0(sandbox, redirect, args):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    proc = closed(sandbox, redirect, *args)
    assert proc.returncode == 0, proc.stderr
    assert sandbox.journal()[0] == (0, None)
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", f.ref(1))]
    if "--json" in args and redirect == "2>&-":
        assert json.loads(proc.stdout)["exit_code"] == 0


@pytest.mark.parametrize("redirect, command", [("2>&-", "status"), (">&-", "status"),
                                               ("2>&-", "check"), ("2>&-", "validate")])
def test_read_only_commands_with_a_stream_closed_exit_with_their_code(sandbox, redirect, command):
    msg = sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    args = (command, str(msg)) if command == "validate" else (command,)
    proc = closed(sandbox, redirect, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert b"internal error" not in proc.stdout + proc.stderr


def test_a_closed_descriptor_is_never_given_to_a_file_the_command_opens(tmp_path):
    """Else a file opened first (the lock, a message) would be "stderr" for whatever writes to
    descriptor 2 below Python."""
    script = ("import os; from onecsync.console import fill_closed; fill_closed(); "
              f"print(os.open({str(tmp_path / 'lock')!r}, os.O_CREAT | os.O_WRONLY))")
    proc = subprocess.run(["sh", "-c", f"exec {sys.executable} -c \"{script}\" 2>&-"],
                          capture_output=True, timeout=60)
    assert int(proc.stdout) > 2, proc.stdout
