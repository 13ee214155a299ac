"""Where the state's SQL lives: in onecsync/state/ only, each query a named method of one
table's class (State.peers, .inbox, .outbox, .invoices, .journal, .meta), none of them a bag."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "onecsync"
STATE = PACKAGE / "state"
_SQL = re.compile(r"^\s*(SELECT\b.+\bFROM|UPDATE\s+\w+\s+SET|INSERT\s+(OR\s+\w+\s+)?INTO|DELETE\s+FROM)\b",
                  re.S | re.I)


def _outside_state() -> list[Path]:
    """Every module but the state's own, and the state's admin decisions (which change the
    state through the tables' methods, as a run does)."""
    return [p for p in sorted(PACKAGE.rglob("*.py")) if STATE not in p.parents] + [STATE / "admin.py"]


def test_no_sql_and_no_connection_outside_the_state_package():
    found = []
    for path in _outside_state():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(PACKAGE)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and _SQL.search(node.value):
                found.append(f"{where}: SQL {node.value[:40]!r}")
            elif isinstance(node, ast.JoinedStr) and _SQL.search(
                    "".join(v.value for v in node.values if isinstance(v, ast.Constant))):
                found.append(f"{where}: SQL in an f-string")
            elif isinstance(node, ast.Attribute) and node.attr in ("conn", "db") \
                    and isinstance(node.value, (ast.Name, ast.Attribute)) \
                    and "state" in ast.unparse(node.value):
                found.append(f"{where}: {ast.unparse(node)}")
    assert not found, "\n".join(found)


def test_no_class_of_the_state_has_more_than_25_methods():
    sizes = {}
    for path in sorted(STATE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                sizes[f"{path.name}:{node.name}"] = sum(
                    isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in node.body)
    assert sizes["store.py:State"] and sizes["inbox.py:Inbox"] and sizes["outbox.py:Outbox"]
    assert max(sizes.values()) <= 25, sizes
