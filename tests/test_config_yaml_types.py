"""A value the admin wrote as text but YAML 1.1 typed otherwise is refused, naming what was
written, its line, and "quote it" (review 6, m1).

`027400000064` (an ИП's ИНН of region 02, digits 0-7 only) is read as the octal 3154116660,
`07` as 7, `0100` as 64, `1:20` as 80, `no` as false, `2026-12-01` as a date: taken as text,
each would be a number the admin never wrote.
"""

from __future__ import annotations

import pytest

from onecsync.config import ConfigError
from onecsync.config import load_config
from tests import factory as f

BASE = f"""\
node:
  code: {f.NODE}
{{node}}bases:
  accounting:
    code: {f.ACCOUNTING}
    transport: {{{{kind: directory, path: acc}}}}
  crm:
    code: {f.CRM}
    transport: {{{{kind: ftp, host: ftp.example, user: {{user}}, password_env: PW}}}}
{{flows}}"""


def problems(tmp_path, node: str = "", user: str = "sync", flows: str = "") -> list[str]:
    path = tmp_path / "onecsync.yaml"
    path.write_text(BASE.format(node=node, user=user, flows=flows), encoding="utf-8")
    path.chmod(0o600)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    return exc.value.problems


@pytest.mark.parametrize("written, shown", [
    ("027400000064", "3154116660"), ("0274062111", "49308745"),
])
def test_an_inn_read_as_octal_names_what_was_written(tmp_path, written, shown):
    flows = f"flows:\n  pull-catalogs:\n    organizations: [{written}]\n"
    assert problems(tmp_path, flows=flows) == [
        f"flows.pull-catalogs.organizations[0]: the value {written} on line 12 is read by YAML as a "
        f"number, {shown}: quote it, '{written}'"]


@pytest.mark.parametrize("written, kind, shown", [
    ("07", "a number", "7"), ("0100", "a number", "64"), ("1:20", "a number", "80"),
    ("1.5e+3", "a number", "1500.0"), ("no", "true or false", "false"),
    ("on", "true or false", "true"), ("0x1F", "a number", "31"), ("1_000", "a number", "1000"),
])
def test_every_text_key_refuses_what_yaml_typed(tmp_path, written, kind, shown):
    said = f"the value {written} on line {{line}} is read by YAML as {kind}" + (f", {shown}" if shown else "") \
        + f": quote it, '{written}'"
    assert problems(tmp_path, node=f"  prefix: {written}\n") == [
        "node.prefix: " + said.format(line=3)]
    assert problems(tmp_path, user=written) == [
        "bases.crm.transport.user: " + said.format(line=9)]


def test_quoted_it_is_text(tmp_path):
    path = tmp_path / "onecsync.yaml"
    path.write_text(BASE.format(node="  prefix: '07'\n", user="'0100'",
                                flows="flows:\n  pull-catalogs:\n    organizations: ['027400000064']\n"),
                    encoding="utf-8")
    path.chmod(0o600)
    cfg = load_config(path)
    assert cfg.node.prefix == "07" and cfg.flows["pull-catalogs"].organizations == ("027400000064",)
    assert cfg.bases["crm"].transport.user == "0100"


@pytest.mark.parametrize("written", ["1234", "7701234567", "2026-12-01", "1.5"])
def test_what_yaml_read_exactly_as_written_is_that_text(tmp_path, written):
    # Nothing changed what the admin wrote: a config that worked before keeps working.
    path = tmp_path / "onecsync.yaml"
    path.write_text(BASE.format(node="  prefix: 12\n", user=written, flows=""), encoding="utf-8")
    path.chmod(0o600)
    cfg = load_config(path)
    assert cfg.bases["crm"].transport.user == written
    assert cfg.node.prefix == "12"


MAPPED = ("mapping:\n  accounting:\n    Документ.ЗаказКлиента:\n      values:\n"
          "        Товары/Строка/СтавкаНДС: {{{key}: НДС20}}\n")
VALUES = "mapping.accounting.Документ.ЗаказКлиента.values.Товары/Строка/СтавкаНДС"


@pytest.mark.parametrize("written, kind, shown", [
    ("01", "a number", ", 1"), ("1.10", "a number", ", 1.1"), ("yes", "true or false", ", true"),
    ("true", "true or false", ""), ("0x1F", "a number", ", 31"),
])
def test_a_mapping_key_yaml_typed_names_the_key_and_how_to_quote_it(tmp_path, written, kind, shown):
    """An old value of `values:` that YAML typed would never match the text 1C sends (`01` is
    the number 1, `yes` is true): refused, not silently never applied."""
    assert problems(tmp_path, flows=MAPPED.format(key=written)) == [
        f"{VALUES}: the key {written} on line 14 is read by YAML as {kind}{shown}: quote it, "
        f"'{written}'"]


@pytest.mark.parametrize("written", ["'01'", "'yes'", "1234", "1.5"])
def test_a_quoted_key_or_one_yaml_read_as_written_is_that_text(tmp_path, written):
    path = tmp_path / "onecsync.yaml"
    path.write_text(BASE.format(node="", user="sync", flows=MAPPED.format(key=written)),
                    encoding="utf-8")
    path.chmod(0o600)
    rules = load_config(path).mapping["accounting"]["Документ.ЗаказКлиента"]
    assert rules.values == (("Товары/Строка/СтавкаНДС", ((written.strip("'"), "НДС20"),)),)


@pytest.mark.parametrize("node, said", [
    ("  true: 1\n", "node.true: unknown key on line 3"),
    ("  Yes: 1\n", "node.Yes: unknown key on line 3"),
    ("  0100: 1\n", "node.0100: unknown key on line 3"),
    ("  on: 1\n  prefx: 1\n", "node.on: unknown key on line 3"),
])
def test_a_key_yaml_typed_in_a_fixed_mapping_is_named_as_written_with_its_line(tmp_path, node,
                                                                               said):
    """Not "node.True: unknown key", nothing the admin wrote (task T4 #2); an unknown key YAML
    read as text is said as before."""
    found = problems(tmp_path, node=node)
    assert found[0] == said
    assert found[1:] == (["node.prefx: unknown key (did you mean prefix?)"] if "prefx" in node
                         else [])


def test_a_key_yaml_typed_among_link_types_is_said_once_as_written(tmp_path):
    flows = "flows:\n  pull-settlements:\n    links: {yes: [Договор]}\n"
    assert problems(tmp_path, flows=flows) == [
        "flows.pull-settlements.links.yes: unknown key on line 12"]
