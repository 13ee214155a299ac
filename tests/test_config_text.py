"""Config text as an admin's editor saves it (review R4 #3, #4, #5): a secret file "UTF-8 with
BOM", an ИНН or node code in other digits than ASCII's, names typed in NFD (macOS, a PDF)."""

from __future__ import annotations

import unicodedata

import pytest

from onecsync.config import ConfigError
from onecsync.config import Secret
from onecsync.config import load_config
from onecsync.config import parse_config
from tests import factory as f
from tests.test_config import EXAMPLE
from tests.test_config import minimal


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def test_one_leading_bom_of_a_secret_is_no_part_of_it(tmp_path):
    """Notepad's "UTF-8 with BOM": sent, the BOM made the base answer 401 to a right password."""
    (tmp_path / "pw").write_bytes("\ufeffпароль\r\n".encode())
    assert Secret(file=tmp_path / "pw").reveal({}) == "пароль"
    assert Secret(env="PW").reveal({"PW": "\ufeffs3cret"}) == "s3cret"  # $(cat file)
    (tmp_path / "two").write_bytes("\ufeff\ufeffx".encode())
    assert Secret(file=tmp_path / "two").reveal({}) == "\ufeffx"  # only one: the rest is typed


@pytest.mark.parametrize("inn", ["７７２８４１５６３８", "٧٧٢٨٤١٥٦٣٨", "77284156３８"])
def test_an_inn_in_other_digits_than_ascii_is_refused(tmp_path, inn):
    data = minimal()
    data["flows"] = {"pull-catalogs": {"organizations": [inn]}}
    with pytest.raises(ConfigError, match=r"organizations\[0\]: .* is not an ИНН"):
        parse_config(data, tmp_path, tmp_path / "c.yaml")
    data["flows"]["pull-catalogs"]["organizations"] = ["7728415638"]
    cfg = parse_config(data, tmp_path, tmp_path / "c.yaml")
    assert cfg.flows["pull-catalogs"].organizations == ("7728415638",)


def test_a_node_code_in_full_width_digits_is_refused(tmp_path):
    """uuid.UUID takes it, and no 1C file name holds it."""
    data = minimal()
    data["node"]["code"] = "８" + f.NODE[1:]
    with pytest.raises(ConfigError, match=r"node.code: .* is not a node code"):
        parse_config(data, tmp_path, tmp_path / "c.yaml")


def test_names_typed_in_nfd_are_taken_as_1c_writes_them(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "    objects: [Документ.СчетПокупателю, Документ.ЗаказКлиента]",
        "    objects: [Документ.СчетПокупателю, Документ.ЗаказКлиента, "
        + nfd("Документ.СчетФактураВыданный") + "]")
    assert nfd("Документ.СчетФактураВыданный") in text
    text += "mapping:\n  crm:\n    " + nfd("Справочник.Номенклатура") + ":\n      drop: [" \
        + nfd("Весовой") + "]\n"
    (tmp_path / "fixtures").symlink_to(f.REPO / "fixtures")
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    cfg = load_config(tmp_path / "c.yaml")
    assert "Документ.СчетФактураВыданный" in cfg.flows["push-invoices"].objects
    assert list(cfg.mapping["crm"]) == ["Справочник.Номенклатура"]
    assert cfg.mapping["crm"]["Справочник.Номенклатура"].drop == ("Весовой",)


def test_places_keep_their_spelling(tmp_path):
    """A file name in NFD is another file than its NFC spelling on Linux."""
    data = minimal()
    data["state"] = nfd("состояние.sqlite")
    data["bases"]["crm"]["transport"]["path"] = nfd("/srv/обмен")
    cfg = parse_config(data, tmp_path, tmp_path / "c.yaml")
    assert cfg.state.name == nfd("состояние.sqlite")
    assert str(cfg.bases["crm"].transport.path) == nfd("/srv/обмен")
