"""A reader that goes away (`onecsync status | head -0`, `onecsync run --json | true`): no
traceback and no exit 1. The command's work stands; it exits 141 (what a shell reports for a
command SIGPIPE ended) when it succeeded, and keeps its own code when it failed. The process
itself is under test here: only a real closed pipe breaks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests import factory as f


def with_closed(box, which: str, *args: str) -> tuple[int, bytes]:
    """Run onecsync with stdout or stderr a pipe whose reader has already gone; returns the exit
    code and what came out on the other stream."""
    read, write = os.pipe()
    os.close(read)
    other = "stderr" if which == "stdout" else "stdout"
    try:
        proc = subprocess.run([sys.executable, "-m", "onecsync", "--config", str(box.config), *args],
                              **{which: write, other: subprocess.PIPE}, timeout=60)
    finally:
        os.close(write)
    return proc.returncode, getattr(proc, other)


def test_a_run_whose_reader_went_away_is_committed_and_exits_141(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    code, err = with_closed(sandbox, "stdout", "--json", "run")
    assert (code, err) == (141, b"")
    assert sandbox.numbers("crm")[0] == 1 and sandbox.numbers("accounting")[1] == 1
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", f.ref(1))]
    assert sandbox.journal()[0] == (0, None)  # the run itself went through


@pytest.mark.parametrize("which", ["stdout", "stderr"])
def test_a_failed_run_keeps_its_code_when_its_reader_went_away(sandbox, which):
    sandbox.put("crm", b"<broken/>")
    code, _ = with_closed(sandbox, which, "--json", "run")
    assert code == 5
    assert sandbox.journal()[0][0] == 5


@pytest.mark.parametrize("args", [("status",), ("status", "--json"), ("state", "show"),
                                  ("state", "export"), ("check",), ("manpage",),
                                  ("settings-message", "crm", "-o", "-")], ids=" ".join)
def test_read_only_commands_end_quietly_when_their_reader_went_away(sandbox, args):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert sandbox.run("run")[0] == 0
    which = "stderr" if args == ("check",) else "stdout"  # check reports on stderr
    code, out = with_closed(sandbox, which, *args)
    assert code == 141
    assert b"Traceback" not in out and b"internal error" not in out
