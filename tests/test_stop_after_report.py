"""Review R6 M1: a stop (SIGTERM, Ctrl-C) that comes once a command's outcome is settled, its
work committed and its report begun, changes nothing: the command ends with its own code, with
one --json document and no "stopped: … undone" line after a report that said it was done. A stop
that comes before a word of an error was said is that command's one outcome. The signal is
raised where the window is (signal.raise_signal: its handler runs at the next bytecode)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from onecsync import console
from onecsync.cli import app
from tests import factory as f


def documents(text: str) -> list[dict]:
    docs, dec, i = [], json.JSONDecoder(), 0
    while (i := len(text) - len(text[i:].lstrip())) < len(text):
        doc, i = dec.raw_decode(text, i)
        docs.append(doc)
    return docs


def then_signalled(real, signum):
    def wrapped(*args, **kw):
        result = real(*args, **kw)
        signal.raise_signal(signum)
        return result
    return wrapped


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_just_after_the_json_report_changes_nothing(sandbox, monkeypatch, signum):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    monkeypatch.setattr(console, "print_json", then_signalled(console.print_json, signum))
    code, out, err = sandbox.human("--json", "run")
    assert code == 0, err
    assert [d["exit_code"] for d in documents(out)] == [0]
    assert "stopped" not in err and "interrupted" not in err
    assert sandbox.journal()[0] == (0, None)


def test_a_stop_just_after_the_text_report_says_nothing_more(sandbox, monkeypatch):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    monkeypatch.setattr(console, "print_run", then_signalled(console.print_run, signal.SIGTERM))
    code, _, err = sandbox.human("run")
    assert code == 0 and "stopped" not in err and "Traceback" not in err


def test_a_stop_after_main_s_work_returned_is_no_uncaught_stopped(sandbox, monkeypatch):
    """The window the review named: _main has returned, the handlers are not yet put back."""
    monkeypatch.setattr(app, "_main", then_signalled(app._main, signal.SIGTERM))
    code, out, err = sandbox.human("--json", "status")
    assert code == 0, err
    assert len(documents(out)) == 1 and "Traceback" not in err


def test_a_stop_before_an_error_is_said_is_the_one_outcome(sandbox, monkeypatch):
    """A config error raised, then SIGTERM before its line: one document, the stop's."""
    sandbox.config.write_text("node: [", encoding="utf-8")
    real, calls = app._failure, []

    def stopped_first(exc, args):
        calls.append(type(exc).__name__)
        if len(calls) == 1:
            signal.raise_signal(signal.SIGTERM)
        return real(exc, args)
    monkeypatch.setattr(app, "_failure", stopped_first)
    code, out, err = sandbox.human("--json", "run")
    assert calls == ["ConfigError", "Stopped"]
    assert code == 143, err
    assert [d["exit_code"] for d in documents(out)] == [143]
    assert err.count("onecsync: error:") == 1 and "Traceback" not in err


def test_a_stop_while_the_process_exits_keeps_the_run_s_code(sandbox):
    """The process itself: SIGTERM while the interpreter exits (atexit) after the report."""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    script = ("import atexit, os, signal, sys; "
              "atexit.register(os.kill, os.getpid(), signal.SIGTERM); "
              f"sys.argv = ['onecsync', '--config', {str(sandbox.config)!r}, '--json', 'run']; "
              "from onecsync.cli import main; main()")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert [d["exit_code"] for d in documents(proc.stdout.decode())] == [0]
    assert sandbox.journal()[0] == (0, None)
