"""The read-only OData client: JSON, %20 encoding, paging with $top/$skip and an explicit
$orderby, $select, $count, $metadata once, and every failure as one classified line.

Bodies are shaped like the real БП 3.0 answers in shared/reference/odata/ (read from there when
present, else a minimal body of the same shape)."""

from __future__ import annotations

import copy
import json
import re
from urllib.parse import parse_qsl
from urllib.parse import unquote
from urllib.parse import urlsplit

import pytest
import responses

from onecsync.config import OData
from onecsync.config import Secret
from onecsync.errors import ConfigError
from onecsync.errors import TemporaryError
from onecsync.odata import ODataClient
from tests.conftest import SHARED

ROOT = "http://10.0.1.22/1c/odata/standard.odata"
# 1C's own answer where ../shared/ is there; the paging tests below only need a row's shape, so
# without it they run on the copy of one row here (nothing to skip or fail).
REFERENCE = SHARED / "reference" / "odata"


def sample(name: str, fallback: dict) -> dict:
    path = REFERENCE / name
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return fallback


NOMENKLATURA = sample("bp30_nomenklatura_collection.json", {
    "odata.metadata": f"{ROOT}/$metadata#Catalog_Номенклатура",
    "value": [{"Ref_Key": "f02ce7b3-e3b3-11eb-b4ad-000c29b45b09", "DataVersion": "AAAAAQAAAAA=",
               "DeletionMark": False, "Parent_Key": "00000000-0000-0000-0000-000000000000",
               "IsFolder": False, "Code": "00-00000001", "Description": "Мойка",
               "Услуга": False}]})


def rows(n: int) -> list[dict]:
    out = []
    for i in range(n):
        row = copy.deepcopy(NOMENKLATURA["value"][0])
        row["Ref_Key"] = f"f02ce7b3-e3b3-11eb-b4ad-{i:012d}"
        row["Description"] = f"Позиция {i}"
        out.append(row)
    return out


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setenv("ONECSYNC_TEST_ODATA_PW", "od-s3cret")
    sleeps: list[float] = []
    c = ODataClient(OData(url=ROOT, user="sync", password=Secret(env="ONECSYNC_TEST_ODATA_PW"),
                          timeout=30), page_size=2, sleep=sleeps.append)
    c.sleeps = sleeps
    return c


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


@responses.activate
def test_entities_pages_with_top_skip_and_an_explicit_orderby(client):
    data = rows(5)

    def page(request):
        q = query(request.url)
        top, skip = int(q["$top"]), int(q["$skip"])
        body = {"odata.metadata": NOMENKLATURA["odata.metadata"], "value": data[skip:skip + top]}
        return 200, {"Content-Type": "application/json"}, json.dumps(body, ensure_ascii=False)

    responses.add_callback(responses.GET, re.compile(r".*/Catalog_.*"), callback=page)
    got = list(client.entities("Catalog_Номенклатура", select=["Ref_Key", "Description"]))
    assert got == data
    calls = [query(c.request.url) for c in responses.calls]
    assert [(q["$top"], q["$skip"]) for q in calls] == [("2", "0"), ("2", "2"), ("2", "4")]
    assert all(q["$orderby"] == "Ref_Key" and q["$format"] == "json"
               and q["$select"] == "Ref_Key,Description" for q in calls)
    assert "Authorization" in responses.calls[0].request.headers


@responses.activate
def test_an_exactly_full_last_page_ends_with_an_empty_one(client):
    data = rows(4)

    def page(request):
        q = query(request.url)
        skip = int(q["$skip"])
        return 200, {}, json.dumps({"value": data[skip:skip + 2]})

    responses.add_callback(responses.GET, re.compile(r".*/Catalog_.*"), callback=page)
    assert len(list(client.entities("Catalog_Номенклатура"))) == 4
    assert len(responses.calls) == 3


@responses.activate
def test_spaces_are_percent_20_and_names_are_percent_encoded(client):
    responses.add(responses.GET, re.compile(r".*"), json={"value": []})
    flt = "Posted eq true and Date ge datetime'2026-01-01T00:00:00' and Сумма gt 1+1"
    list(client.entities("Document_РеализацияТоваровУслуг", filter=flt,
                         orderby="Date desc,Ref_Key"))
    url = responses.calls[0].request.url
    assert "+" not in url.split("?")[1].replace("%2B", "")
    assert "%20eq%20true%20and%20" in url and "Date%20desc,Ref_Key" in url
    assert "/Document_%D0%A0%D0%B5%D0%B0%D0%BB" in url  # Реал…, UTF-8 percent-encoded
    assert query(url)["$filter"] == flt  # '+' survives as %2B, not as a space


@responses.activate
def test_an_odata_error_is_shown_with_its_code_and_message(client):
    responses.add(responses.GET, re.compile(r".*"), status=400, json={
        "odata.error": {"code": "14", "message": {"lang": "ru",
                                                  "value": "Неправильный тип аргумента"}}})
    with pytest.raises(ConfigError) as exc:
        list(client.entities("Catalog_Номенклатура", filter="Code eq 1"))
    assert "error 14: Неправильный тип аргумента" in exc.value.line()
    assert len(responses.calls) == 1  # a refused query is not retried


@responses.activate
def test_a_resource_outside_the_odata_composition(client):
    responses.add(responses.GET, re.compile(r".*"), status=404, json={
        "odata.error": {"code": "8", "message": {"lang": "ru", "value": "Тип не найден"}}})
    with pytest.raises(ConfigError) as exc:
        list(client.entities("Catalog_Нет"))
    assert "error 8: Тип не найден" in str(exc.value) and "OData composition" in exc.value.line()


@responses.activate
def test_a_business_error_500_is_temporary_after_bounded_retries(client):
    responses.add(responses.GET, re.compile(r".*"), status=500, json={
        "odata.error": {"code": "-1", "message": {"lang": "ru", "value": "Произошла внутренняя "
                                                  "ошибка OData сервиса."}}})
    with pytest.raises(TemporaryError) as exc:
        list(client.entities("Catalog_Номенклатура"))
    assert "error -1: Произошла внутренняя ошибка OData сервиса." in str(exc.value)
    assert len(responses.calls) == 4 and len(client.sleeps) == 3


@responses.activate
def test_401_means_check_user_and_rights(client):
    responses.add(responses.GET, re.compile(r".*"), status=401, body="")
    with pytest.raises(ConfigError) as exc:
        client.count("Catalog_Номенклатура")
    assert "check user and rights" in exc.value.line()
    assert "od-s3cret" not in exc.value.line()


@responses.activate
def test_an_html_page_with_200_is_never_parsed(client):
    responses.add(responses.GET, re.compile(r".*"), status=200, content_type="text/html",
                  body="<!DOCTYPE html><html><head><title>Вход в 1С:Предприятие</title></head>")
    # A login page with 200 is a wrong URL or publication: a retry cannot fix it (review 4).
    with pytest.raises(ConfigError) as exc:
        list(client.entities("Catalog_Номенклатура"))
    assert "'Вход в 1С:Предприятие'" in str(exc.value)


@responses.activate
def test_count_reads_the_bare_number_even_with_a_bom(client):
    responses.add(responses.GET, re.compile(r".*/\$count.*"), body="\ufeff42".encode("utf-8"))
    assert client.count("Document_РеализацияТоваровУслуг", filter="Posted eq true") == 42
    url = responses.calls[0].request.url
    assert unquote(urlsplit(url).path).endswith("/Document_РеализацияТоваровУслуг/$count")
    assert query(url) == {"$filter": "Posted eq true"}


METADATA = """<?xml version="1.0" encoding="UTF-8"?>
<edmx:Edmx xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" Version="1.0">
<edmx:DataServices xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
 m:DataServiceVersion="3.0"><Schema xmlns="http://schemas.microsoft.com/ado/2009/11/edm"
 Namespace="StandardODATA"><EntityType Name="Catalog_Номенклатура"><Key><PropertyRef
 Name="Ref_Key"/></Key><Property Name="Ref_Key" Type="Edm.Guid" Nullable="false"/>
<Property Name="Description" Type="Edm.String"/><Property Name="Услуга" Type="Edm.Boolean"/>
</EntityType></Schema></edmx:DataServices></edmx:Edmx>""".encode("utf-8")


@responses.activate
def test_metadata_is_read_once(client):
    responses.add(responses.GET, f"{ROOT}/$metadata", body=METADATA,
                  content_type="application/xml")
    assert client.properties("Catalog_Номенклатура") == {
        "Ref_Key": "Edm.Guid", "Description": "Edm.String", "Услуга": "Edm.Boolean"}
    assert client.properties("Catalog_Нет") == {}
    assert len(responses.calls) == 1


@responses.activate
def test_probe_reads_the_service_document(client):
    responses.add(responses.GET, re.compile(r".*"), json={
        "odata.metadata": f"{ROOT}/$metadata", "value": [{"name": "Catalog_Номенклатура",
                                                          "url": "Catalog_Номенклатура"}]})
    assert client.probe() is None
    assert query(responses.calls[0].request.url) == {"$format": "json"}


@responses.activate
def test_a_network_failure_of_a_read_is_retried_then_temporary(client):
    import requests
    responses.add(responses.GET, re.compile(r".*"), body=requests.ConnectionError("refused"))
    with pytest.raises(TemporaryError) as exc:
        client.count("Catalog_Номенклатура")
    assert "cannot reach 10.0.1.22" in str(exc.value)
    assert len(client.sleeps) == 3


@responses.activate
def test_a_row_naming_a_key_twice_is_a_server_fault_not_the_last_value(client):
    """A lying server could show `DeletionMark` false to us and true to a reader that keeps the
    first value: the answer is refused, exit 4 (the next run asks again)."""
    row = json.dumps(rows(1)[0], ensure_ascii=False)[:-1] + ', "Description": "другое"}'
    responses.get(re.compile(re.escape(ROOT) + r"/Catalog_.*"), status=200,
                  body='{"value": [%s]}' % row, content_type="application/json")
    with pytest.raises(TemporaryError) as exc:
        list(client.entities("Catalog_Номенклатура", select="Ref_Key,Description"))
    assert exc.value.exit_code == 4
    assert "names the key 'Description' twice in one object" in exc.value.line()
