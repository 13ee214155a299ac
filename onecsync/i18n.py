"""Operator-facing text in the admin's language: Russian when the locale says so, else English.

Public API: `language()`, `english()`, `_(text)`, `N_(text)`, `tr(line)`, `plural(n, one, many)`,
`counted(n, one, many)`, `catalog()`.

The core says everything in English, and so does what it keeps: the run journal, `--json`, the
lines scripts grep. Only the edge (console/, the CLI's help) translates, just before printing:
`_` for a constant, `tr` for a line the core built. A line is built from a template — an error
raised with an f-string, `N_(f"…")`, a `log.warning("… %s", …)` — and the catalog is keyed by
the template, `{field}` for each value (tools/po.py extracts them from the source with ast). `tr`
finds the template a line was built from, translates it, and puts the same values back (each
value translated too when it is itself a line, as a cause quoted in a message is). A line no
template matches is split where lines are joined (`message (remedy)`, `base: message`) and its
parts translated; what is still unknown stays English rather than half-guessed.

A catalog that cannot be read (missing from a repackaged install, cut short, not UTF-8, not a
.po) leaves everything in English, with one warning line on stderr: never a crash, --help
included. An entry whose Russian has a `{field}` or `%` spec its English lacks (or a broken
one) is left out: that line stays English rather than raise when its values go in.

The catalog is onecsync/locale/ru.po, read here at first use (gettext's own catalog format, a
few milliseconds for the whole file). No .mo: an editable install (`pip install -e`) has no
build step to compile one, and a generated binary kept in git goes stale unseen; the .po is what
translators edit and what the test compares with the source.
"""

from __future__ import annotations

import contextlib
import functools
import gettext
import os
import re
import string
from pathlib import Path
from typing import Iterator

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("ru",)  # each has LOCALE_DIR/<lang>.po; anything else is English
CATALOG_CAP = 16 * 1024 * 1024  # bytes: ru.po is 0.3 MB


_english_only = False  # within `english()`


@contextlib.contextmanager
def english() -> Iterator[None]:
    """Every text inside is English, whatever the locale: what --json reports of a message
    that a library (click) words through our catalog as it builds it."""
    global _english_only
    saved, _english_only = _english_only, True
    try:
        yield
    finally:
        _english_only = saved


def language() -> str:
    """The language of the messages, as gettext picks it: LANGUAGE (a list, GNU's extension,
    honoured unless the locale is C), then the first set of LC_ALL, LC_MESSAGES, LANG."""
    if _english_only:
        return "en"
    locale = next((os.environ[v] for v in ("LC_ALL", "LC_MESSAGES", "LANG") if os.environ.get(v)),
                  "C")
    candidates = [locale]
    if locale.split(".")[0] not in ("C", "POSIX") and os.environ.get("LANGUAGE"):
        candidates = os.environ["LANGUAGE"].split(":") + candidates
    for name in candidates:
        lang = name.split(".")[0].split("@")[0].split("_")[0].lower()
        if lang in LANGUAGES:
            return lang
        if lang in ("en", "c", "posix"):
            return "en"
    return "en"


def N_(text: str) -> str:  # noqa: N802 — gettext's name for "mark only"
    """Mark a line the core builds for the catalog; it stays English (tr translates it)."""
    return text


def _(text: str) -> str:
    """A constant text (a label, a help text) in the admin's language."""
    if not text:
        return text
    return catalog().gettext(text)


def tr(line: str) -> str:
    """An English line the core built, in the admin's language."""
    if not line or not isinstance(line, str):
        return line
    cat = catalog()
    if not isinstance(cat, Catalog):
        return line
    return cat.line(line)


PLURAL_FORMS = "|"  # what joins the three Russian forms of a plural() text in ru.po


def plural(n: int, one: str, many: str) -> str:
    """A count with its noun, `{n}` put in, in the admin's language: English says `one` for 1
    and `many` otherwise (1 object, 2 objects); Russian has three forms (1 объект, 2 объекта,
    5 объектов), which the catalog holds as the translation of `many`, joined by "|"
    (tools/po.py extracts `many`). Untranslated, it stays English."""
    forms = catalog().gettext(many).split(PLURAL_FORMS)
    return _form(n, forms) if len(forms) == 3 else counted(n, one, many)


def counted(n: int, one: str, many: str) -> str:
    """A count with its noun, `{n}` put in, in English: the core's own `plural`, for a count
    inside a line it builds (`3 objects sent`). `tr` gives it the admin's form where the line
    is shown: the catalog holds `one|many` (tools/po.py extracts both), translated as plural()'s
    texts are, and `tr` finds either English form within a line, its number and all."""
    return (one if n == 1 else many).replace("{n}", str(n))


def _form(n: int, forms: list[str]) -> str:
    """The one of three Russian forms that `n` takes (ru.po's Plural-Forms), `{n}` put in."""
    last, tens = n % 10, n % 100
    form = forms[0 if last == 1 and tens != 11 else
                 1 if 2 <= last <= 4 and not 12 <= tens <= 14 else 2]
    return form.replace("{n}", str(n))


def catalog() -> gettext.NullTranslations:
    return _catalog(language())


@functools.lru_cache(maxsize=None)
def _catalog(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    from onecsync.errors import OnecsyncError
    from onecsync.files import read_small  # here: both import this module

    path = LOCALE_DIR / f"{lang}.po"
    try:  # never blocking (a FIFO), never more than CATALOG_CAP (a link to /dev/zero)
        return Catalog(read_po(read_small(path, CATALOG_CAP).decode("utf-8")))
    except (OSError, UnicodeError, ValueError, OnecsyncError) as exc:
        # Printed here, once (the cache): logging would ask this very catalog to translate it.
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        from onecsync.console.streams import STDERR  # whatever stderr is (closed, full)

        print(f"onecsync: warning: the {lang} message catalog {path} cannot be read ({why}); "
              "messages stay in English (reinstall onecsync)", file=STDERR)
        return gettext.NullTranslations()


# -- the .po reader --------------------------------------------------------------------------
_ESCAPES = {"n": "\n", "t": "\t", "b": "\b", '"': '"', "\\": "\\"}


def _unquote(s: str) -> str:
    s = s.strip()
    if len(s) < 2 or s[0] != '"' or s[-1] != '"':
        raise ValueError(f"not a quoted .po string: {s!r}")
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), s[1:-1])


def read_po(text: str) -> dict[str, str]:
    """msgid → msgstr of every translated entry (fuzzy and empty ones left out)."""
    entries: dict[str, str] = {}
    fuzzy, key, parts = False, None, {"msgid": "", "msgstr": ""}

    def close() -> None:
        if key is not None and parts["msgid"] and parts["msgstr"] and not fuzzy and \
                _same_values(parts["msgid"], parts["msgstr"]):
            entries[parts["msgid"]] = parts["msgstr"]

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith("msgid "):
            close()
            fuzzy_now = fuzzy
            parts = {"msgid": _unquote(line[6:]), "msgstr": ""}
            key, fuzzy = "msgid", fuzzy_now
        elif line.startswith("msgstr "):
            key = "msgstr"
            parts["msgstr"] = _unquote(line[7:])
        elif line.startswith('"') and key:
            parts[key] += _unquote(line)
        elif not line:
            close()
            key, fuzzy, parts = None, False, {"msgid": "", "msgstr": ""}
    close()
    return entries


# A %-spec as Python's `%` reads one: each `%` begins one, whatever follows (`%%`, a bad `%y`).
_PERCENT = re.compile(r"%(?:\([^()]*\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?"
                      r"(?:[diouxXeEfFgGcrsa%]|.|$)", re.DOTALL)


def _fields(text: str) -> set[str] | None:
    """The `{field}` names of `text` as str.format reads them; None if it cannot read it."""
    try:
        return {f for _lit, f, _spec, _conv in string.Formatter().parse(text) if f is not None}
    except ValueError:
        return None


def _same_values(msgid: str, msgstr: str) -> bool:
    """The translation takes the values its English is given, and no others: every `{field}`
    of it is one of the English's, and its %-specs are the English's, in order."""
    english = _fields(msgid)
    if english is not None:
        russian = _fields(msgstr)
        if russian is None or not russian <= english:
            return False
    return _PERCENT.findall(msgid) == _PERCENT.findall(msgstr)


# -- templates -------------------------------------------------------------------------------
_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
# Where the core joins lines: an error and its remedy, a base and what it says.
_JOINS = (": ", "; ", " — ")
_SPLITS = 8  # joins in a line up to which every split is tried
_BUDGET = 300  # parts of one line looked up, at most
_LONGEST = 2000  # characters of a part matched against templates (longer ones are only split)


def _pieces(template: str) -> list[tuple[str, str | None]]:
    """(literal, field) pairs of a template, `{{`/`}}` unescaped in the literals."""
    out: list[tuple[str, str | None]] = []
    pos = 0
    for m in _FIELD.finditer(template):
        lit = template[pos:m.start()]
        if m.group(1) is None:
            out.append((lit + m.group()[0], None))
        else:
            out.append((lit, m.group(1)))
        pos = m.end()
    out.append((template[pos:], None))
    return out


# A field that is a count is digits: "{path}: {len(problems)} {noun}: …" must not take "crm: no
# message: …" for a count of "no".
_COUNT = re.compile(r"^len\(|(_no|count|total|size|runs|secs|limit|more|parked)\b[^.]*$|// ")


def _group(field: str) -> str:
    return r"(\d+)" if _COUNT.search(field) else "(.+?)"


def _last_parenthesis(text: str) -> tuple[str, str | None]:
    """("message", "remedy") of "message (remedy)", the remedy's own parentheses kept whole."""
    if not text.endswith(")"):
        return text, None
    depth = 0
    for i in range(len(text) - 1, 0, -1):
        depth += {")": 1, "(": -1}.get(text[i], 0)
        if depth == 0:
            return (text[:i - 1], text[i + 1:-1]) if text[i - 1] == " " else (text, None)
    return text, None


class Catalog(gettext.NullTranslations):
    """gettext's interface over a .po read in memory, plus lines built from templates."""

    def __init__(self, entries: dict[str, str]) -> None:
        super().__init__()
        self.entries = entries
        self._regexes: dict[str, re.Pattern] = {}
        self.line = functools.lru_cache(maxsize=4096)(self._top)

    @functools.cached_property
    def templates(self) -> list:
        """(literal length, literal parts, pattern, fields, msgstr) of each msgid with fields;
        compiled on the first line translated (--help needs none)."""
        compiled = []
        for msgid, msgstr in self.entries.items():
            pieces = _pieces(msgid)
            fields = [f for _lit, f in pieces if f is not None]
            if not fields or not any(c.isalpha() for lit, _f in pieces for c in lit):
                continue  # "{where}: {exc}" is how lines are joined: the splitting below does it
            if PLURAL_FORMS in msgstr:
                continue  # plural()'s forms, never a line's template ("5 objects" is no line)
            pattern = "".join(re.escape(lit) + (_group(f) if f is not None else "")
                              for lit, f in pieces)
            literal = sum(len(lit) for lit, _f in pieces)
            needs = tuple(lit for lit, _f in pieces if lit)
            compiled.append((literal, needs, pattern, fields, msgstr))
        # The most specific template first: "{a}: {b}" must not win over "cannot read {path}: {why}".
        compiled.sort(key=lambda c: -c[0])
        return compiled

    @functools.cached_property
    def counts(self) -> list[tuple[re.Pattern, list[str]]]:
        """(either English form, the three Russian forms) of each `counted()` text: its msgid
        is `one|many`, `{n}` in each."""
        out = []
        for msgid, msgstr in self.entries.items():
            english, forms = msgid.split(PLURAL_FORMS), msgstr.split(PLURAL_FORMS)
            if len(english) == 2 and len(forms) == 3 and all("{n}" in e for e in english):
                alternatives = "|".join(re.escape(e).replace(re.escape("{n}"), r"(\d+)")
                                        for e in english)
                out.append((re.compile(f"(?:{alternatives})"), forms))
        return out

    def _counted(self, text: str) -> str | None:
        """A count `counted()` made (`3 objects sent`), in the admin's form; None if it is not one."""
        if not any(c.isdigit() for c in text):
            return None
        for pattern, forms in self.counts:
            if m := pattern.fullmatch(text):
                return _form(int(next(g for g in m.groups() if g is not None)), forms)
        return None

    def _top(self, text: str) -> str:
        # A bound on the work for one line: a line is short, but a cause quoted in it (a
        # server's answer, a config's hundred problems) is not ours to trust.
        self._memo: dict[str, str] = {}
        self._budget = _BUDGET
        return self._line(text)

    def gettext(self, message: str) -> str:
        return self.entries.get(message, message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return self.gettext(msgid1 if n == 1 else msgid2)

    def _line(self, text: str) -> str:
        if text in self.entries:
            return self.entries[text]
        if text in self._memo:
            return self._memo[text]
        if self._budget <= 0:
            return text
        self._budget -= 1
        self._memo[text] = out = self._translate(text)
        return out

    def _translate(self, text: str) -> str:
        if (count := self._counted(text)) is not None:
            return count
        # An error line ends in its remedy, "message (remedy)": split off first, so that a
        # template ending in a field does not swallow the remedy as part of its value.
        head, tail = _last_parenthesis(text)
        if tail in self.entries:
            return f"{self._line(head)} ({self.entries[tail]})"
        if tail is not None:  # a remedy with values: a template ending in a field would take
            h, t = self._line(head), self._line(tail)  # it for a part of that field's value
            if h != head and t != tail:
                return f"{h} ({t})"
        for _literal, needs, pattern, fields, msgstr in self.templates if len(text) <= _LONGEST else ():
            # a template's literal parts must all be in the line before its regex is worth trying
            if not all(lit in text for lit in needs):
                continue
            regex = self._regexes.get(pattern)
            if regex is None:  # compiled when first needed: most never are in a run
                regex = self._regexes[pattern] = re.compile(pattern, re.DOTALL)
            m = regex.fullmatch(text)
            if m:
                values = {f: self._value(v) for f, v in zip(fields, m.groups(), strict=True)}
                return "".join(lit + (values.get(f, "{" + f + "}") if f is not None else "")
                               for lit, f in _pieces(msgstr))
        head, tail = _last_parenthesis(text)
        if tail is not None:  # message (remedy)
            joined = f"{self._line(head)} ({self._line(tail)})"
            if joined != text:
                return joined
        # Split where lines are joined; the split whose both sides are known wins, else the
        # first that makes one side known ("/srv/x.xml: <a known line>").
        best, best_score = text, 0
        every = sum(text.count(j) for j in _JOINS) <= _SPLITS  # else the first of each join only
        for join in _JOINS:
            at = text.find(join)
            while at > 0:
                head, tail = text[:at], text[at + len(join):]
                h, t = self._line(head), self._line(tail)
                score = (h != head) + (t != tail)
                if score == 2:
                    return h + join + t
                if score > best_score:
                    best, best_score = h + join + t, score
                at = text.find(join, at + 1) if every else -1
        return best

    def _value(self, value: str) -> str:
        # A value with a space may be a line itself (a cause, a remedy); a name or a number is not.
        return self._line(value) if " " in value else value
