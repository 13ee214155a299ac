"""The `--json` output of every command, pinned byte for byte, and the human text of `run` and
`status` in English and Russian: a refactor that changes what a script or an admin reads fails
here, naming the command and showing the diff.

The goldens are files under tests/golden/json/, one per command and scenario. After a change
of output that is meant (and said in README), write them again and review the diff:

    ONECSYNC_REGEN_GOLDEN=1 pytest tests/test_json_golden.py

The clock is frozen (`frozen_clock`: onecsync.clock, the one "now" of onecsync and of the
emulated bases, says 2026-12-01 09:00 UTC, TZ=UTC), so that the state's timestamps, the ages
shown ("0 s ago") and what they decide (stuck runs, the 30-day windows) are the same on every
run. What still varies is replaced before the comparison, and nothing else:
- the test's temporary folder (absolute paths of config, state and files) → `<root>`;
- the pid of the process that holds the lock (tests/conftest.py `lock_held`) → `<pid>`.
Node codes, message numbers and the bases' dates come from tests/factory.py and are pinned.
"""

from __future__ import annotations

import datetime
import difflib
import os
import re
import time
from pathlib import Path

import pytest

from onecsync import clock
from onecsync.errors import Stopped
from onecsync.errors import TimedOut
from tests import factory as f
from tests.conftest import Sandbox
from tests.conftest import invoke

GOLDEN = Path(__file__).parent / "golden" / "json"
REGEN = os.environ.get("ONECSYNC_REGEN_GOLDEN") == "1"

ACCOUNTING_MESSAGE = f.FIXTURES / "accounting" / f"Message_{f.ACCOUNTING}_{f.NODE}.xml"
ORDER = f.ref(1, "0dde0dde")
PAYMENT = f.ref(2, "0dde0dde")
NO_REF_CURRENCY = ("<Справочник.Валюты><НаименованиеПолное>Рубль</НаименованиеПолное>"
                   "</Справочник.Валюты>")

_PID = re.compile(r"\bpid \d+")

FROZEN = datetime.datetime(2026, 12, 1, 9, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    """The frozen clock, in UTC, and stderr not taken for the journal (no priority tags)."""
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    with clock.frozen(FROZEN):
        yield
    monkeypatch.undo()
    time.tzset()


def normalised(text: str, root: Path) -> str:
    """`text` with only what varies from run to run replaced (see the module docstring)."""
    return _PID.sub("pid <pid>", text.replace(str(root), "<root>"))


class Goldens:
    """Compares outputs with their golden files; every mismatch of a test is reported at once."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def check(self, name: str, text: str, root: Path) -> None:
        path = GOLDEN / name
        text = normalised(text, root)
        if REGEN:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        if not path.exists():
            self.failures.append(f"{name}: no golden file (ONECSYNC_REGEN_GOLDEN=1 writes it)")
            return
        want = path.read_text(encoding="utf-8")
        if text != want:
            diff = "".join(difflib.unified_diff(
                want.splitlines(keepends=True), text.splitlines(keepends=True),
                f"golden/json/{name}", "now"))
            self.failures.append(f"{name}: the output changed\n{diff}")

    def verify(self) -> None:
        assert not self.failures, "\n\n".join(self.failures)


@pytest.fixture
def goldens():
    """A test compares its outputs with `goldens.check(...)`, and ends with `goldens.verify()`."""
    return Goldens()


def cli(box: Sandbox, *args: str, config: bool = True) -> tuple[int, str, str]:
    """onecsync in-process: (exit code, stdout as printed, stderr)."""
    box.capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        from onecsync.cli import main
        main([*(["--config", str(box.config)] if config else []), *args])
    out = box.capsys.readouterr()
    return exc.value.code, out.out, out.err


def json_of(goldens: Goldens, box: Sandbox, name: str, code: int, *args: str) -> None:
    got, out, err = cli(box, "--json", *args)
    assert got == code, f"{name}: exit {got}, stderr: {err}"
    goldens.check(f"{name}.json", out, box.root)


def exchanged(box: Sandbox, goldens: Goldens | None = None, run: bool = True) -> None:
    """The three flows once each, then (`run`) a run with a parked object: catalogs from
    accounting, an invoice from the CRM, its payment from accounting, a currency with no
    Ссылка (left for the caller's run when not `run`)."""
    def step(name: str, code: int, *args: str) -> None:
        if goldens is None:
            assert cli(box, "--json", *args)[0] == code
        else:
            json_of(goldens, box, name, code, *args)

    box.put("accounting", ACCOUNTING_MESSAGE.read_bytes())
    step("pull-catalogs", 0, "pull-catalogs")
    box.put("crm", f.Msg(sender=f.CRM, objects=[f.order(ORDER)]))
    step("push-invoices", 0, "push-invoices")
    box.put("accounting", f.Msg(message_no=2, received_no=1,
                                objects=[f.payment(PAYMENT, ORDER, "50000.00")]))
    step("pull-settlements", 0, "pull-settlements")
    box.put("crm", f.Msg(sender=f.CRM, message_no=2, received_no=2, objects=[]))
    box.put("accounting", f.Msg(message_no=3, received_no=2, objects=[NO_REF_CURRENCY]))
    if run:
        step("run", 7, "run")


def test_every_command_json(sandbox, goldens, tmp_path):
    exchanged(sandbox, goldens)
    json_of(goldens, sandbox, "run-idle-drift", 9, "run")
    json_of(goldens, sandbox, "run-dry", 9, "--dry-run", "run")
    json_of(goldens, sandbox, "retry-all", 7, "retry", "--all")
    json_of(goldens, sandbox, "failure-retry-not-parked", 2, "retry", f.ref(99))
    json_of(goldens, sandbox, "reconcile", 9, "reconcile")
    json_of(goldens, sandbox, "status", 0, "status")
    json_of(goldens, sandbox, "status-runs-1", 0, "status", "--runs", "1")
    json_of(goldens, sandbox, "trace-ref", 0, "trace", ORDER)
    json_of(goldens, sandbox, "trace-inn", 0, "trace", "7705432193")
    json_of(goldens, sandbox, "state-show", 0, "state", "show")
    json_of(goldens, sandbox, "state-set-numbers-plan", 2, "state", "set-numbers", "crm",
            "--sent", "5")
    json_of(goldens, sandbox, "state-resend-plan", 2, "state", "resend", "crm")
    json_of(goldens, sandbox, "state-resend-dry", 0, "--dry-run", "state", "resend",
            "accounting")
    json_of(goldens, sandbox, "check", 0, "check")
    json_of(goldens, sandbox, "check-strict", 0, "check", "--strict")
    outgoing = sandbox.outgoing_path("crm")
    json_of(goldens, sandbox, "validate-ours", 0, "validate", str(outgoing))
    broken = tmp_path / "broken.xml"
    broken.write_bytes(ACCOUNTING_MESSAGE.read_bytes().replace(
        "<ЮридическоеФизическоеЛицо>ЮридическоеЛицо<".encode(),
        "<ЮридическоеФизическоеЛицо>Марсианин<".encode()))
    json_of(goldens, sandbox, "validate-invalid", 5, "validate", str(broken))
    json_of(goldens, sandbox, "settings-message", 0, "settings-message", "crm",
            "-o", str(tmp_path / "settings.xml"))
    json_of(goldens, sandbox, "state-set-numbers-applied", 0, "state", "set-numbers",
            "accounting", "--received", "3", "--yes")
    for name, args in (("validate-invalid", ("validate", str(broken))),
                       ("check", ("check",)), ("state-resend-plan", ("state", "resend", "crm")),
                       ("state-set-numbers-plan", ("state", "set-numbers", "crm", "--sent", "1",
                                                   "--force"))):
        code, out, err = cli(sandbox, *args)
        goldens.check(f"human-{name}.txt", out + err, sandbox.root)
    code, out, err = cli(sandbox, "state", "export")
    assert code == 0, err
    goldens.check("state-export.json", out, sandbox.root)
    goldens.verify()

def test_check_with_problems_and_warnings_json(sandbox, goldens):
    """A base whose folder is gone (a problem, with its code) and a base not heard from yet (a
    warning, without one)."""
    import shutil

    shutil.rmtree(sandbox.folders["crm"])
    code, out, err = cli(sandbox, "--json", "check")
    goldens.check("check-problems.json", out, sandbox.root)
    code_strict, out, err = cli(sandbox, "--json", "check", "--strict")
    goldens.check("check-problems-strict.json", out, sandbox.root)
    assert (code, code_strict) == (3, 3), err
    goldens.verify()


def test_status_all_json(tmp_path, capsys, goldens):
    from tests.test_pairs import pair

    one, two = pair(tmp_path, capsys, "client1"), pair(tmp_path, capsys, "client2")
    one.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert one.run("run")[0] == 0
    two.put("accounting", f.Msg(objects=[f.counterparty(f.ref(2), "АО Василек"),
                                         NO_REF_CURRENCY]))
    assert two.run("run")[0] == 7
    (tmp_path / "pairs" / "broken.yaml").write_text("node: [unclosed\n", encoding="utf-8")
    code, out, err = invoke(capsys, "--json", "status", "--all", str(tmp_path / "pairs"))
    assert code == 3, err
    goldens.check("status-all.json", out, tmp_path)
    goldens.verify()

def test_init_json(tmp_path, capsys, goldens, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("bp", "crm"):
        (tmp_path / "exchange" / name).mkdir(parents=True)
    flags = ("--node-code", f.NODE, "--accounting-code", f.ACCOUNTING, "--crm-code", f.CRM,
             "--accounting", "exchange/bp", "--crm", "exchange/crm")
    code, out, err = invoke(capsys, "--json", "--dry-run", "init", *flags)
    assert code == 0, err
    goldens.check("init-dry.json", out, tmp_path)
    code, out, err = invoke(capsys, "--json", "init", *flags)
    assert code == 0, err
    goldens.check("init.json", out, tmp_path)
    goldens.verify()

def test_failure_documents(sandbox, goldens, monkeypatch, capsys):
    """{exit_code, error, problems} of every run that ends without its report."""
    code, out, _ = invoke(capsys, "--json", "--config", str(sandbox.root / "none.yaml"), "run")
    assert code == 3
    goldens.check("failure-config-missing.json", out, sandbox.root)
    sandbox.config.write_text("node: {code: 1}\nbases: {crm: {code: x}}\nflows: 7\n",
                              encoding="utf-8")
    json_of(goldens, sandbox, "failure-config-problems", 3, "run")
    sandbox.write_config()
    code, out, _ = invoke(capsys, "--json", "run", "--no-such-option")
    assert code == 2
    goldens.check("failure-usage.json", out, sandbox.root)
    data = f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]).xml()
    start, end = data.index(b"<msg:Header>"), data.index(b"</msg:Header>") + 13
    sandbox.put("accounting", data[:start] + data[end:])
    json_of(goldens, sandbox, "failure-rejected", 5, "pull-catalogs")
    with sandbox.lock_held():
        json_of(goldens, sandbox, "failure-lock", 8, "pull-catalogs")
        json_of(goldens, sandbox, "failure-lock-retry", 8, "retry", "--all")
    from onecsync.flows import runner

    def timed_out(*args, **kw):
        raise TimedOut(3)

    def sigterm(*args, **kw):
        raise Stopped("SIGTERM")

    monkeypatch.setattr(runner, "execute", timed_out)
    json_of(goldens, sandbox, "failure-run-timeout", 4, "run")
    monkeypatch.setattr(runner, "execute", sigterm)
    json_of(goldens, sandbox, "failure-sigterm", Stopped("SIGTERM").exit_code, "run")
    goldens.verify()

@pytest.mark.parametrize("language", ["en", "ru"])
def test_human_run_and_status(sandbox, goldens, monkeypatch, language):
    """What the admin reads, not a terminal (plain text), 100 columns wide."""
    monkeypatch.setenv("COLUMNS", "100")
    if language == "ru":
        monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    exchanged(sandbox, run=False)
    code, out, err = cli(sandbox, "run")
    assert code == 7, err
    goldens.check(f"human-run.{language}.txt", out, sandbox.root)
    goldens.check(f"human-run.{language}.stderr.txt", err, sandbox.root)
    code, out, err = cli(sandbox, "status")
    assert code == 0, err
    goldens.check(f"human-status.{language}.txt", out, sandbox.root)
    goldens.verify()
