"""Review R6 H1: stdout or stderr that fails otherwise than by a reader gone (a full disk under
`onecsync --json run >> /var/log/x.json`, EIO) ends no command in "internal error" and no
traceback: a command that did its work exits 4 (the next run's report is written), one that
failed keeps its code, the run's journal keeps the code of its work, the stream that failed is
never written to again, and stderr, when it still works, says which stream failed and why."""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys

import pytest

from onecsync.cli import main
from tests import factory as f


class Failing(io.TextIOBase):
    """A stream that fails with `err` (ENOSPC: a full disk) every write, and every flush of
    something written; `attempts` counts them."""

    def __init__(self, err: int = errno.ENOSPC) -> None:
        self.err, self.attempts, self.pending = err, 0, False
        self.buffer = self  # settings-message writes its bytes there

    def write(self, data) -> int:
        self.attempts, self.pending = self.attempts + 1, True
        raise OSError(self.err, os.strerror(self.err))

    def flush(self) -> None:
        if self.pending:
            self.attempts += 1
            raise OSError(self.err, os.strerror(self.err))


def failing(sandbox, monkeypatch, which: str, *args: str, err: int = errno.ENOSPC):
    """Run onecsync in-process with sys.<which> failing; (exit code, the other stream, attempts
    made on the failing one)."""
    stream = Failing(err)
    sandbox.capsys.readouterr()
    monkeypatch.setattr(sys, which, stream)
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(sandbox.config), *args])
    monkeypatch.undo()
    out = sandbox.capsys.readouterr()
    return exc.value.code, out.err if which == "stdout" else out.out, stream.attempts


def a_run_done(sandbox) -> None:
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))


def test_a_json_run_on_a_full_disk_is_committed_exits_4_and_says_so_once(sandbox, monkeypatch):
    a_run_done(sandbox)
    code, err, attempts = failing(sandbox, monkeypatch, "stdout", "--json", "run")
    assert code == 4
    assert err.splitlines() == ["onecsync: error: stdout could not be written: No space left on "
                                "device (ENOSPC): what it shows is incomplete; what the command "
                                "did stands (a run's own exit code is in `onecsync status`)"]
    assert attempts == 1  # the failure document never tried the same stream again
    assert sandbox.journal()[0] == (0, None)  # the work: done, and journaled so
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", f.ref(1))]


@pytest.mark.parametrize("err", [errno.EIO, errno.EDQUOT, errno.EFBIG])
def test_any_error_of_stdout_is_said_by_its_name(sandbox, monkeypatch, err):
    a_run_done(sandbox)
    code, line, _ = failing(sandbox, monkeypatch, "stdout", "--json", "run", err=err)
    assert code == 4 and f"({errno.errorcode[err]})" in line and "Traceback" not in line


@pytest.mark.parametrize("which", ["stdout", "stderr"])
def test_a_failed_run_keeps_its_code_when_its_output_fails(sandbox, monkeypatch, which):
    sandbox.put("crm", b"<broken/>")
    code, _, attempts = failing(sandbox, monkeypatch, which, "--json", "run")
    assert code == 5 and attempts == 1
    assert sandbox.journal()[0][0] == 5


@pytest.mark.parametrize("args", [("status",), ("--json", "status"), ("state", "show"),
                                  ("state", "export"), ("manpage",), ("--help",),
                                  ("--version",), ("trace", f.ref(1)),
                                  ("settings-message", "crm", "-o", "-")], ids=" ".join)
def test_every_command_whose_stdout_is_full_exits_4_without_a_traceback(sandbox, monkeypatch,
                                                                         args):
    a_run_done(sandbox)
    assert sandbox.run("run")[0] == 0
    code, err, attempts = failing(sandbox, monkeypatch, "stdout", *args)
    assert code == 4, err
    assert attempts == 1
    assert err.count("\n") == 1 and "stdout could not be written" in err, err


@pytest.mark.parametrize("args", [("run",), ("-q", "run"), ("check",), ("--bogus",)],
                         ids=" ".join)
def test_commands_whose_stderr_is_full_write_it_once(sandbox, monkeypatch, args):
    a_run_done(sandbox)
    code, out, attempts = failing(sandbox, monkeypatch, "stderr", *args)
    assert attempts <= 1
    assert code == {"run": 4, "-q": 0, "check": 4, "--bogus": 2}[args[0]]  # -q writes nothing
    assert out == ""
    if "run" in args:
        assert sandbox.journal()[0] == (0, None)


def test_the_real_dev_full_ends_4_with_one_line_and_nothing_at_exit(sandbox):
    """The process itself: the buffer Python flushes at exit must not fail again (exit 120,
    "Exception ignored")."""
    a_run_done(sandbox)
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "onecsync", "--config", str(sandbox.config),
                               "--json", "run"], stdout=full, stderr=subprocess.PIPE, timeout=60)
    assert proc.returncode == 4
    assert proc.stderr.decode().count("\n") == 1 and b"could not be written" in proc.stderr
    assert sandbox.journal()[0] == (0, None)
