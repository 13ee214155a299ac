"""Extract every operator-facing text of onecsync and bring onecsync/locale/ru.po up to date.

    python tools/po.py          # add new msgids (untranslated), drop the ones gone; then translate
    python tools/po.py --check  # exit 1 naming each msgid without a translation (what the test does)

What is a msgid (onecsync/i18n.py says how each is translated at the edge):
- the message and `remedy=` of every error raised (a class derived from OnecsyncError or Stopped,
  click's UsageError/BadParameter), and a class's own `remedy = "…"`;
- the text of `_()`, `N_()`, `tr()` calls, and of `Drift(…)`'s detail; `plural()`'s `many`, and
  `counted()`'s `one|many` (onecsync/i18n.py);
- the format of `log.info/warning/error(...)` (%-style, translated before the values go in);
- every help text of the command line (read from click's objects, as --help shows them).
An f-string becomes a template: each `{expression}` stays as the field, which the translation
uses by the same name (`{path}`, `{exc.strerror}`).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "onecsync"
PO = PACKAGE / "locale" / "ru.po"

MARKERS = {"_", "N_", "tr"}
LOG_LEVELS = {"info", "warning", "error", "critical", "exception"}
ERROR_ROOTS = {"OnecsyncError", "Stopped", "UsageError", "BadParameter", "ClickException"}
# callee → (positional indexes, keyword names) that carry operator-facing text
OTHER_CALLS = {"Drift": ((4,), ("detail",)), "fail": ((1,), ()),
               "Finding": ((2, 3, 4), ("message", "remedy")), "_refused": ((0, 1), ()),
               "task": ((0,), ()),  # a progress line's description
               "plural": ((2,), ())}  # its `many`: the translation holds the three forms
# dict keys whose text values are lines for the admin (a check's detail, a problem's message)
LINE_KEYS = {"detail", "message"}
# attributes that name a place in lines (`folder /srv/x`, `the 1C HTTP service at …`)
LINE_ATTRS = {"description"}
# lists the core fills with lines for the admin (a check's problems and warnings)
LINE_LISTS = {"problems", "warnings", "notes", "next_steps", "steps"}


def _template(node: ast.AST, braces: bool = True) -> list[str]:
    """The templates a string expression can produce (both arms of `a if c else b`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
        return [text.replace("{", "{{").replace("}", "}}") if braces else text]
    if isinstance(node, ast.JoinedStr):
        out = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                out.append(str(part.value).replace("{", "{{").replace("}", "}}"))
            else:
                expr = ast.unparse(part.value).replace("{", "(").replace("}", ")")
                out.append("{" + expr + "}")
        return ["".join(out)]
    if isinstance(node, ast.IfExp):
        return _template(node.body, braces) + _template(node.orelse, braces)
    if isinstance(node, ast.BoolOp):
        return [t for v in node.values for t in _template(v, braces)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left, braces), _template(node.right, braces)
        return [a + b for a in left for b in right] if left and right else left + right
    return []


def _callee(node: ast.Call) -> str:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def _list_name(node: ast.AST) -> str:
    """`problems` of `problems`, `self.problems` and `plan["problems"]`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return str(node.slice.value)
    return ""


def _error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    names = set(ERROR_ROOTS)
    while True:
        more = {c.name for t in trees.values() for c in ast.walk(t) if isinstance(c, ast.ClassDef)
                and any((b.id if isinstance(b, ast.Name) else getattr(b, "attr", "")) in names
                        for b in c.bases)} - names
        if not more:
            return names
        names |= more


def extract_source() -> dict[str, list[str]]:
    """msgid → where it is (file:line), from the package's source."""
    trees = {p: ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in sorted(PACKAGE.rglob("*.py"))}
    errors = _error_classes(trees)
    found: dict[str, list[str]] = {}

    def add(node: ast.AST, where: str, braces: bool = True) -> None:
        for t in _template(node, braces):
            if t.strip():
                found.setdefault(t, []).append(where)

    def texts(node: ast.AST, assigned: dict[str, list[ast.AST]]) -> list[ast.AST]:
        # A line put in a variable first (`where = f"…"; raise ConfigError(where)`) is the line.
        return assigned.get(node.id, []) if isinstance(node, ast.Name) else [node]

    for path, tree in trees.items():
        rel = path.relative_to(ROOT)
        assigned_in: dict[int, dict[str, list[ast.AST]]] = {}
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names: dict[str, list[ast.AST]] = {}
                for a in ast.walk(fn):
                    if isinstance(a, ast.Assign):
                        for t in a.targets:
                            if isinstance(t, ast.Name):
                                names.setdefault(t.id, []).append(a.value)
                    if isinstance(a, ast.Call):
                        assigned_in[id(a)] = names
        for node in ast.walk(tree):
            where = f"{rel}:{getattr(node, 'lineno', 0)}"
            assigned = assigned_in.get(id(node), {})
            if isinstance(node, ast.ClassDef) and node.name in errors:
                for item in node.body:
                    if isinstance(item, ast.Assign) and any(
                            isinstance(t, ast.Name) and t.id == "remedy" for t in item.targets):
                        add(item.value, f"{rel}:{item.lineno}")
            if isinstance(node, ast.Dict):
                for k, v in zip(node.keys, node.values, strict=True):
                    if isinstance(k, ast.Constant) and k.value in LINE_KEYS:
                        add(v, where)
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Attribute) and t.attr in LINE_ATTRS for t in node.targets):
                add(node.value, where)
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, ast.AugAssign) else []
            if targets and isinstance(node.value, ast.List) \
                    and any(_list_name(t) in LINE_LISTS for t in targets):
                for item in node.value.elts:
                    add(item, where)
            if isinstance(node, ast.ClassDef) and node.name in errors:
                # what an error class says itself: super().__init__(f"…", remedy=…)
                for call in ast.walk(node):
                    if isinstance(call, ast.Call) and _callee(call) == "__init__":
                        args = call.args[1:] if isinstance(call.func.value, ast.Name) else call.args
                        for arg in args[:1]:
                            add(arg, f"{rel}:{call.lineno}")
                        for kw in call.keywords:
                            if kw.arg == "remedy":
                                add(kw.value, f"{rel}:{call.lineno}")
            if not isinstance(node, ast.Call):
                continue
            name = _callee(node)
            if name in MARKERS and node.args and isinstance(node.func, ast.Name):
                add(node.args[0], where)
            elif name in errors:
                for arg in node.args[:1]:
                    for text in texts(arg, assigned):
                        add(text, where)
                for kw in node.keywords:
                    if kw.arg in ("remedy", "message"):
                        for text in texts(kw.value, assigned):
                            add(text, where)
            elif name in LOG_LEVELS and isinstance(node.func, ast.Attribute) and node.args \
                    and getattr(node.func.value, "id", "") in ("log", "logger", "logging"):
                if not (isinstance(node.args[0], ast.Constant) and node.args[0].value == "%s"):
                    add(node.args[0], where, braces=False)
            elif name in ("append", "extend") and _list_name(node.func.value) in LINE_LISTS \
                    and node.args:
                arg = node.args[0]
                items = arg.elts if isinstance(arg, (ast.List, ast.Tuple)) else [arg]
                for item in items:
                    if isinstance(item, ast.Dict):
                        item = next((v for k, v in zip(item.keys, item.values, strict=True)
                                     if isinstance(k, ast.Constant) and k.value == "message"), None)
                    if item is not None:
                        add(item, where)
            elif name == "counted" and len(node.args) == 3:  # one msgid: both English forms
                for one in _template(node.args[1], braces=False):
                    for many in _template(node.args[2], braces=False):
                        found.setdefault(f"{one}|{many}", []).append(where)
            elif name in OTHER_CALLS:
                indexes, keywords = OTHER_CALLS[name]
                for i in indexes:
                    if i < len(node.args):  # plural's text is looked up as it is, {n} and all
                        add(node.args[i], where, braces=name != "plural")
                for kw in node.keywords:
                    if kw.arg in keywords:
                        add(kw.value, where)
    return found


def extract_help() -> dict[str, list[str]]:
    """Every help text the command line shows, as click holds it."""
    sys.path.insert(0, str(ROOT))
    from onecsync.cli import cli
    from onecsync.cli import i18n as cli_i18n

    return {text: [where] for text, where in cli_i18n.help_texts(cli)}


def extract() -> dict[str, list[str]]:
    found = extract_source()
    for msgid, where in extract_help().items():
        found.setdefault(msgid, []).extend(where)
    return found


def _quote(text: str) -> str:
    body = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t").replace("\b", "\\b")
    lines = body.split("\n")
    if len(lines) == 1:
        return f'"{body}"'
    return '""\n' + "\n".join(f'"{line}\\n"' for line in lines[:-1]) + \
        (f'\n"{lines[-1]}"' if lines[-1] else "")


def write_po(entries: list[tuple[str, str, list[str]]]) -> str:
    head = ('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
            '"Language: ru\\n"\n"Plural-Forms: nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : '
            'n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);\\n"\n')
    blocks = [head]
    for msgid, msgstr, where in entries:
        refs = "#: " + " ".join(sorted(set(where))[:4]) + "\n" if where else ""
        blocks.append(f"{refs}msgid {_quote(msgid)}\nmsgstr {_quote(msgstr)}\n")
    return "\n".join(blocks)


def missing(found: dict[str, list[str]] | None = None) -> list[tuple[str, list[str]]]:
    """(msgid, where) of each operator-facing text without a Russian translation."""
    sys.path.insert(0, str(ROOT))
    from onecsync.i18n import read_po

    have = read_po(PO.read_text(encoding="utf-8")) if PO.exists() else {}
    return [(m, w) for m, w in (found or extract()).items() if m not in have]


def update() -> int:
    sys.path.insert(0, str(ROOT))
    from onecsync.i18n import read_po

    have = read_po(PO.read_text(encoding="utf-8")) if PO.exists() else {}
    found = extract()
    # Texts that are not ours (click's own) stay: they have no place in our source.
    kept = {m: s for m, s in have.items() if m not in found and m in CLICK_TEXTS}
    entries = [(m, have.get(m, ""), w) for m, w in sorted(found.items(), key=lambda i: i[1][0])]
    entries += [(m, s, ["click"]) for m, s in kept.items()]
    PO.parent.mkdir(exist_ok=True)
    PO.write_text(write_po(entries), encoding="utf-8")
    todo = sum(1 for _m, s, _w in entries if not s)
    print(f"{PO.relative_to(ROOT)}: {len(entries)} texts, {todo} to translate")
    return 0


# click's own texts that --help and usage errors show (click looks them up with gettext).
CLICK_TEXTS = ("Usage:", "Options", "Commands", "Show this message and exit.", "Error: {message}",
               "Try '{command} {option}' for help.", "No such command {name!r}.",
               "No such option: {name}", "No such option {name!r}.", "Missing argument",
               "Missing argument {param_hint!r}.",
               "Option {name!r} requires an argument.", "Got unexpected extra argument ({args})",
               "{value!r} is not one of {choices}.", "{value!r} is not {choice}.",
               "Invalid value for {param_hint}: {message}", "Invalid value: {message}",
               "Missing option {param_hint!r}.", "Did you mean {possibility}?",
               "(Possible options: {possibilities})", "Aborted!")


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        gaps = missing()
        for msgid, where in gaps:
            print(f"{where[0]}: no Russian translation: {msgid!r}")
        sys.exit(1 if gaps else 0)
    sys.exit(update())
