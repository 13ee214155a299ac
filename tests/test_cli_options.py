"""The global options work after the command as before it, as admins type them
(`onecsync run -q --json --dry-run`), and every command's --help lists them."""

from __future__ import annotations

import json
import re

import pytest

from onecsync.cli import cli
from onecsync.cli import main
from tests import factory as f
from tests.test_cli import tree_digest

GLOBAL = ("--config", "--json", "--dry-run", "--verbose", "--quiet", "--log-format")


def commands(group=cli, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if hasattr(command, "commands"):
            yield from commands(command, (*prefix, name))


@pytest.mark.parametrize("path", [p for p, _ in commands()], ids=" ".join)
def test_every_command_help_lists_the_global_options(path, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*path, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in GLOBAL:
        assert re.search(rf"^\s+(-\w, )?{option}\b", text, re.M), f"{' '.join(path)}: {option}"


# One invocation per command that does its work in a sandbox; {msg} is a message of the base.
INVOCATIONS = {
    "run": ["run"], "pull-catalogs": ["pull-catalogs"], "push-invoices": ["push-invoices"],
    "pull-settlements": ["pull-settlements"], "reconcile": ["reconcile"],
    "retry": ["retry", "--all"], "check": ["check"], "status": ["status"],
    "trace": ["trace", f.ref(1)],
    "validate": ["validate", "{msg}"], "state show": ["state", "show"],
    "state export": ["state", "export"],
    "state set-numbers": ["state", "set-numbers", "crm", "--sent", "1", "--yes"],
    "state resend": ["state", "resend", "crm", "--yes"],
    "settings-message": ["settings-message", "crm", "-o", "{root}/out.xml"],
    "manpage": ["manpage"],
    "init": ["init", "--accounting-code", f.ACCOUNTING, "--crm-code", f.CRM,
             "--accounting", "exchange/accounting", "--crm", "exchange/crm", "--force",
             "--node-code", f.NODE],
}


def test_the_invocations_cover_every_command():
    leaves = {" ".join(p) for p, c in commands() if not hasattr(c, "commands")}
    assert leaves == set(INVOCATIONS)


def _volatile(text: str) -> str:
    # run times and durations differ between two runs of the same command (trace's
    # waiting_seconds too, when a second passes between them: it failed once in CI)
    text = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+(\+00:00|Z)?", "T", text)
    return re.sub(r'"(duration[^"]*|pid|run_id|waiting_seconds)": [^,\n]+', r'"\1": X', text)


@pytest.mark.parametrize("name", sorted(INVOCATIONS))
def test_global_options_after_the_command_do_what_they_do_before_it(name, sandbox, monkeypatch):
    monkeypatch.chdir(sandbox.root)
    msg = sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.run("run")  # a state to look at; the base's message stays where it is
    args = [a.format(msg=msg, root=sandbox.root) for a in INVOCATIONS[name]]
    wanted = ("--config", str(sandbox.config), "--json", "--dry-run", "-q")
    outputs = []
    for argv in ([*wanted, *args], [*args, *wanted]):
        before = tree_digest(sandbox.root)
        sandbox.capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            main(argv)
        out = sandbox.capsys.readouterr()
        assert tree_digest(sandbox.root) == before, f"{argv}: --dry-run wrote something"
        assert out.err == "", f"{argv}: -q still printed {out.err!r}"
        if name == "manpage":
            assert out.out.startswith(".TH ONECSYNC 1")  # the page is its report
        elif name != "settings-message":  # it prints nothing with -q: the file is its output
            json.loads(out.out)  # --json
        outputs.append((exc.value.code, _volatile(out.out)))
    assert outputs[0] == outputs[1]


def test_options_before_and_after_add_up_and_conflict_as_one_set(sandbox):
    code, _, err = sandbox.human("-v", "run", "-q")
    assert code == 2 and "use either -v or -q, not both" in err
    code, _, err = sandbox.human("run", "--config", "/elsewhere.yaml")
    assert code == 2 and "--config given twice" in err


def test_log_format_after_the_command_makes_json_log_lines(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    code, _, err = sandbox.human("run", "-v", "--log-format", "json")
    assert code == 0
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert lines and {"time", "level", "message"} <= set(lines[0])
