"""A terminal or pipe whose encoding cannot hold Cyrillic (PYTHONIOENCODING=ascii, a latin-1
console): every command still ends with its own exit code, what cannot be printed comes out as
\\uXXXX, and --json stays the same JSON. The process's own streams are under test here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests import factory as f


def narrow(box, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "LANG": "C", "LC_ALL": "C",
           "PYTHONUTF8": "0"}
    return subprocess.run([sys.executable, "-m", "onecsync", "--config", str(box.config), *args],
                          capture_output=True, env=env, timeout=60)


def test_status_run_and_json_on_an_ascii_terminal(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    good = narrow(sandbox, "run")
    assert good.returncode == 0, good.stderr
    assert b"\\u0421\\u043f\\u0440\\u0430\\u0432" in good.stderr  # Справочник.…, escaped
    status = narrow(sandbox, "status")
    assert status.returncode == 0 and b"Traceback" not in status.stderr, status.stderr
    as_json = narrow(sandbox, "--json", "status")
    assert as_json.returncode == 0, as_json.stderr
    assert as_json.stdout.isascii()
    _, report, _ = sandbox.run("status")
    assert json.loads(as_json.stdout) == report
    sandbox.put("crm", "<Сломано/>".encode())
    bad = narrow(sandbox, "run")
    assert bad.returncode == 5, bad.stderr
    text = bad.stderr.decode("ascii")  # every byte printable here: nothing raised on the way
    (line,) = [x for x in text.splitlines() if x.startswith("onecsync: error: ")]
    assert "the root element is '\\u0421\\u043b\\u043e\\u043c" in line, line
    assert "Traceback" not in text and "internal error" not in text
