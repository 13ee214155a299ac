"""The library API (`import onecsync`): cheap to import, what `__all__` names is there, and each
call returns the report `--json` prints or raises an error class, never SystemExit."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import onecsync
from tests import factory as f


def test_importing_onecsync_loads_neither_lxml_rich_click_nor_yaml():
    probe = ("import sys, onecsync\n"
             "print(sorted(m for m in ('lxml', 'rich', 'click', 'yaml', 'requests', 'sqlite3',"
             " 'onecsync.config', 'onecsync.errors') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_every_name_in_all_is_there():
    for name in onecsync.__all__:
        assert getattr(onecsync, name) is not None, name
    assert issubclass(onecsync.ConfigError, onecsync.OnecsyncError)
    assert set(onecsync.__all__) <= set(dir(onecsync))
    with pytest.raises(AttributeError):
        onecsync.no_such_name  # noqa: B018


def test_a_run_through_the_api_returns_the_report_the_cli_prints(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Альфа", "7700000000")]))
    config = onecsync.load_config(sandbox.config)
    report = onecsync.run(config, flow="pull-catalogs", dry_run=True)
    code, printed, _ = sandbox.run("--dry-run", "pull-catalogs")
    assert isinstance(report, onecsync.RunReport)
    assert json.loads(json.dumps(report.to_json())) == printed and code == 0 == report.exit_code
    assert not sandbox.state_path.exists()  # a dry run writes nothing, through the API too
    assert onecsync.status(onecsync.load_config(sandbox.config)).peers


def test_the_api_raises_the_error_classes_never_system_exit(sandbox, tmp_path):
    with pytest.raises(onecsync.ConfigError) as exc:
        onecsync.load_config(tmp_path / "missing.yaml")
    assert exc.value.exit_code == onecsync.ExitCode.CONFIG
    config = onecsync.load_config(sandbox.config)
    with pytest.raises(onecsync.Misnamed) as exc:
        onecsync.run(config, flow="pull-everything")
    assert exc.value.exit_code == 2 and "pull-catalogs" in exc.value.line()


def test_validate_message_and_trace(sandbox):
    path = sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Альфа", "7700000000")]))
    config = onecsync.load_config(sandbox.config)
    check = onecsync.validate_message(path, config)
    assert isinstance(check, onecsync.MessageCheck) and check.valid
    assert onecsync.run(config, flow="pull-catalogs").exit_code == 0
    found = onecsync.trace(config, "7700000000")
    assert found.query.kind == "inn" and json.dumps(found.to_json()).count(f.ref(1)) >= 1


def test_the_readme_python_example_runs_the_bundled_example(tmp_path, monkeypatch, capsys):
    """README's "From Python" block, run as written in a copy of the bundled example: it
    exchanges (the CRM gets our message) and every message it wrote validates."""
    import re
    import shutil

    text = (f.REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## From Python\n", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    shutil.copy(f.REPO / "config.example.yaml", tmp_path)
    # The base's messages only: our own (Message_<our node>_…) may be left in a working tree
    # by an earlier run of the Quick start, and would make this run the checkout's second.
    shutil.copytree(f.REPO / "fixtures" / "exchange", tmp_path / "fixtures" / "exchange",
                    ignore=shutil.ignore_patterns("Message_8d0e3a9c-*"))
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "exit code 0" in out
    assert re.search(r"^crm sent our message 1 with [1-9]\d* objects$", out, re.M)
    assert re.search(r"Message_8d0e\S*\.xml valid$", out, re.M)
    assert (tmp_path / "onecsync-state.sqlite").exists()


def test_retry_takes_one_ref_as_a_string_not_its_characters(sandbox):
    """`retry(config, refs="…")` retried the refs '6', 'f', … one per character (review 5)."""
    from tests.test_mapping import MAPPED
    from tests.test_mapping import config_with

    config_with(sandbox, MAPPED)
    sandbox.put("accounting", f.Msg(objects=[f.currency(f.ref(2))]))
    assert sandbox.run("pull-catalogs")[0] == 7  # parked
    config_with(sandbox, MAPPED.replace('      set: {КлючевыеСвойства/ДанныеКлассификатора: "643"}\n',
                                        '      drop: [НаименованиеПолное]\n'))  # the fix
    report = onecsync.retry(onecsync.load_config(sandbox.config), refs=f.ref(2))
    assert report.exit_code == 0
    assert ("Справочник.Валюты", f.ref(2)) in sandbox.outgoing("crm")["objects"]


def test_a_stop_is_a_base_exception_with_an_exit_code_as_the_readme_says():
    assert issubclass(onecsync.TimedOut, onecsync.Stopped)
    assert not issubclass(onecsync.Stopped, Exception)  # an `except Exception` never eats it
    assert onecsync.TimedOut(1.0).exit_code == 4 and onecsync.Stopped("SIGTERM").exit_code == 143
