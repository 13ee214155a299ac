"""The benchmark's message generator: valid per 1C's 1.8 schema, deterministic, and usable as is."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections import Counter
from collections import defaultdict
from pathlib import Path

import pytest
from lxml import etree

from bench import make_message
from onecsync import formats
from tests.conftest import assert_valid_message

NS = formats.namespace(make_message.VERSION)


def _body(data: bytes):
    root = etree.fromstring(data)
    header = root.find(f"{{{formats.ENVELOPE_NS}}}Header")
    return header, root.find(f"{{{NS}}}Body")


def _message(n: int, seed: int = 1, shape: str = "bench") -> bytes:
    out = io.StringIO()
    assert make_message.write_message(out, n, seed, shape=shape) == n
    return out.getvalue().encode("utf-8")


def test_every_kind_of_object_is_valid_per_the_1_8_schema():
    header, body = _body(_message(700))
    assert not formats.validate_header(header)
    by_kind = defaultdict(list)
    for el in body:
        by_kind[etree.QName(el).localname].append(el)
    expected = {"Справочник.Организации", "Справочник.Банки", "Справочник.БанковскиеСчета",
                "Справочник.КонтрагентыГруппа", "Справочник.НоменклатураГруппа",
                "Справочник.ЕдиницыИзмерения", "Справочник.Валюты", "Справочник.ТипыЦен",
                "Справочник.Пользователи", "Справочник.Подразделения", "Справочник.Контрагенты",
                "Справочник.Договоры", "Справочник.Номенклатура", "Документ.РеализацияТоваровУслуг",
                "Документ.ПБДСРасчетыСКонтрагентами", "Документ.ПКОРасчетыСКонтрагентами",
                "Документ.ВозвратТоваровОтПокупателя"}
    assert set(by_kind) == expected
    for kind, elements in by_kind.items():
        # A sample of each kind: the first few and the last (which differ in optional fields).
        for el in elements[:8] + elements[-1:]:
            problems = formats.validate_object(make_message.VERSION, el)
            assert not problems, f"{kind}: {problems}"


def test_proportions_follow_the_mix_and_the_count_is_exact():
    _, body = _body(_message(2047))
    kinds = Counter(etree.QName(el).localname for el in body)
    assert sum(kinds.values()) == 2047
    _, totals = make_message.plan(2047, 1)
    assert kinds["Справочник.Контрагенты"] == totals["cp"]
    assert kinds["Справочник.Договоры"] == totals["contract"]
    assert kinds["Документ.РеализацияТоваровУслуг"] == totals["sale"]
    catalogs = sum(v for k, v in kinds.items() if k.startswith("Справочник."))
    assert 0.6 < catalogs / 2047 < 0.75  # mostly catalogs, a third settlement documents


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_objects():
    a, b, c = _message(300, seed=7), _message(300, seed=7), _message(300, seed=8)
    assert a == b
    assert a != c
    refs = [{el.findtext(f"{{{NS}}}КлючевыеСвойства/{{{NS}}}Ссылка") for el in _body(m)[1]} for m in (a, c)]
    assert len(refs[0]) == 300  # every Ссылка is unique
    # Only the organization, its account, the currency, the price type and the units keep their
    # Ссылка whatever the seed.
    assert len(refs[0] & refs[1]) == 4 + len(make_message.UNITS)


def test_cross_references_name_objects_of_the_message():
    _, body = _body(_message(1500))
    refs = {etree.QName(el).localname: set() for el in body}
    for el in body:
        refs[etree.QName(el).localname].add(el.findtext(f"{{{NS}}}КлючевыеСвойства/{{{NS}}}Ссылка"))
    for el in body.iterfind(f"{{{NS}}}Справочник.Договоры"):
        cp = el.findtext(f"{{{NS}}}КлючевыеСвойства/{{{NS}}}Контрагент/{{{NS}}}Ссылка")
        assert cp in refs["Справочник.Контрагенты"]
    for el in body.iterfind(f"{{{NS}}}Документ.РеализацияТоваровУслуг"):
        for item in el.iterfind(f".//{{{NS}}}Номенклатура/{{{NS}}}Ссылка"):
            assert item.text in refs["Справочник.Номенклатура"]


def test_the_generated_config_and_message_go_through_pull_catalogs(tmp_path, sandbox):
    path = make_message.make(tmp_path, 400, seed=3)
    assert sandbox.config == tmp_path / "onecsync.yaml"  # the generated config replaced the sandbox's
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    received = report["peers"]["accounting"]["received"]
    assert (received["message_no"], received["objects"]) == (1, 400)
    sent = report["peers"]["crm"]["sent"]
    kinds = Counter(etree.QName(el).localname for el in _body(path.read_bytes())[1])
    assert sent["objects"] == sum(v for k, v in kinds.items() if k.startswith("Справочник."))
    out = tmp_path / "exchange" / "crm" / f"Message_{make_message.NODE}_{make_message.CRM}.xml"
    assert_valid_message(out)


def test_the_flat_shape_is_catalogs_only_without_indentation_and_valid(tmp_path, sandbox):
    data = _message(600, shape="flat")
    header, body = _body(data)
    kinds = Counter(etree.QName(el).localname for el in body)
    assert sum(kinds.values()) == 600 and all(k.startswith("Справочник.") for k in kinds)
    assert kinds["Справочник.Контрагенты"] and kinds["Справочник.Договоры"]
    inside = data[data.index(b"<Body"):data.index(b"</Body>")].rstrip()
    assert b">\n" not in inside and b">\t" not in inside  # not a line break between two tags
    for el in list(body)[::37]:
        assert not formats.validate_object(make_message.VERSION, el)
    make_message.make(tmp_path, 300, seed=2, shape="flat")
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert report["peers"]["crm"]["sent"]["objects"] == 300


@pytest.mark.parametrize("n", [0, 10])
def test_tiny_messages_are_still_well_formed(n):
    _, body = _body(_message(n))
    assert len(body) == n


@pytest.mark.slow
def test_the_benchmark_runs_end_to_end_at_a_tiny_size(tmp_path):
    """bench/run.py prints its table (figures are never asserted, only that it runs)."""
    run = Path(make_message.__file__).with_name("run.py")
    done = subprocess.run([sys.executable, str(run), "--objects", "300", "--idle", "1", "--run",
                           "--grow", "3", "--tmp", str(tmp_path), "--keep"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for row in ("(a) bare iterparse", "(a') minimal relay", "(b) pull-catalogs", "(c) write the message to the CRM",
                "(d) pull-catalogs, nothing new", "(e) (b) / (a)", "(b) / (a')",
                "(b) wrote / message size", "run, nothing new",
                "(f) pull-catalogs, CRM on 1.17 (converts)", "convert 1.8→1.17 catalogs",
                "convert 1.17→1.8 documents", "(g) state", "    status --json",
                "(900 objects), grown 3× by SQL", "    closing the state (its last checkpoint)"):
        assert row in done.stdout
    # what each step wrote (bench/step_io.py), receiving's included
    assert re.search(r"receive: parse, check, stage .* wrote \d+ MB", done.stdout), done.stdout
    (kept,) = tmp_path.iterdir()
    ours = sorted(kept.glob(f"exchange/*/Message_{make_message.NODE}_*.xml"))
    assert len(ours) == 2  # what the last run wrote to both bases
    assert not list(kept.rglob("*.relay"))  # the relay's copy is not left behind
    for path in ours:
        assert_valid_message(path)
    done = subprocess.run([sys.executable, str(run), "--objects", "30", "--idle", "1", "--tmp", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert list(tmp_path.iterdir()) == [kept]  # without --keep the temporary folder is gone


@pytest.mark.slow
def test_the_benchmark_compresses_the_crms_message_when_asked(tmp_path):
    """--compress: the CRM's message is written a .zip (compress: true), as 1C writes its own."""
    run = Path(make_message.__file__).with_name("run.py")
    done = subprocess.run([sys.executable, str(run), "--objects", "30", "--idle", "1", "--no-convert",
                           "--compress", "--dir", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "the CRM's messages compressed (.zip)" in done.stdout
    assert [p.suffix for p in (tmp_path / "exchange" / "crm").glob(f"Message_{make_message.NODE}_*")] == [".zip"]
    done = subprocess.run([sys.executable, str(run), "--objects", "30", "--idle", "1", "--no-convert",
                           "--dir", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]  # the same folder, plain again
    assert [p.suffix for p in (tmp_path / "exchange" / "crm").glob(f"Message_{make_message.NODE}_*")] == [".xml"]
