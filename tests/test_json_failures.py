"""Every --json document of a command that ends without its report has one shape and is English
in every locale, whatever path made it (review 6, m2 and m4): a usage error click found or one a
command raised, a missing config, a lock held. It carries the keys a run's report carries too
(`command`, `dry_run`, `exit_code`), so that a script keyed on `.command` does not break
exactly when something is wrong.
"""

from __future__ import annotations

import json
import re

import click
import pytest

from onecsync.cli import cli
from tests.conftest import invoke

SHAPE = ["command", "dry_run", "exit_code", "error", "problems"]


def _leaves(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _leaves(command, (*prefix, name))
        else:
            yield (*prefix, name)


COMMANDS = [c for c in _leaves(cli) if c != ("manpage",)]  # manpage needs no config: it succeeds


def _document(out: str, code: int, command: str | None, dry_run: bool = False) -> dict:
    doc = json.loads(out)
    assert list(doc) == SHAPE, doc
    assert doc["command"] == command and doc["dry_run"] is dry_run and doc["exit_code"] == code
    return doc


def _in_c(monkeypatch, run):
    """What `run` prints on stdout in the C locale (the test itself runs in Russian)."""
    monkeypatch.setenv("LANG", "C.UTF-8")
    try:
        return run()[1]
    finally:
        monkeypatch.setenv("LANG", "ru_RU.UTF-8")


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_s_early_failure_is_one_english_shape(tmp_path, capsys, russian, command,
                                                           monkeypatch):
    """No argument and no config: a usage error (click's) or a config error (ours), each the
    same document in Russian as the C locale gives."""
    def run():
        return invoke(capsys, "--json", "--config", str(tmp_path / "none.yaml"), *command)

    code, out, err = invoke(capsys, "--json", "--config", str(tmp_path / "none.yaml"), *command)
    assert code in (2, 3), err
    assert re.search("[А-Яа-я]", err), err  # the admin's line is Russian; the document is not
    _document(out, code, " ".join(command))
    assert out == _in_c(monkeypatch, run)


def test_an_unknown_command_names_none(capsys, russian):
    code, out, _ = invoke(capsys, "--json", "--dry-run", "nosuch")
    assert _document(out, 2, None, dry_run=True)["error"] == "No such command 'nosuch'."


def test_a_usage_error_a_command_raises_is_english(sandbox, russian, monkeypatch):
    def run():
        return sandbox.human("--json", "settings-message", "crm", "-o", "-")

    code, out, err = run()
    assert code == 2 and "несовместимо" in err and out == _in_c(monkeypatch, run)
    assert _document(out, 2, "settings-message")["error"] == \
        "-o - writes the message on stdout; it cannot go with --json"


def test_a_busy_run_s_document_names_its_command(sandbox, russian, monkeypatch):
    def run():
        return sandbox.human("--json", "--dry-run", "push-invoices")

    sandbox.run("run")
    with sandbox.lock_held():
        code, out, _ = run()
        assert out == _in_c(monkeypatch, run)
    assert "not done: a run is in progress since" in _document(out, 8, "push-invoices", True)["error"]
