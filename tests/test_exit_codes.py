"""Exit-code meanings are said once, in errors.ExitCode: the help, the man page, the console and
the metrics derive theirs from it, and README's exit-code table is checked against it here."""

from __future__ import annotations

import re

import pytest

from onecsync.cli import main
from onecsync.errors import READER_GONE
from onecsync.errors import ExitCode
from tests.factory import REPO

MARK = "<!-- exit codes: tests/test_exit_codes.py checks each meaning against errors.ExitCode -->"


def _readme_rows() -> dict[str, str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert MARK in text
    rows = {}
    for line in text.split(MARK, 1)[1].strip().splitlines()[2:]:  # past the head and |---|
        if not line.startswith("|"):
            break
        code, meaning, _todo = re.fullmatch(r"\| ([^|]+) \| (.+) \| ([^|]+) \|", line).groups()
        rows[code] = meaning
    return rows


def test_readme_exit_code_table_has_every_code_with_its_meaning():
    rows = _readme_rows()
    for code in ExitCode:
        assert str(int(code)) in rows, f"README's exit-code table has no row for {int(code)}"
        # The cell starts with the meaning, then says more: "usage error (also: …)".
        assert re.match(re.escape(code.meaning) + r"($|[ :(—])", rows[str(int(code))]), \
            f"README's row {int(code)} should start with {code.meaning!r}: {rows[str(int(code))]!r}"
    extra = set(rows) - {str(int(c)) for c in ExitCode} - {"130, 143", str(READER_GONE)}
    assert not extra, extra


def test_every_exit_code_has_one_meaning_said_in_help_and_man_page(capsys):
    meanings = [c.meaning for c in ExitCode]
    assert all(meanings) and len(set(meanings)) == len(meanings)
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit):
        main(["manpage"])
    page = capsys.readouterr().out
    for code in ExitCode:
        assert f"{int(code)} {code.meaning}," in help_text
        assert f".TP\n\\fB{int(code)}\\fR\n{code.meaning}\n" in page
