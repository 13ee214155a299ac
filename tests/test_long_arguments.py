"""An argument of any size echoed in an error line is cut: the line stays one short line (review
#4: a 120,000-character `trace` query came back whole, 34 MB for a script's log)."""

from __future__ import annotations

import pytest

from tests import factory as f

HUGE = "x" * 120_000


@pytest.mark.parametrize("args", [
    ("trace", HUGE),
    ("trace", HUGE, "y", "z"),
    ("retry", HUGE),
    ("retry", *(f.ref(n) for n in range(100, 400))),
    ("state", "resend", "crm", "--type", HUGE),
    ("state", "resend", "crm", *(a for n in range(300) for a in ("--type", f"Справочник.X{n}"))),
    ("state", "set-numbers", HUGE, "--sent", "1"),
    ("state", "set-numbers", "crm", "--sent", HUGE),
    ("validate", "/" + HUGE),
])
def test_a_huge_argument_is_cut_in_its_one_error_line(sandbox, args):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка", "7705432193")]))
    assert sandbox.run("run")[0] == 0
    before = sandbox.state_path.read_bytes()
    code, out, err = sandbox.human(*args)
    assert code in (2, 3) and out == "", (code, err[:300])
    # one line; a usage error: click's usage, then its one "Error:" line
    lines = err.strip().splitlines()
    assert len(lines) == 1 or (lines[0].startswith("Usage:") and len(lines) == 4), err[:600]
    assert len(err) < 1500, err[:1500]  # what is allowed is listed: the config bounds that
    assert sandbox.state_path.read_bytes() == before


def test_the_cut_is_said_in_russian_too(sandbox):
    from tests.emulator.world import run_in_process

    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка", "7705432193")]))
    assert sandbox.run("run")[0] == 0
    ru = {"LANG": "ru_RU.UTF-8"}
    p = run_in_process(["--config", str(sandbox.config), "retry",
                        *(f.ref(n) for n in range(100, 400))], ru)
    assert p.code == 2 and "и ещё 295;" in p.stderr and " more" not in p.stderr, p.stderr
    p = run_in_process(["--config", str(sandbox.config), "trace", HUGE], ru)
    assert p.code == 2 and "… (символов: 120000)" in p.stderr, p.stderr[:300]
    assert "characters" not in p.stderr and "number" not in p.stderr, p.stderr[:300]
