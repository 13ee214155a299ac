"""Review4 #3: a Russian catalog that is missing, cut short, not UTF-8 or not a .po at all leaves
every command in English with one warning line on stderr (never in --json's stdout), --help
too; an entry whose Russian wants values its English has not, or has broken %-specs, leaves
that one line English instead of crashing it."""

from __future__ import annotations

import contextlib
import json
import os
import re

import pytest

from onecsync import i18n
from tests.conftest import invoke
from tests.conftest import unblocking

REAL = i18n.LOCALE_DIR / "ru.po"


@pytest.fixture
def catalog(tmp_path, monkeypatch, russian):
    """Where the test writes the ru.po the install has (read afresh: the cache is cleared)."""
    folder = tmp_path / "locale"
    folder.mkdir()
    monkeypatch.setattr(i18n, "LOCALE_DIR", folder)
    i18n._catalog.cache_clear()
    yield folder / "ru.po"
    i18n._catalog.cache_clear()


DAMAGE = {
    "missing": None,
    "truncated": REAL.read_bytes()[:3000],
    "not utf-8": b"\xff\xfe",
    "not a po": b'msgid "x\nmsgstr y\n',
    "a folder": "folder",
    "a fifo": "fifo",  # a read would wait for a writer for ever
    "too big": "big",
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_catalog_leaves_english_and_one_warning(catalog, capsys, sandbox, damage):
    data = DAMAGE[damage]
    if data == "folder":
        catalog.mkdir()
    elif data == "fifo":
        os.mkfifo(catalog)
    elif data == "big":
        with catalog.open("wb") as f:
            f.truncate(i18n.CATALOG_CAP + 1)
    elif data is not None:
        catalog.write_bytes(data)

    with unblocking(catalog) if data == "fifo" else contextlib.nullcontext():
        code, out, err = invoke(capsys, "--help")
    assert code == 0, err
    assert "Usage:" in out and "Options:" in out, out
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1 and "messages stay in English" in err, err

    code, report, err = sandbox.run("run")  # the cache remembers: no second warning
    assert code == 0, err
    assert report["exit_code"] == 0
    assert "messages stay in English" not in err and "Traceback" not in err, err


def test_a_catalog_entry_with_values_its_english_lacks_stays_english(catalog, capsys, sandbox):
    """`{nope}` in click's own text crashed the usage error (exit 1, KeyError); a log line's
    %-specs that do not fit its values printed logging's traceback."""
    text = REAL.read_text(encoding="utf-8")
    for msgid, broken in [
            ("Got unexpected extra argument ({args})", "лишний {nope}"),
            ("%s: %s is not complete yet (%s: %s); the base may still be writing it. It is read "
             "again on the next run, and rejected if it stays so for %s minutes (since %s)", "%s %d"),
            ("{file} is not complete yet ({r.note.get('why')}, since {r.note.get('since')}): read "
             "again on the next run", "{file} {oops} {")]:
        entry = re.search(f'msgid "{re.escape(msgid)}"\nmsgstr ".*"\n', text)
        assert entry, msgid
        text = text.replace(entry.group(), f'msgid "{msgid}"\nmsgstr "{broken}"\n')
    catalog.write_text(text, encoding="utf-8")

    code, _out, err = invoke(capsys, "--config", str(sandbox.config), "run", "extra")
    assert code == 2, err
    assert "Got unexpected extra argument (extra)" in err and "Traceback" not in err, err

    sandbox.put_raw("accounting", b"<unfinished")
    code, _out, err = sandbox.human("run")
    assert code == 0, err
    assert "Logging error" not in err and "Traceback" not in err, err
    assert "is not complete yet" in err and "is read again on the next run" in err, err
    assert "{oops}" not in err and "{nope}" not in err, err
    assert "готово" in err  # the rest of the catalog still speaks Russian
    code, report, err = sandbox.run("run")
    assert code == 0 and json.dumps(report)  # --json: untouched by the locale
