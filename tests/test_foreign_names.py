"""Names that come from outside — the config's file name, its folder, a file found in an
exchange folder — may be any bytes the file system holds (Python gives the non-UTF-8 ones as
lone surrogates) and any characters (a newline, ESC, a right-to-left override). No command ends
in exit 1 or a traceback over them (review4 #4), and every line for a person shows them escaped,
one line each, nothing sent raw to the terminal (review4 #8)."""

from __future__ import annotations

import json
import re

import pytest

from onecsync.config import load_config as config_module_load
from onecsync.text import one_line as shown
from tests import factory as f
from tests.conftest import Sandbox
from tests.conftest import invoke

NON_UTF8 = "bad\udcff\udcfe"  # the file system's bytes b"bad\xff\xfe"
HOSTILE = "x\ny\tz\x1b[31mRED\rW\u202eevil\udcff"
# What a terminal must never get from a name: a line break, a tab, ESC, CR, a bidi override,
# or a lone surrogate (which a strict UTF-8 stream cannot even write).
RAW = re.compile("[\n\t\x1b\r\u202e\ud800-\udfff]")


def raw_in(text: str) -> list[str]:
    """The lines of `text` that hold a character a name must not bring raw, or that begin
    where HOSTILE's own line break would have split a line in two."""
    return [line for line in text.split("\n") if RAW.search(line) or
            re.match(r"y(\t|\\t| +)z", line)]


def a_pair(tmp_path, capsys, folder: str, name: str) -> Sandbox:
    """A pair whose config is FOLDER/NAME.yaml, with its state, exchange folders and metrics
    file under FOLDER; one exchange done, one message rejected (kept in quarantine), and a
    stray file with the same name in an exchange folder."""
    box = Sandbox(tmp_path / folder, capsys)
    config = box.root / f"{name}.yaml"
    box.config.rename(config)
    box.config = config
    config.write_text(config.read_text(encoding="utf-8") + "metrics_file: prom/onecsync.prom\n",
                      encoding="utf-8")
    (box.root / "prom").mkdir()
    (box.folders["accounting"] / f"{name}.xml").write_bytes(b"<stray/>")
    box.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    code, _, err = box.run("run")
    assert code == 0, err
    box.put_raw("crm", b"<Message>not ours</Message>")
    return box


COMMANDS = [("run",), ("status",), ("check",), ("state", "show"), ("state", "export"),
            ("trace", f.ref(1)), ("run", "--dry-run"), ("retry", "--all"), ("reconcile",)]


@pytest.mark.parametrize("name", [NON_UTF8, HOSTILE], ids=["non-utf8", "control"])
def test_no_command_ends_in_exit_1_over_a_foreign_name(tmp_path, capsys, name):
    box = a_pair(tmp_path, capsys, f"pair-{name}", name)
    for args in COMMANDS:
        for json_out in (False, True):
            for log in ((), ("--log-format", "json"), ("-v",)):
                code, out, err = invoke(capsys, "--config", str(box.config), *log,
                                        *(("--json",) if json_out else ()), *args)
                assert code not in (1,), (args, log, err)
                assert "Traceback" not in err and "internal error" not in err, (args, log, err)
                if json_out or args == ("state", "export"):  # JSON, whose escapes are its own
                    json.loads(out)
                elif log != ("--log-format", "json"):  # JSON escapes them its own way
                    assert not raw_in(out + err), (args, log, raw_in(out + err))
    code, out, err = invoke(capsys, "status", "--all", str(box.root))
    assert code != 1 and "Traceback" not in err, err
    assert not raw_in(out + err), raw_in(out + err)
    code, out, err = invoke(capsys, "--json", "status", "--all", str(box.root))
    assert code != 1 and json.loads(out)["pairs"], err
    code, out, err = invoke(capsys, "validate", str(box.folders["accounting"] / f"{name}.xml"))
    assert code not in (1,) and "Traceback" not in err, err
    assert not raw_in(out + err), raw_in(out + err)
    metrics = (box.root / "prom" / "onecsync.prom").read_text(encoding="utf-8")
    assert "pair=" in metrics


def test_a_metrics_label_keeps_the_non_utf8_bytes_escaped(tmp_path, capsys):
    """metricsname.sh: the label was encoded strictly; every run exited 1 after exchanging."""
    box = a_pair(tmp_path, capsys, "pair", NON_UTF8)
    metrics = (box.root / "prom" / "onecsync.prom").read_text(encoding="utf-8")
    assert 'pair="bad\\\\xff\\\\xfe"' in metrics or 'pair="bad\\xff\\xfe"' in metrics, metrics


def test_shown_escapes_what_a_terminal_would_obey():
    assert shown(HOSTILE) == "x\\ny\\tz\\x1b[31mRED\\rW\\u202eevil\\xff"
    assert not RAW.search(shown(HOSTILE))
    assert shown("ООО «Ромашка» /srv/обмен") == "ООО «Ромашка» /srv/обмен"


@pytest.mark.parametrize("name", [NON_UTF8, HOSTILE.rstrip("\udcff"), "обмен «Ромашка» #1"],
                         ids=["non-utf8", "control", "cyrillic"])
def test_init_and_the_settings_message_over_a_foreign_folder_name(tmp_path, capsys, name):
    folder = tmp_path / f"etc-{name}"
    folder.mkdir()
    shares = {p: tmp_path / f"share-{name}" / p for p in ("bp", "crm")}
    for p in shares.values():
        p.mkdir(parents=True)
    code, out, err = invoke(capsys, "init", str(folder), "--accounting-code", f.ACCOUNTING,
                            "--crm-code", f.CRM, "--accounting", str(shares["bp"]),
                            "--crm", str(shares["crm"]))
    assert not raw_in(out + err), out + err
    if not name.isprintable():  # a config cannot name such a folder: said, in one line
        assert code == 2, err
        assert "is not UTF-8: a config file cannot name it" in err or "must be one line" in err
        assert len(err.splitlines()) == 1 and not (folder / "onecsync.yaml").exists(), err
        return
    assert code == 0 and "Traceback" not in err, err
    config = folder / "onecsync.yaml"
    code, out, err = invoke(capsys, "--config", str(config), "check")
    assert code not in (1,) and "Traceback" not in err, err
    assert not raw_in(out + err), out + err
    # -o into the test's folder: without it the message goes to the current folder (the checkout)
    code, out, err = invoke(capsys, "--config", str(config), "settings-message", "crm",
                            "-o", str(tmp_path / "settings.xml"))
    assert code not in (1,) and "Traceback" not in err, err
    assert not raw_in(out + err), out + err
    assert str(shares["crm"]) in str(config_module_load(config).bases["crm"].transport.path)


def test_status_all_shows_one_escaped_line_per_pair(tmp_path, capsys):
    """all.sh (review4 #8): a config named with a newline split its pair's line in two, and ESC
    reached the terminal."""
    box = Sandbox(tmp_path / "p", capsys)
    etc = tmp_path / "etc"
    etc.mkdir()
    text = box.config.read_text(encoding="utf-8").replace("state/", f"{box.root}/state/") \
        .replace("path: exchange/", f"path: {box.root}/exchange/")
    names = ["nl\nname", "esc\x1b[31mRED\x1b[0m", "tab\tx", "cr\rX", "rlo\u202eevil", NON_UTF8]
    for n in names:
        (etc / f"{n}.yaml").write_text(text, encoding="utf-8")
    code, out, err = invoke(capsys, "status", "--all", str(etc))
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == len(names), out
    assert not raw_in(out), raw_in(out)
    for escaped in ("nl\\nname", "esc\\x1b[31mRED\\x1b[0m", "tab\\tx", "cr\\rX", "rlo\\u202eevil",
                    "bad\\xff\\xfe"):
        assert any(line.startswith(escaped) for line in lines), (escaped, out)


def test_the_progress_line_shows_a_file_name_escaped_and_never_as_markup():
    """The terminal's progress line names the message file (`checking NAME`, reading it)."""
    import io

    from rich.console import Console

    from onecsync.console.bars import TerminalProgress

    bar = TerminalProgress(Console(file=io.StringIO(), force_terminal=True, width=300))
    bar.task("checking [bold]x\ny\x1b[31mRED\u202e\udcff.xml")
    task = bar.bar.tasks[0]
    text = "".join(col.render(task).plain for col in bar.bar.columns[1:2])
    assert text == "checking [bold]x\\ny\\x1b[31mRED\\u202e\\xff.xml", text


def test_status_on_a_terminal_shows_a_path_with_markup_as_it_is(tmp_path, capsys, monkeypatch):
    """On a terminal `status` draws tables, whose cells rich reads as markup: "[/]" in the
    state's path (or in a run's error) was a MarkupError, exit 1; "[red]" coloured the rest."""
    import io

    from onecsync import api
    from onecsync import console
    from onecsync.console.status import print_status

    box = a_pair(tmp_path, capsys, "pair [/] [red]x\ny", "c")
    for _ in range(2):  # the second one's error names the quarantine, under that folder
        box.run("run")
    buf = io.StringIO()
    out = console._console(buf)
    out._force_terminal = True
    monkeypatch.setattr(console, "_out", out)
    print_status(api.status(api.load_config(box.config)))
    text = re.sub("\x1b\\[[0-9;]*m", "", buf.getvalue())  # rich's own colours
    assert "pair [/] [red]x\\ny" in text, text
    assert not raw_in(text), raw_in(text)
