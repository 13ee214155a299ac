"""README's Configuration section states the ranges config.NUMBERS enforces: one table, checked
here against the table the config derives its error lines from (say a thing once)."""

from __future__ import annotations

import re

from onecsync.config import NUMBERS
from tests.factory import REPO

MARK = "<!-- ranges: tests/test_readme_config.py checks this table against config.NUMBERS -->"


def test_readme_ranges_table_is_config_numbers():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert MARK in text
    rows = {}
    for line in text.split(MARK, 1)[1].splitlines()[1:]:
        line = line.strip()
        if not line.startswith("|"):
            break
        if m := re.fullmatch(r"\| `([a-z_]+)` \| (.+) \|", line):
            rows[m.group(1)] = m.group(2)
    expected = {key: str(r) for key, r in NUMBERS.items()}
    assert rows == expected, "README's table should read:\n" + "\n".join(
        f"  | `{k}` | {v} |" for k, v in expected.items())
