"""Configs and secrets as a careless (or hostile) admin writes them: secret files that are not
files, YAML bombs and traps, passwords in URLs, odd state paths, numbers SQLite cannot hold.

Each mistake is made as the admin makes it, through the CLI in-process; each test asserts the
exit code, the one error line, and that the state did not change."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time

import pytest

from tests import factory as f
from tests.conftest import DEFAULT_CONFIG
from tests.conftest import unblocking
from tests.corpus import make

FIRST = f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")])
SECRET = "Zq-ARCHIVE-SECRET-7f3e"


def error_line(err: str) -> str:
    """The one error line (`check` calls a config problem it finds itself a "problem")."""
    (line,) = [ln for ln in err.splitlines()
               if ln.startswith(("onecsync: error: ", "onecsync: problem: "))]
    return line


def with_config(sandbox, acc_extra: str = "", crm_extra: str = "", tail: str = "") -> None:
    sandbox.write_config(DEFAULT_CONFIG.format(node=f.NODE, acc=f.ACCOUNTING, crm=f.CRM,
                                               acc_extra=acc_extra, crm_extra=crm_extra) + tail)


# -- 1. *_file secrets: a regular file of sane size, UTF-8 ------------------------------------

def _secret_file(sandbox, kind: str):
    path = sandbox.root / "archive.pw"
    if kind == "fifo":
        os.mkfifo(path, 0o600)
    elif kind == "device":
        path = "/dev/zero"
    elif kind == "directory":
        path.mkdir()
    elif kind == "too big":
        path.write_bytes(b"x" * (64 * 1024 + 1))
    elif kind == "not utf-8":
        path.write_bytes("пароль".encode("cp1251") + b"\n")
    os.chmod(path, 0o600) if kind != "device" else None
    return path


@pytest.mark.parametrize("kind, says", [
    ("fifo", "not a regular file"), ("device", "not a regular file"),
    ("directory", "not a regular file"), ("too big", "larger than 64 KiB"),
    ("not utf-8", "is not UTF-8 text")])
def test_a_secret_file_that_is_no_sane_file_is_exit_3_at_once(sandbox, kind, says):
    sandbox.put("accounting", FIRST)
    assert sandbox.run("pull-catalogs")[0] == 0
    before = sandbox.dump()
    path = _secret_file(sandbox, kind)
    with_config(sandbox, acc_extra=f", archive_password_file: {path}")
    sandbox.put_raw("accounting", make.encrypted(SECRET.encode(),
                                                 f.Msg(message_no=2, received_no=1).xml()), ".zip")
    started = time.monotonic()
    with unblocking(path) if kind == "fifo" else contextlib.nullcontext():
        code, _, err = sandbox.run("pull-catalogs")
    assert time.monotonic() - started < 30
    assert code == 3, err
    line = error_line(err)
    assert f"secret file {path}" in line and says in line, line
    if kind == "not utf-8":  # none of its bytes, in any form
        assert "пароль".encode("cp1251").decode("latin-1") not in err
        assert "\\xef" not in err and "\\xe0" not in err and "xef" not in line
    assert sandbox.dump() == before
    assert not (sandbox.state_path.parent / "quarantine").exists()


# -- 2. the YAML loader: repeated keys, alias bombs, depth, size ------------------------------

def _refused_config(sandbox, text: str, *fragments: str) -> str:
    """A first run stages a message; then the config is replaced by `text`: run and check
    both exit 3 with one line holding `fragments`, and the state is as it was."""
    if not sandbox.state_path.exists():
        sandbox.put("accounting", FIRST)
        assert sandbox.run("pull-catalogs")[0] == 0
    before = sandbox.dump()
    sandbox.config.write_text(text, encoding="utf-8")
    for command in ("run", "check"):
        started = time.monotonic()
        code, report, err = sandbox.run(command)
        assert time.monotonic() - started < 30
        assert code == 3, err
        line = error_line(err)
        assert all(x in line for x in fragments), line
        assert "Traceback" not in err and "internal error" not in err
    assert sandbox.dump() == before
    return line


def _default_text() -> str:
    return DEFAULT_CONFIG.format(node=f.NODE, acc=f.ACCOUNTING, crm=f.CRM, acc_extra="",
                                 crm_extra="")


@pytest.mark.parametrize("text, path, first, line", [  # lines: of the appended text
    ("state: a.sqlite\n", "state", -7, 1),  # the default text's own `state:`
    ("    transport: {kind: directory, path: x}\n", "bases.crm.transport", 0, 1),
    ("flows:\n  pull-catalogs:\n    objects: [Справочник.Валюты]\n"
     "    organizations: ['7701234567']\n    objects: [Справочник.Банки]\n",
     "flows.pull-catalogs.objects", 3, 5),
    ("mapping:\n  crm:\n    Справочник.Номенклатура:\n      set: [{a: 1, a: 2}]\n",
     "mapping.crm.Справочник.Номенклатура.set[0].a", 4, 4),
    # Written twice beside a merge: the merge overrides neither, YAML would keep the last.
    ("flows:\n  push-invoices:\n    <<: {organizations: ['7701234567']}\n"
     "    objects: [Документ.ЗаказКлиента]\n    objects: [Документ.СчетНаОплатуПокупателю]\n",
     "flows.push-invoices.objects", 4, 5),
])
def test_a_key_given_twice_is_refused_with_its_dotted_path(sandbox, text, path, first, line):
    first += _default_text().count("\n")
    line += _default_text().count("\n")
    _refused_config(sandbox, _default_text() + text,
                    f"{path} is given twice (lines {first} and {line})", "keep one of them")


@pytest.mark.parametrize("text, words, remedy", [
    ("x-a: &a {objects: [Документ.ЗаказКлиента]}\nx-b: &b {objects: [Документ.Счет]}\n"
     "flows:\n  push-invoices:\n    <<: *a\n    <<: *b\n",
     "flows.push-invoices.<< is given twice (lines 5 and 6)", "merge them in one"),
    ("x-a: &a {objects: [Документ.ЗаказКлиента]}\nx-b: &b {objects: [Документ.Счет]}\n"
     "flows:\n  push-invoices:\n    <<: [*a, *b]\n",
     "flows.push-invoices.objects is given twice through `<<` (lines 1 and 2)",
     "YAML would silently use the first"),
    ("x-a: &a {objects: [Документ.ЗаказКлиента]}\nx-b: &b {<<: *a, x: 1}\n"
     "x-c: &c {objects: [Документ.Счет]}\nflows:\n  push-invoices: {<<: [*b, *c]}\n",
     "flows.push-invoices.objects is given twice through `<<` (lines 1 and 3)", "beside `<<`"),
])
def test_a_key_a_merge_gives_twice_is_refused_naming_both_lines(sandbox, text, words, remedy):
    base = _default_text()
    _refused_config(sandbox, text + base, words, remedy)


@pytest.mark.parametrize("merge", ["<<: [*a, *a]", "<<: [*a, *b]\n    objects: [Документ.ЗаказКлиента]"])
def test_a_merge_that_says_one_thing_is_legal(sandbox, merge):
    """One anchor merged twice gives the same value; a key written beside `<<` overrides."""
    text = ("x-a: &a {objects: [Документ.ЗаказКлиента]}\nx-b: &b {objects: [Документ.Счет]}\n"
            + _default_text() + f"flows:\n  push-invoices:\n    {merge}\n")
    sandbox.config.write_text(text, encoding="utf-8")
    code, report, err = sandbox.run("check")
    assert "given twice" not in err, err


def test_a_merge_key_may_be_overridden_beside_it(sandbox):
    text = _default_text().replace(
        "  crm:\n", "  crm: &crm\n") + "flows:\n  push-invoices: {<<: {objects: [x]}, " \
        "objects: [Документ.ЗаказКлиента]}\n"
    sandbox.config.write_text(text, encoding="utf-8")
    code, report, err = sandbox.run("check")
    assert "given twice" not in err and code in (0, 4), err


def test_a_billion_laughs_is_refused_at_once(sandbox):
    bomb = "a0: &a0 [lol]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10))
    started = time.monotonic()
    line = _refused_config(sandbox, _default_text() + bomb,
                           "refused at line", "more than 100,000 values (aliases expanded)")
    assert time.monotonic() - started < 5  # two commands; each refuses in milliseconds
    assert f"line {_default_text().count(chr(10)) + 6}" in line  # a0..a4 fit; a5 is 10^5 values


def test_pyyaml_without_libyaml_reads_and_refuses_as_with_it(monkeypatch):
    # The pure-Python fallback called Reader.__init__ a second time without the text (found by
    # mypy): without libyaml every config load ended in a TypeError, exit 1.
    import importlib.util
    import re
    import sys

    from onecsync.config import yamlsafe
    from onecsync.errors import ConfigError

    monkeypatch.setitem(sys.modules, "yaml._yaml", None)  # as a PyYAML built without it
    spec = importlib.util.spec_from_file_location("yamlsafe_pure", yamlsafe.__file__)
    pure = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pure)
    assert "CParser" not in repr(pure._Parser.__mro__)
    text = _default_text()
    assert pure.load(text, "c.yaml") == yamlsafe.load(text, "c.yaml")
    bomb = "a0: &a0 [lol]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10))
    for bad, says in ((text + "state: a.sqlite\n", "state is given twice"),
                      (text + bomb, "more than 100,000 values (aliases expanded)")):
        with pytest.raises(ConfigError, match=re.escape(says)):
            pure.load(bad, "c.yaml")


def test_a_recursive_alias_is_refused(sandbox):
    _refused_config(sandbox, _default_text() + "x: &x [1, *x]\n",
                    "an alias refers to the collection that contains it")


@pytest.mark.parametrize("opener, closer", [("[", "]"), ("{a: ", "}"), ("- ", "")])
def test_deep_nesting_is_exit_3_not_a_recursion_error(sandbox, opener, closer):
    if opener == "- ":
        deep = "\n" + "".join("  " * i + "-\n" for i in range(1, 400))  # past the recursion limit
    else:
        deep = opener * 5000 + closer * 5000
    line = _refused_config(sandbox, _default_text() + "deep: " + deep + "\n", "line")
    # libyaml stops a flow at 1000 levels itself, sometimes before our 64 are reached
    assert "nested more than 64 levels deep" in line or "exceeded maximum nesting depth" in line


def test_a_config_over_1_mib_is_refused_without_reading_it_all(sandbox):
    _refused_config(sandbox, _default_text() + "#" + "x" * (1024 * 1024) + "\n",
                    "cannot read config file", "larger than 1024 KiB")


def test_a_config_that_is_a_fifo_does_not_hang(sandbox):
    sandbox.put("accounting", FIRST)
    assert sandbox.run("pull-catalogs")[0] == 0
    before = sandbox.dump()
    sandbox.config.unlink()
    os.mkfifo(sandbox.config, 0o600)
    with unblocking(sandbox.config):
        code, _, err = sandbox.run("run")
    assert code == 3 and "not a regular file" in error_line(err), err
    assert sandbox.dump() == before


# -- 3. YAML traps: versions read as numbers, typos of known keys -------------------------------

def test_unquoted_versions_say_quote_the_version(sandbox):
    text = _default_text().replace("node:\n", "node:\n  formats: [1.8, 1.10]\n")
    line = _refused_config(sandbox, text, "node.formats[0]: 1.8 is read by YAML as a number",
                           "node.formats[1]: 1.1 is read by YAML as a number (1.10 becomes 1.1)",
                           "quote the version ('1.10')")
    assert "is not a supported" not in line


@pytest.mark.parametrize("typo, says", [
    ("stat: x.sqlite\n", "stat: unknown key (did you mean state?)"),
    ("flows:\n  pull-catalog: {}\n", "flows.pull-catalog: unknown key (did you mean pull-catalogs?)"),
    ("flows:\n  pull-settlements: {link: {}}\n",
     "flows.pull-settlements.link: unknown key (did you mean links?)"),
    ("mapping:\n  crm:\n    Справочник.Номенклатура: {dorp: []}\n",
     "mapping.crm.Справочник.Номенклатура.dorp: unknown key (did you mean drop?)"),
])
def test_a_typo_of_a_known_key_says_did_you_mean(sandbox, typo, says):
    _refused_config(sandbox, _default_text() + typo, says)


def test_a_far_unknown_key_gets_no_guess(sandbox):
    line = _refused_config(sandbox, _default_text() + "colour: red\n", "colour: unknown key")
    assert "did you mean" not in line


# -- 4. no credentials in any URL-like field -----------------------------------------------

@pytest.mark.parametrize("transport, where", [
    ("{kind: ftp, host: 'bob:s3cr3t@ftp.example.ru', password_env: PW}", "transport.host"),
    ("{kind: ftp, host: 'ftp://bob@ftp.example.ru', password_env: PW}", "transport.host"),
    ("{kind: http, url: 'https://bob:s3cr3t@h/bp', user: bob, password_env: PW}",
     "transport.url"),
    ("{kind: http, url: 'https://bob@h/bp', user: bob, password_env: PW}", "transport.url"),
])
def test_a_user_or_password_in_a_url_like_field_is_refused(sandbox, transport, where):
    text = _default_text().replace("{kind: directory, path: exchange/crm}", transport)
    line = _refused_config(sandbox, text, f"bases.crm.{where}: holds a user",
                           "put the user in `user` and the password in password_env")
    assert "s3cr3t" not in line


def test_a_password_in_the_odata_or_healthcheck_url_is_refused(sandbox):
    text = _default_text().replace(
        "    transport: {kind: directory, path: exchange/crm}",
        "    transport: {kind: directory, path: exchange/crm}\n"
        "    odata: {url: 'https://u:s3cr3t@h/crm/odata', user: u, password_env: PW}") + \
        "healthcheck_url: 'https://u:s3cr3t@hc.example/ping'\n"
    line = _refused_config(sandbox, text, "bases.crm.odata.url: holds a user and password",
                           "healthcheck_url: holds a user and password")
    assert "s3cr3t" not in line


# -- 6. numbers SQLite cannot hold are usage errors --------------------------------------------

@pytest.mark.parametrize("value", [str(2**63), str(2**63 - 1), "٣", "３", "0_2", "-1", "1e3"])
@pytest.mark.parametrize("option", ["--sent", "--received"])
def test_set_numbers_beyond_what_the_state_and_our_next_number_hold_is_exit_2(sandbox, option,
                                                                              value):
    """2**63 - 1 itself is refused: our next message would be 2**63, past SQLite's integers
    (review2 #6); digits of other scripts are refused as in a header (README)."""
    sandbox.put("accounting", FIRST)
    assert sandbox.run("pull-catalogs")[0] == 0
    before, journal = sandbox.dump(), sandbox.journal()
    code, _, err = sandbox.run("state", "set-numbers", "accounting", option, value, "--yes")
    assert code == 2, err
    assert f"Invalid value for '{option}'" in err and "from 0 to 9223372036854775806" in err
    assert sandbox.dump() == before and sandbox.journal() == journal


@pytest.mark.parametrize("option", ["--sent", "--received"])
def test_set_numbers_up_to_the_last_settable_number_is_taken(sandbox, option):
    sandbox.put("accounting", FIRST)
    assert sandbox.run("pull-catalogs")[0] == 0
    # --force: a --received above the base's message in its folder is refused without it
    code, _, err = sandbox.run("state", "set-numbers", "accounting", option, str(2**63 - 2),
                               "--force", "--yes")
    assert code == 0, err


# -- 5. a state path with URI characters; check and --dry-run create nothing -------------------

ODD = "st #1?x=%41 b"


def test_a_state_path_with_uri_characters_is_read_by_every_read_only_command(sandbox):
    odd = sandbox.root / ODD / f"{ODD}.sqlite"
    with_config(sandbox, tail="")
    sandbox.config.write_text(sandbox.config.read_text(encoding="utf-8").replace(
        "state: state/onecsync.sqlite", f"state: '{odd}'"), encoding="utf-8")
    sandbox.put("accounting", FIRST)
    assert sandbox.run("pull-catalogs")[0] == 0
    assert odd.exists()
    entries = sorted(p.name for p in odd.parent.iterdir())
    code, report, err = sandbox.run("check")
    assert code == 0 and report["state"]["exists"], err
    assert report["peers"]["accounting"]["last_message_version"]  # read from the odd path
    code, report, err = sandbox.run("state", "show")
    assert code == 0 and report["peers"]["accounting"]["received_no"] == 1, (err, report)
    assert sandbox.run("status")[0] == 0
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1,
                                    objects=[f.counterparty(f.ref(2), "АО Василек")]))
    code, report, err = sandbox.run("--dry-run", "pull-catalogs")
    assert code == 0 and report["peers"]["accounting"]["received"]["objects"] == 1, err
    assert sorted(p.name for p in odd.parent.iterdir()) == entries
    assert not list(sandbox.root.glob("st *1?x*.sqlite*"))  # no file of another name beside


def test_check_and_dry_run_create_nothing_for_a_fresh_odd_state_path(sandbox):
    fresh = sandbox.root / "fresh" / ODD / f"{ODD}.sqlite"
    sandbox.config.write_text(_default_text().replace(
        "state: state/onecsync.sqlite", f"state: '{fresh}'"), encoding="utf-8")
    sandbox.put("accounting", FIRST)
    tree = sorted(str(p) for p in sandbox.root.rglob("*"))
    for args in (["check"], ["check", "--strict"], ["--dry-run", "check"], ["--dry-run", "run"],
                 ["--dry-run", "pull-catalogs"], ["status"], ["state", "show"]):
        code, _, err = sandbox.run(*args)
        assert code in (0, 3), (args, err)
        assert sorted(str(p) for p in sandbox.root.rglob("*")) == tree, args
    assert not (sandbox.root / "fresh").exists()


# -- 7. a typo in flows.*.objects; a type added to a flow later ---------------------------------

def _flows(*types: str) -> str:
    return "flows:\n  pull-catalogs:\n    objects: [" + ", ".join(types) + "]\n"


def test_a_typo_in_a_flow_type_is_exit_3_in_run_as_in_check(sandbox):
    text = _default_text() + _flows("Справочник.Контрагент", "Справочник.Валюты")
    _refused_config(sandbox, text, "flows.pull-catalogs.objects[0]: Справочник.Контрагент is "
                                   "not an object type of EnterpriseData 1.8–1.17",
                    "did you mean Справочник.Контрагенты?")
    assert sandbox.outgoing_path("crm") is None or sandbox.outgoing("crm")["message_no"] == 1


def test_a_type_in_two_flows_is_exit_3_naming_both_keys(sandbox):
    # Review 7 #11: push-invoices (which receives from accounting too) routed first and set
    # accounting's Контрагенты aside as no invoice of the CRM's; pull-catalogs never saw them.
    text = _default_text() + ("flows:\n  pull-settlements:\n    objects: "
                              "[Документ.ПБДСРасчетыСКонтрагентами, Документ.ЗаказКлиента]\n")
    _refused_config(sandbox, text, "flows.pull-settlements.objects[1]: Документ.ЗаказКлиента is "
                                   "in flows.push-invoices.objects[1] too",
                    "remove it from one of the two")


def test_a_catalog_in_push_invoices_is_exit_3(sandbox):
    # The invoice registry would take the CRM's counterparties for invoices.
    text = _default_text() + ("flows:\n  push-invoices:\n    objects: [Документ.СчетПокупателю, "
                              "Справочник.Контрагенты]\n")
    _refused_config(sandbox, text, "flows.push-invoices.objects[1]: Справочник.Контрагенты is "
                                   "not a type push-invoices carries", "Документ.*")


def test_objects_of_a_type_added_to_a_flow_later_go_with_the_next_run(sandbox):
    sandbox.config.write_text(_default_text() + _flows("Справочник.Контрагенты"),
                              encoding="utf-8")
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка"),
                                             f.currency(f.ref(3))]))
    assert sandbox.run("run")[0] == 0
    assert [o[0] for o in sandbox.outgoing("crm")["objects"]] == ["Справочник.Контрагенты"]
    sandbox.config.write_text(_default_text() + _flows("Справочник.Контрагенты",
                                                       "Справочник.Валюты"), encoding="utf-8")
    code, report, err = sandbox.run("run")  # no new message from accounting
    assert code == 0, err
    assert report["routed"]["pull-catalogs"]["registered"] == 1
    sent = sandbox.outgoing("crm")
    assert ("Справочник.Валюты", f.ref(3)) in sent["objects"]
    assert sandbox.run("run")[1]["routed"]["pull-catalogs"].get("registered", 0) == 0  # once


def test_objects_set_aside_by_an_older_onecsync_are_routed_too(sandbox):
    sandbox.config.write_text(_default_text() + _flows("Справочник.Контрагенты"),
                              encoding="utf-8")
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка"),
                                             f.currency(f.ref(3))]))
    assert sandbox.run("run")[0] == 0
    with sqlite3.connect(sandbox.state_path) as c:  # as an older onecsync left them
        c.execute("UPDATE inbox SET reason = NULL WHERE status = 'ignored'")
        c.execute("DELETE FROM meta WHERE key LIKE 'taken-types:%'")
    sandbox.config.write_text(_default_text() + _flows("Справочник.Контрагенты",
                                                       "Справочник.Валюты"), encoding="utf-8")
    code, report, err = sandbox.run("run")
    assert code == 0 and ("Справочник.Валюты", f.ref(3)) in sandbox.outgoing("crm")["objects"]


def test_a_flood_of_values_is_refused_without_composing_them_all(sandbox):
    flood = "flood: [" + "1," * 400_000 + "1]\n"  # just under the 1 MiB cap
    started = time.monotonic()
    _refused_config(sandbox, _default_text() + flood, "more than 100,000 values")
    assert time.monotonic() - started < 30


# -- 7. every number of the config: finite and in its range ---------------------------------

HTTP = "{kind: http, url: 'http://127.0.0.1:1/bp', user: u, password_env: PW%s}"
FTP = "{kind: ftp, host: 127.0.0.1%s}"
DIRECTORY = "{kind: directory, path: exchange/crm%s}"
ODATA = ("{kind: directory, path: exchange/crm}\n"
         "    odata: {url: 'http://127.0.0.1:1/odata', user: u, password_env: PW%s}")
# key -> (transport it belongs to, what the line says, a value just over its range)
NUMBER_KEYS = {
    "connect_timeout": (HTTP, "above 0 to 86400 (seconds)", 86401),
    "read_timeout": (HTTP, "above 0 to 86400 (seconds)", 86400.5),
    "wait_timeout": (HTTP, "above 0 to 86400 (seconds)", 10**6),
    "part_size": (HTTP, "a whole number from 1 to 65536 (KiB)", 99999999999),
    "max_message_mib": (HTTP, "a whole number from 1 to 65536 (MiB)", 65537),
    "port": (FTP, "a whole number from 1 to 65535 (a TCP port)", 99999),
    "timeout": (FTP, "above 0 to 86400 (seconds)", 1e300),
    "settle_minutes": (DIRECTORY, "from 0 to 1440 (minutes)", 1441),
}


def test_every_number_of_the_config_is_covered_here():
    from onecsync.config import NUMBERS

    # run_timeout is the config's top level, not a transport's: test_config covers it.
    assert set(NUMBER_KEYS) | {"run_timeout"} == set(NUMBERS)


@pytest.mark.parametrize("value", [".inf", ".nan", "over", "-1", "'10'"])
@pytest.mark.parametrize("key", sorted(NUMBER_KEYS))
def test_a_number_that_is_not_finite_or_out_of_range_is_exit_3_naming_key_and_range(
        sandbox, monkeypatch, key, value):
    monkeypatch.setenv("PW", "x")
    transport, says, over = NUMBER_KEYS[key]
    if value == "over":
        value = repr(over)
    text = _default_text().replace("{kind: directory, path: exchange/crm}",
                                   transport % f", {key}: {value}")
    _refused_config(sandbox, text, f"bases.crm.transport.{key}: must be ", says)


@pytest.mark.parametrize("value", [".inf", ".nan", "0", "86401"])
def test_the_odata_timeout_is_in_range_too(sandbox, monkeypatch, value):
    monkeypatch.setenv("PW", "x")
    text = _default_text().replace("{kind: directory, path: exchange/crm}",
                                   ODATA % f", timeout: {value}")
    _refused_config(sandbox, text, "bases.crm.odata.timeout: must be a finite number above 0 "
                                   "to 86400 (seconds)")


def test_the_edges_of_every_range_are_accepted(tmp_path, monkeypatch):
    from onecsync.config import NUMBERS
    from onecsync.config import parse_config
    from onecsync.config import yamlsafe

    for key, (transport, _, _) in NUMBER_KEYS.items():
        r = NUMBERS[key]
        for value in ([r.low] if r.low_included else []) + [r.high]:
            text = _default_text().replace("{kind: directory, path: exchange/crm}",
                                           transport % f", {key}: {value!r}")
            cfg = parse_config(yamlsafe.load(text, "c.yaml"), tmp_path, tmp_path / "c.yaml")
            assert getattr(cfg.bases["crm"].transport, key) == value


# -- 8. a secret from the environment is UTF-8 too ------------------------------------------

def test_a_secret_env_var_that_is_not_utf8_is_exit_3_naming_the_variable(sandbox, monkeypatch):
    sandbox.put("accounting", FIRST)
    assert sandbox.run("pull-catalogs")[0] == 0
    before = sandbox.dump()
    monkeypatch.setenv("ZPW", os.fsdecode(b"\xff\xfe"))  # how Python holds such bytes
    with_config(sandbox, acc_extra=", archive_password_env: ZPW")
    sandbox.put_raw("accounting", make.encrypted(SECRET.encode(),
                                                 f.Msg(message_no=2, received_no=1).xml()), ".zip")
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 3, err
    line = error_line(err)
    assert "environment variable ZPW is not UTF-8" in line, line
    assert "Traceback" not in err and "\\udcff" not in err
    assert sandbox.dump() == before


def test_every_secret_is_read_through_the_one_utf8_check(monkeypatch):
    from onecsync.config import Secret
    from onecsync.errors import ConfigError

    with pytest.raises(ConfigError, match="environment variable PW is not UTF-8"):
        Secret(env="PW").reveal({"PW": os.fsdecode(b"a\xe9")})
    assert Secret(env="PW").reveal({"PW": "пароль"}) == "пароль"


# -- 9. an item given twice in any list of the config --------------------------------------

@pytest.mark.parametrize("extra, where, item", [
    ("node:\n", "node.formats[1]", "'1.8' is given twice (also node.formats[0])"),
    ("flows:\n  pull-catalogs:\n    objects: [Справочник.Банки, Справочник.Валюты, "
     "Справочник.Банки]\n", "flows.pull-catalogs.objects[2]", "(also flows.pull-catalogs.objects[0])"),
    ("flows:\n  push-invoices:\n    organizations: ['7728415638', '7728415638']\n",
     "flows.push-invoices.organizations[1]", "'7728415638' is given twice"),
    ("flows:\n  pull-settlements:\n    links: {Документ.РеализацияТоваровУслуг: "
     "[Заказ/Ссылка, Заказ/Ссылка]}\n",
     "flows.pull-settlements.links.Документ.РеализацияТоваровУслуг[1]", "is given twice"),
    ("mapping:\n  crm:\n    Справочник.Номенклатура:\n      drop: [Описание, Описание]\n",
     "mapping.crm.Справочник.Номенклатура.drop[1]", "'Описание' is given twice"),
])
def test_an_item_given_twice_in_a_config_list_is_exit_3_naming_its_index(sandbox, extra, where,
                                                                           item):
    if extra == "node:\n":
        text = _default_text().replace("node:\n", "node:\n  formats: ['1.8', '1.8', '1.17']\n")
    else:
        text = _default_text() + extra
    _refused_config(sandbox, text, f"{where}: ", item)


# -- 10. the state apart from every exchange folder -------------------------------------------

@pytest.mark.parametrize("state, says", [
    (f"exchange/crm/Message_{f.NODE}_{f.CRM}.xml", "in the exchange folder bases.crm"),
    ("exchange/crm/deep/onecsync.sqlite", "in the exchange folder bases.crm"),
    ("exchange/accounting/../crm/s.sqlite", "in the exchange folder bases.crm"),
    ("link/s.sqlite", "in the exchange folder bases.accounting"),
])
def test_a_state_inside_or_around_an_exchange_folder_is_exit_3(sandbox, state, says):
    (sandbox.root / "link").symlink_to(sandbox.folders["accounting"])
    text = _default_text().replace("state: state/onecsync.sqlite", f"state: {state}")
    sandbox.put("accounting", FIRST)
    assert sandbox.run("pull-catalogs")[0] == 0
    before = dict(_tree(sandbox.root / "exchange"))
    _refused_config(sandbox, text, "state: ", says, "keep the state in a folder of its own")
    assert dict(_tree(sandbox.root / "exchange")) == before


@pytest.mark.parametrize("folder, what", [
    ("state/quarantine", "the quarantine"), ("state/quarantine/crm", "the quarantine"),
    ("state/onecsync-transfers", "the download spool"),
    ("state/onecsync-transfers/crm", "the download spool"),
])
def test_an_exchange_folder_that_is_one_of_our_own_folders_is_exit_3(sandbox, folder, what):
    """The quarantine as the CRM's share: the accounting base's rejected messages were copied
    into it, and the share made 0700 under the base's server (review 5)."""
    text = _default_text().replace("path: exchange/crm", f"path: {folder}")
    (sandbox.root / folder).mkdir(parents=True, exist_ok=True)
    mode = (sandbox.root / folder).stat().st_mode
    _refused_config(sandbox, text, "bases.crm.transport.path: ", f"is {what} onecsync keeps "
                    "beside its state", "give the base an exchange folder of its own")
    assert (sandbox.root / folder).stat().st_mode == mode


def _tree(root):
    return sorted((str(p.relative_to(root)), p.read_bytes()) for p in root.rglob("*")
                  if p.is_file())


# -- over-long names (ENAMETOOLONG) ------------------------------------------------------------

LONG = "x" * 300


@pytest.mark.parametrize("key, change", [
    ("state", lambda t: t.replace("state/onecsync.sqlite", f"state/{LONG}.sqlite")),
    ("state", lambda t: t.replace("state/onecsync.sqlite", f"state/{'y' * 250}")),  # its .lock
    ("bases.crm.transport.path", lambda t: t.replace("path: exchange/crm", f"path: {LONG}")),
    ("bases.crm.transport.path",
     lambda t: t.replace("path: exchange/crm", "path: " + "/".join(["d" * 200] * 20))),
    ("metrics_file", lambda t: t + f"metrics_file: {LONG}.prom\n"),
    ("bases.crm.transport.archive_password_file",
     lambda t: t.replace("path: exchange/crm", f"path: exchange/crm, archive_password_file: {LONG}")),
])
def test_a_name_too_long_for_the_system_is_exit_3_naming_the_key(sandbox, key, change):
    """review3 #7: ENAMETOOLONG was exit 1 (check's state access, the folder fetch) or exit 4."""
    sandbox.write_config(change(sandbox.config.read_text(encoding="utf-8")))
    for command in ("check", "run", "status"):
        code, _, err = sandbox.run(command)
        assert code == 3, (command, err)
        line = error_line(err)
        assert f"{key}: '" in line and "give a shorter path" in line, line
        assert "internal error" not in err
    assert not sandbox.state_path.parent.exists()


@pytest.mark.parametrize("length", [300, 5000])
def test_a_config_search_place_too_long_is_exit_3_naming_the_variable(
        sandbox, capsys, monkeypatch, length):
    from tests.conftest import invoke

    monkeypatch.delenv("ONECSYNC_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", "/tmp/" + "a" * length)
    monkeypatch.chdir(sandbox.root / "exchange")
    code, _, err = invoke(capsys, "status")
    assert code == 3, err
    assert "(from $XDG_CONFIG_HOME)" in err and "set XDG_CONFIG_HOME to a shorter path" in err


def test_an_unforeseen_too_long_path_is_exit_3_not_a_bug(sandbox, monkeypatch):
    """Wherever else ENAMETOOLONG comes from (a path made at run time), it is the admin's: exit 3
    with one line, never exit 1 "internal error"."""
    from onecsync.cli import options as cli_options

    def too_long(path):
        raise OSError(36, "File name too long", "/tmp/" + LONG)

    monkeypatch.setattr(cli_options, "load_config", too_long)
    code, _, err = sandbox.run("status")
    assert code == 3, err
    assert "is too long for the system (ENAMETOOLONG)" in error_line(err)
    assert "internal error" not in err


# -- a config with tens of thousands of problems: a screenful, in text and in --json ----------

@pytest.mark.parametrize("extra, first, total", [
    ("mapping:\n  crm:\n    Справочник.Номенклатура:\n      drop: [" +
     ", ".join(f"X{i}" for i in range(60_000)) + "]\n",
     "mapping.crm.Справочник.Номенклатура.drop[0]: 'X0' is not a field path", 60_000),
    ("".join(f"k{i}: 1\n" for i in range(45_000)), "k0: unknown key", 45_000),
])
def test_tens_of_thousands_of_problems_list_the_first_and_count_the_rest(sandbox, extra, first,
                                                                        total):
    from onecsync.errors import SHOWN_PROBLEMS

    sandbox.config.write_text(_default_text() + extra, encoding="utf-8")
    more = total - SHOWN_PROBLEMS
    code, report, err = sandbox.run("check")
    assert code == 3, err[:300]
    assert len(report["problems"]) == SHOWN_PROBLEMS and report["more_problems"] == more
    assert report["problems"][0].startswith(first)
    assert report["error"].endswith(f"; and {more} more (fix the configuration)")
    assert len(json.dumps(report)) < 20_000
    code, out, err = sandbox.human("run")
    assert code == 3 and len(err) < 20_000, len(err)
    assert err.count("\n  - ") == SHOWN_PROBLEMS and f"  … and {more} more problems" in err, err
