"""Russian for the admin whose locale says so; English otherwise; the JSON the same in both."""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path

import pytest

from onecsync import i18n
from onecsync.cli import cli
from tests import factory as f
from tests.conftest import invoke

REPO = Path(__file__).resolve().parent.parent
GOOD = [f.counterparty(f.ref(1), "ООО Ромашка")]
CYRILLIC = re.compile("[а-яА-ЯёЁ]")


@functools.lru_cache(maxsize=None)
def _po_tool():
    spec = importlib.util.spec_from_file_location("po_tool", REPO / "tools" / "po.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.lru_cache(maxsize=None)
def _extracted() -> dict:
    return _po_tool().extract()


# -- the catalog covers the source ---------------------------------------------------------------
def test_every_operator_facing_text_has_a_russian_translation():
    """A message added anywhere (an error raised, a remedy, N_/tr, a log line, a help text)
    without its Russian fails here, named, with where it is and how to add it."""
    gaps = _po_tool().missing(_extracted())
    assert not gaps, ("no Russian translation in onecsync/locale/ru.po for:\n" + "\n".join(
        f"  {where[0]}: {msgid!r}" for msgid, where in gaps)
        + "\nrun `python tools/po.py`, then fill in each empty msgstr")


def test_the_extraction_sees_what_the_code_raises_logs_and_marks():
    msgids = _extracted()
    # an error raised with an f-string, its remedy, a class's own remedy, a log format, a help
    assert "To is {shown(header.to)}, not our node code {our_code}" in msgids
    assert "check node.code in the config and in 1C" in msgids
    assert "nothing to do: the next run retries" in msgids
    assert "%s: the rejected message is kept in %s" in msgids
    assert "Receive from both, route every flow, send to both (the cron entry)." in \
        {m.split("\n")[0] for m in msgids}


def test_each_translation_uses_only_the_values_its_english_has():
    """A translation naming a field the English does not have would print `{…}` literally; one
    whose %-specs differ would crash the log line."""
    po = _po_tool()
    field = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
    entries = i18n.read_po(po.PO.read_text(encoding="utf-8"))
    for msgid, msgstr in entries.items():
        extra = {x for x in field.findall(msgstr) if x} - {x for x in field.findall(msgid) if x}
        assert not extra, (msgid, extra)
        assert re.findall(r"%[-0-9]*[sdo]", msgid) == re.findall(r"%[-0-9]*[sdo]", msgstr), msgid
        assert CYRILLIC.search(msgstr) or msgstr == msgid or not CYRILLIC.search(msgid + "я"), msgid


def test_the_catalog_file_is_what_the_tool_writes(tmp_path):
    """ru.po is current: running tools/po.py would not change it (no msgid gone or missing)."""
    po = _po_tool()
    have = i18n.read_po(po.PO.read_text(encoding="utf-8"))
    found = _extracted()
    stale = sorted(set(have) - set(found) - set(po.CLICK_TEXTS))
    assert not stale, f"msgids no longer in the source (run `python tools/po.py`): {stale[:10]}"


# -- the language --------------------------------------------------------------------------------
@pytest.mark.parametrize("env, lang", [
    ({"LANG": "ru_RU.UTF-8"}, "ru"),
    ({"LANG": "ru_RU.UTF-8", "LC_ALL": "C"}, "en"),
    ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "ru_RU.UTF-8"}, "ru"),
    ({"LANG": "ru_RU.UTF-8", "LC_MESSAGES": "en_GB.UTF-8"}, "en"),
    ({"LC_ALL": "ru_UA.KOI8-U"}, "ru"),
    ({"LANG": "de_DE.UTF-8"}, "en"),
    ({"LANG": "en_US.UTF-8", "LANGUAGE": "ru:en"}, "ru"),
    ({"LANG": "C", "LANGUAGE": "ru"}, "en"),  # GNU gettext: LANGUAGE is ignored under C
    ({}, "en"),
])
def test_the_language_follows_the_locale_as_gettext_does(monkeypatch, env, lang):
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert i18n.language() == lang


def test_a_line_is_translated_with_its_values_and_its_remedy(russian):
    line = "/x/Message_1_2.xml: To is '1', not our node code 2 (check node.code in the config and in 1C)"
    assert i18n.tr(line) == ("/x/Message_1_2.xml: To равно '1', а не нашему коду узла 2 "
                             "(проверьте node.code в конфигурации и в 1С)")
    # a count is digits: "no" is not a number of problems
    assert i18n.tr("crm: no such thing: here") == "crm: no such thing: here"
    assert i18n.tr("something onecsync never says") == "something onecsync never says"


def test_english_stays_english(monkeypatch):
    line = "nothing to do: the next run retries"
    assert i18n.tr(line) == line and i18n._("never") == "never"


def test_the_po_reader_reads_what_gettext_writes():
    text = ('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
            '#: x.py:1\nmsgid "a \\"b\\""\nmsgstr "а \\"б\\""\n\n'
            'msgid ""\n"two\\n"\n"lines"\nmsgstr ""\n"две\\n"\n"строки"\n\n'
            '#, fuzzy\nmsgid "unsure"\nmsgstr "неуверенно"\n\n'
            'msgid "untranslated"\nmsgstr ""\n')
    assert i18n.read_po(text) == {'a "b"': 'а "б"', "two\nlines": "две\nстроки"}


# -- the command line in Russian -----------------------------------------------------------------
def test_help_is_russian_under_a_russian_locale_and_english_otherwise(capsys, monkeypatch):
    code, out, _err = invoke(capsys, "--help")
    assert code == 0 and "Usage: onecsync" in out and "Receive from both" in out
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    code, out, _err = invoke(capsys, "--help")
    assert code == 0
    assert "Использование: onecsync" in out and "Параметры:" in out and "Команды:" in out
    assert "Коды выхода: 0 готово" in out
    code, out, _err = invoke(capsys, "run", "--help")
    assert "Принять от обеих, передать по всем потокам, отправить обеим" in out
    assert "Только ошибки." in out and "Показать эту справку и выйти." in out
    code, _out, err = invoke(capsys, "no-such-command")
    assert code == 2 and "Ошибка: Нет такой команды 'no-such-command'." in err
    monkeypatch.setenv("LANG", "C.UTF-8")  # and back: nothing Russian is left behind
    code, out, _err = invoke(capsys, "--help")
    assert "Usage: onecsync" in out and "Receive from both" in out and not CYRILLIC.search(
        out.replace("1C:Бухгалтерия", ""))


def test_every_help_text_shows_in_russian(russian):
    from onecsync.cli import i18n as cli_i18n

    cli_i18n.localize(cli)
    try:
        english = [text for text, _where in cli_i18n.help_texts(cli)]
        shown = [i18n._(text) for text in english]
        assert all(CYRILLIC.search(s) for s in shown), [e for e, s in zip(english, shown, strict=True)
                                                         if not CYRILLIC.search(s)]
    finally:
        cli_i18n.localize(cli)


def test_a_failing_run_status_and_check_in_russian(sandbox, russian, monkeypatch):
    sandbox.put("accounting", f.Msg(objects=GOOD))
    code, _out, err = sandbox.human("run")
    assert code == 0, err
    assert "onecsync run: готово (код 0)" in err
    assert "accounting: принято сообщение 1: 1 объект, 0 удалений" in err
    assert "crm: от базы нет сообщения; отправлено сообщение 1 (формат 1.8): 1 объект" in err

    bad = f.Msg(message_no=2, received_no=1, created="2026-11-21T09:00:00", objects=GOOD).xml()
    path = sandbox.put("accounting", bad.replace(f.NODE.encode(), b"11111111-2222-3333-4444-555555555555"))
    dump = sandbox.dump()
    code, _out, err = sandbox.human("run")
    assert code == 5, err
    error = next(ln for ln in err.splitlines() if ln.startswith("onecsync: ошибка: "))
    assert f"{path}: To равно '11111111-2222-3333-4444-555555555555', а не нашему коду узла " \
           f"{f.NODE} (проверьте node.code в конфигурации и в 1С)" in error
    assert "onecsync run: сообщение отклонено (код 5)" in err
    assert f"  accounting: приём не удался: {path}: To равно" in err
    assert "accounting: отклонённое сообщение сохранено в" in err
    assert sandbox.dump()["peers"] == dump["peers"]
    # The journal keeps English: scripts grep it, and it reads the same in every locale.
    (_code, journaled), *_ = sandbox.journal()
    assert "To is '11111111-2222-3333-4444-555555555555', not our node code" in journaled

    code, out, _err = sandbox.human("status")
    assert code == 0
    assert "блокировка: свободна" in out
    assert "номера" in out and "отправленного 1 · принятого 1 · подтверждённого 0" in out
    assert "последние запуски" in out
    assert "приём не удался — " in out and "To равно '11111111-2222-3333-4444-555555555555'" in out
    assert "ОТКЛОНЕНО" in out and f"accounting: её сообщение {path} отклонено (с " in out

    code, _out, err = sandbox.human("check")  # the rejected message is still in the folder
    assert code == 5 and "onecsync check: сообщение отклонено (код 5)" in err
    assert f"onecsync: проблема: accounting: её сообщение {path} отклонено (с " in err
    assert "доступен на чтение и запись; сообщение базы" in err
    assert "onecsync: предупреждение: crm: от базы ещё не было сообщений" in err

    code, out, _err = sandbox.human("validate", str(path))
    assert code == 5 and "НЕКОРРЕКТНО, проблем: 1" in out


def test_a_config_error_in_russian_names_the_key_and_the_remedy(sandbox, russian):
    sandbox.write_config(sandbox.config.read_text().replace("  code: " + f.NODE, "  code: nonsense"))
    code, _out, err = sandbox.human("run")
    assert code == 3, err
    assert "node.code: 'nonsense' — не код узла (коды узлов 1С — это UUID" in err
    assert err.rstrip().endswith("(исправьте конфигурацию)")


def _same_json(sandbox, monkeypatch, *args: str) -> dict:
    outputs = []
    for lang in ("C.UTF-8", "ru_RU.UTF-8"):
        monkeypatch.setenv("LANG", lang)
        code, report, _err = sandbox.run(*args)
        outputs.append((code, report))
    assert outputs[0] == outputs[1]
    return outputs[0][1]


def test_json_is_the_same_in_both_languages(sandbox, monkeypatch):
    sandbox.put("accounting", f.Msg(objects=GOOD))
    sandbox.run("run")
    bad = f.Msg(message_no=2, received_no=1, objects=GOOD).xml()
    path = sandbox.put("accounting", bad.replace(f.NODE.encode(), b"11111111-2222-3333-4444-555555555555"))
    status = _same_json(sandbox, monkeypatch, "status")
    assert status["peers"]["accounting"]["sent_no"] == 1
    report = _same_json(sandbox, monkeypatch, "validate", str(path))
    assert "not our node code" in json.dumps(report)
    _same_json(sandbox, monkeypatch, "state", "show")
    # a failing command's JSON error stays English too, while its stderr line is Russian
    sandbox.write_config(sandbox.config.read_text().replace("  code: " + f.NODE, "  code: nonsense"))
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    code, report, err = sandbox.run("run")
    assert code == 3 and "'nonsense' is not a node code" in report["error"]
    assert "(fix the configuration)" in report["error"] and "(исправьте конфигурацию)" in err


def test_a_hostile_line_is_translated_in_bounded_time(russian):
    """A cause quoted in a line (a server's answer, a config's many problems) is not ours: its
    joins and its length must not make the translation hang (each was minutes before the bound)."""
    import time

    lines = ["a: b: c; d — e: f; " * 30, "x: " * 5000, "cannot read " * 300 + ": " * 300,
             ("the zip is broken: " * 50 + "x (") * 20 + ")" * 20,
             "/x/onecsync.yaml: 60 problems: " + "; ".join(f"bases.crm.x{i}: unknown key" for i in range(60))]
    start = time.monotonic()
    out = [i18n.tr(line) for line in lines]
    assert time.monotonic() - start < 30
    assert out[-1].startswith("/x/onecsync.yaml: ошибок в конфигурации — 60: bases.crm.x0: неизвестный ключ")


def test_every_line_console_prints_goes_through_the_translation():
    """A printer added to the console (trace's, say) with a bare English f-string would stay
    English and escape the catalog test: each literal word it prints must come from _() or tr()."""
    import ast

    modules = sorted((REPO / "onecsync" / "console").glob("*.py"))
    assert len(modules) > 1
    allowed = re.compile(r"onecsync(?: [a-z-]+)?|\[/?[a-z ]*\]|odata|EnterpriseData|\b[a-z]\b")

    def words(node) -> list[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return re.findall(r"[A-Za-z]{2,}", allowed.sub("", node.value))
        if isinstance(node, ast.JoinedStr):
            return [w for v in node.values if isinstance(v, ast.Constant) for w in words(v)]
        if isinstance(node, ast.BinOp):
            return words(node.left) + words(node.right)
        return []

    bare = []
    for node, module in ((n, m.name) for m in modules
                         for n in ast.walk(ast.parse(m.read_text(encoding="utf-8")))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("print", "error_line") and node.args:
            if words(node.args[0]):
                bare.append(f"{module}:{node.lineno}: {ast.unparse(node.args[0])[:80]}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "error_line" \
                and node.args and words(node.args[0]):
            bare.append(f"{module}:{node.lineno}: {ast.unparse(node.args[0])[:80]}")
    assert not bare, "printed without _()/tr():\n" + "\n".join(bare)


def test_a_trace_in_russian_tells_the_whole_journey(sandbox, russian):
    """Each step of trace's journey in Russian: received, routing, registered, sent, waiting."""
    sandbox.put("accounting", f.Msg(objects=GOOD))
    assert sandbox.run("run")[0] == 0
    code, _out, err = sandbox.human("trace", f.ref(1))
    out = _out + err
    assert code == 0, out
    assert "получен из accounting в её сообщении 1, формат 1.8 (версия " in out, out
    assert "маршрутизация: передан в другую базу" in out, out
    assert "зарегистрирован для crm" in out and "отправлен в crm в нашем сообщении 1" in out, out
    assert "ждёт, когда crm подтвердит наше сообщение 1" in out, out
    assert "received from" not in out and "routing:" not in out, out


def _json_both_ways(capsys, monkeypatch, *args: str) -> tuple[int, dict]:
    """onecsync --json `args` under the English and the Russian locale: the same document, with
    no Cyrillic in it (nothing here names a Russian object), and stderr Russian under ru."""
    outputs = []
    for lang in ("C.UTF-8", "ru_RU.UTF-8"):
        monkeypatch.setenv("LANG", lang)
        code, out, err = invoke(capsys, "--json", *args)
        outputs.append((code, json.loads(out)))
        if lang.startswith("ru"):
            assert CYRILLIC.search(err), err
    assert outputs[0] == outputs[1], outputs
    assert not CYRILLIC.search(json.dumps(outputs[1], ensure_ascii=False)), outputs[1]
    return outputs[0]


@pytest.mark.parametrize("args, words", [
    (("run", "--nosuchoption"), "No such option"),
    (("--nosuchoption", "run"), "No such option"),
    (("validate",), "Missing argument 'FILE'"),
    (("status", "--runs", "x"), "Invalid value for '--runs'"),
    (("status", "--runs", "5000"), "Invalid value for '--runs'"),
    (("nosuchcommand",), "No such command 'nosuchcommand'"),
    (("state", "nosuch"), "No such command 'nosuch'"),
    (("state", "set-numbers"), "Missing argument"),
    (("run", "extra"), "Got unexpected extra argument"),
    (("--config",), "requires an argument"),
])
def test_a_usage_error_in_json_is_english_in_every_locale(capsys, monkeypatch, args, words):
    code, report = _json_both_ways(capsys, monkeypatch, *args)
    assert code == 2 and words in report["error"], report


def test_errors_before_and_while_the_config_is_read_are_english_in_json(capsys, monkeypatch,
                                                                        tmp_path):
    missing = tmp_path / "nowhere.yaml"
    code, report = _json_both_ways(capsys, monkeypatch, "--config", str(missing), "run")
    assert code == 3 and "not found" in report["error"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("node: 1\nstate: x\nbases: 2\nzzz: 3\n", encoding="utf-8")
    bad.chmod(0o600)
    code, report = _json_both_ways(capsys, monkeypatch, "--config", str(bad), "check")
    assert code == 3 and "zzz: unknown key" in report["problems"], report


def test_an_internal_error_in_json_is_english_in_every_locale(sandbox, capsys, monkeypatch):
    from onecsync import api

    def broken(*args, **kw):
        raise RuntimeError("boom")

    monkeypatch.setattr(api, "status", broken)
    code, report = _json_both_ways(capsys, monkeypatch, "--config", str(sandbox.config), "status")
    assert code == 1 and report["error"].startswith("internal error: RuntimeError: boom"), report


@pytest.mark.parametrize("n, english, russian", [
    (0, "0 objects", "0 объектов"), (1, "1 object", "1 объект"), (2, "2 objects", "2 объекта"),
    (5, "5 objects", "5 объектов"), (11, "11 objects", "11 объектов"),
    (12, "12 objects", "12 объектов"), (21, "21 objects", "21 объект"),
    (22, "22 objects", "22 объекта"), (112, "112 objects", "112 объектов"),
])
def test_a_count_takes_its_plural_form_in_each_language(monkeypatch, n, english, russian):
    """Review 6, m8: "1 objects", "1 object(s)"; Russian has three forms (ru.po's Plural-Forms)."""
    from onecsync.i18n import plural

    assert plural(n, "{n} object", "{n} objects") == english
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    assert plural(n, "{n} object", "{n} objects") == russian


def test_a_plural_s_forms_are_never_a_line_s_template(monkeypatch):
    """"5 objects" built by the core is no plural() text: tr leaves it, never '5 объект|…'."""
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    assert "|" not in i18n.tr("5 objects")


def test_the_run_line_says_1_object_in_both_languages(sandbox, monkeypatch):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    _, _, err = sandbox.human("--dry-run", "pull-catalogs")
    assert "received message 1: 1 object, 0 deletions" in err and "1 objects" not in err, err
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    _, _, err = sandbox.human("pull-catalogs")
    assert "принято сообщение 1: 1 объект, 0 удалений" in err, err
    assert "отправлено сообщение 1 (формат 1.8): 1 объект" in err, err


@pytest.mark.parametrize("n, english, russian", [
    (1, "1 difference", "1 расхождение"), (3, "3 differences", "3 расхождения"),
    (11, "11 differences", "11 расхождений"), (21, "21 differences", "21 расхождение"),
])
def test_a_count_the_core_says_in_english_takes_its_form_where_it_is_shown(monkeypatch, n, english,
                                                                            russian):
    """counted(): the core's lines say the English form; tr finds the count in a line (or as a
    log line's value) and says the Russian one, which plural() alone could not in the core."""
    from onecsync.i18n import counted

    assert counted(n, "{n} difference", "{n} differences") == english
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    assert i18n.tr(english) == russian
    # A log line's format is translated, then its values go in, each a line tr translates.
    line = i18n._("reconcile: %s may still be on the way from accounting: drift if its next "
                  "message does not bring them") % i18n.tr(english)
    assert line.startswith(f"reconcile: из бухгалтерии ещё может быть в пути {russian}: "), line
