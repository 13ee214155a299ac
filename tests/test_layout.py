"""The size rule of issue 16: no module in onecsync/ over 400 lines, no class over 25 methods.

A module or class past these is a bag of jobs; split it along its seams (as httpclient.py was
split into httpclient, httpsession and httpanswer) rather than raise the limits."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "onecsync"
MAX_LINES = 400
MAX_METHODS = 25


def _modules() -> list[Path]:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 50, modules  # the walk found the package, not an empty folder
    return modules


def test_no_module_is_over_400_lines():
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines())
             for p in _modules()}
    over = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines: {over}"


def test_no_class_has_over_25_methods():
    over = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.ClassDef):
                methods = [f for f in node.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))]
                if len(methods) > MAX_METHODS:
                    over[f"{path.relative_to(PACKAGE)}:{node.name}"] = len(methods)
    assert not over, f"classes over {MAX_METHODS} methods: {over}"
