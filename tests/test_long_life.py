"""Under cron for years: an idle run with 4,000 parked objects adds a few KB to the state and
logs a few dozen drift lines; the journal keeps a summary and is pruned; status has every count."""

from __future__ import annotations

from onecsync.state import journal
from tests import factory as f

PARKED = 4000


def test_idle_runs_with_4000_parked_objects_stay_small(sandbox):
    sandbox.config.write_text(sandbox.config.read_text() + (
        "mapping:\n  crm:\n    Справочник.Валюты:\n      set: {КлючевыеСвойства/ДанныеКлассификатора: x}\n"))
    sandbox.put("accounting", f.Msg(objects=[f.currency(f.ref(i)) for i in range(PARKED)]))
    assert sandbox.run("run")[0] == 7
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=0))
    sandbox.run("run")
    before = sandbox.state_path.stat().st_size

    for _ in range(5):
        code, report, err = sandbox.run("run")
        assert code == 9, err
        assert len(report["drift"]) == PARKED  # --json has all of them
        drift_lines = [ln for ln in err.splitlines() if "drift:" in ln]
        assert len(drift_lines) == 31, len(drift_lines)
        assert drift_lines[-1].endswith(f"… and {PARKED - 30} more (onecsync status)")
    code, out, err = sandbox.human("run")
    assert len(out.splitlines() + err.splitlines()) < 80
    assert f"… and {PARKED - 30} more (onecsync status)" in err

    growth = (sandbox.state_path.stat().st_size - before) / 6
    assert growth < 16 * 1024, growth
    with sandbox.db() as c:
        (counts,) = c.execute("SELECT counts FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    assert len(counts) < 16 * 1024
    assert f'"total": {PARKED}' in counts
    code, report, _ = sandbox.run("status")
    assert report["peers"]["accounting"]["parked"]["total"] == PARKED


def test_the_journal_keeps_at_most_the_last_runs(sandbox, monkeypatch):
    monkeypatch.setattr(journal, "KEEP_RUNS", 3)
    for _ in range(6):
        sandbox.run("run")
    with sandbox.db() as c:
        ids = [r[0] for r in c.execute("SELECT id FROM runs ORDER BY id")]
    assert ids == [4, 5, 6]
