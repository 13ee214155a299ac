"""Slow, lying and hostile servers on 127.0.0.1 against `onecsync run`: 1C's HTTP service, an
FTP server and an OData publication that trickle, flood, loop or send malformed answers. Each
ends in exit 4 (never 1, never a hang) with one line naming the server, the request and what
was wrong, within 30 s, with the state unchanged and nothing left in the spool; and 1C users
with Cyrillic names and passwords work on every transport."""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from onecsync import httpclient
from onecsync.answers import Malformed
from onecsync.config import OData
from onecsync.config import Secret
from onecsync.errors import ExitCode
from onecsync.odata import ODataClient
from onecsync.transport import SPOOL_FOLDER
from onecsync.transport import http as http_transport
from tests import factory as f
from tests.conftest import Sandbox
from tests.conftest import ftp_peer
from tests.conftest import http_peer
from tests.conftest import remote_config
from tests.emulator.odata import ODataService
from tests.emulator.remote import lone
from tests.exchange_service import ExchangeService
from tests.exchange_service import Fault
from tests.ftp_server import FtpServer
from tests.local_http import basic_credentials

USER, PASSWORD = "Администратор", "Пароль-ёж 1"
FTP_USER, FTP_PASSWORD = "обмен", "фтп-пароль"
CATALOGS = [f.counterparty(f.ref(1), "ООО Ромашка", "7701234567"), f.currency(f.ref(9))]



@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setattr(http_transport, "FIRST_POLL", 0.001)
    monkeypatch.setattr(httpclient, "BACKOFF_BASE", 0.001)
    monkeypatch.setenv("ONECSYNC_TEST_PW", PASSWORD)
    monkeypatch.setenv("ONECSYNC_TEST_FTP_PW", FTP_PASSWORD)


def spooled(sandbox: Sandbox) -> list[tuple[str, int, int]]:
    """The files of accounting's spool (its last good download is kept there)."""
    root = sandbox.state_path.parent / SPOOL_FOLDER / "accounting"
    return sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in root.rglob("*") if p.is_file())


def held(sandbox: Sandbox) -> dict:
    """What a failed fetch from accounting must leave as it was: accounting's numbers, the
    inbox, what is registered for anyone (the CRM's side of the run goes on, confirming), and
    the spool (no part of the bad answer kept)."""
    with sandbox.db() as c:
        return {"accounting": c.execute("SELECT * FROM peers WHERE name='accounting'").fetchall(),
                "inbox": c.execute("SELECT * FROM inbox ORDER BY 1").fetchall(),
                "registered": c.execute("SELECT peer, type, ref FROM registrations "
                                        "ORDER BY 1, 2, 3").fetchall(),
                "spool": spooled(sandbox)}


def failed_run(sandbox: Sandbox, before: dict) -> str:
    """One run that must fail as 'try again later': exit 4, one line, in time, nothing kept."""
    start = time.monotonic()
    code, report, err = sandbox.run("run")
    took = time.monotonic() - start
    assert code == ExitCode.TEMPORARY, err
    assert took < 30, took
    lines = [x for x in err.splitlines() if x.strip()]
    # One line per base that failed (a lying FTP server lies about both folders).
    assert lines and all(x.startswith("onecsync: error: ") for x in lines), err
    assert len(lines) <= 3 and "Traceback" not in err, err
    assert held(sandbox) == before
    return lines[0]


# -- 1C's HTTP service ----------------------------------------------------------------------
@pytest.fixture
def http(sandbox):
    acc, crm = lone("accounting", *CATALOGS), lone("crm")
    with ExchangeService(acc, user=USER, password=PASSWORD) as sa, \
            ExchangeService(crm, user=USER, password=PASSWORD, publication="crm") as sc:
        sandbox.write_config(remote_config({
            name: http_peer(s.url, user=USER, read_timeout=2)
            for name, s in (("accounting", sa), ("crm", sc))}))
        code, _, err = sandbox.run("run")
        assert code == 0, err  # a Cyrillic user and password reach both bases
        assert crm.base.imported_numbers() == [1]
        yield acc.base, sa
    assert acc.invalid == crm.invalid == [], "a message crossing fails 1C's schema"


def test_basic_credentials_travel_as_utf8_as_1c_web_server_decodes_them():
    header = httpclient.basic_auth(USER, PASSWORD)
    assert basic_credentials(header) == (USER, PASSWORD)
    assert header == "Basic " + "0JDQtNC80LjQvdC40YHRgtGA0LDRgtC+0YA60J/QsNGA0L7Qu9GMLdGR0LYgMQ=="


def test_a_trickling_answer_is_cut_at_read_timeout(sandbox, http):
    acc, sa = http
    before = held(sandbox)
    sa.fail("UploadData", Fault.TRICKLE)
    line = failed_run(sandbox, before)
    assert f"{sa.url}: UploadData: no answer within 2 s" in line
    assert len(sa.calls("UploadData")) == 2  # not retried; the CRM's side went on


def test_a_trickling_part_leaves_nothing_in_the_spool(sandbox, http):
    acc, sa = http
    acc.enter(f.counterparty(f.ref(3), "ИП " + os.urandom(3000).hex()))
    before = held(sandbox)
    sa.fail("GetFilePart", Fault.TRICKLE)
    line = failed_run(sandbox, before)
    assert "GetFilePart 1 of" in line and "no answer within 2 s" in line


def test_a_part_larger_than_asked_is_cut_at_once(sandbox, http):
    acc, sa = http
    acc.enter(f.counterparty(f.ref(3), "ИП " + os.urandom(3000).hex()))
    before, calls = held(sandbox), len(sa.calls("GetFilePart"))
    sa.fail("GetFilePart", Fault.OVERSIZE)
    line = failed_run(sandbox, before)
    assert re.search(r"GetFilePart 1 of \d+: the server announces 2048 bytes, more than the "
                     "1024 asked for", line), line
    assert len(sa.calls("GetFilePart")) == calls + 1  # cut at once, not read, not retried


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("op, body, words", [
    ("UploadData", DEEP, "nested deeper than any real answer"),
    ("UploadData", b'[{"FileID": "x"}]', "the answer is [{\"FileID\": \"x\"}], not an object"),
    ("UploadData", b'{"FileID": 12.5e400}', "holds 12.5e400, a number out of any range"),
    ("UploadData", b'{"FileID": NaN}', "holds NaN"),
    ("UploadData", b'{"FileID": "f", "TimeConsumingOperation": "yes"}',
     "the answer.TimeConsumingOperation is \"yes\", not true/false"),
    ("UploadData", b'{"FileID": "f", "OperationID": 5}', "OperationID is 5, not a string or null"),
    ("PrepareGetFile", b'{"SessionID": "s", "PartCount": "3"}',
     "the answer.PartCount is \"3\", not an integer"),
    ("PrepareGetFile", b'{"SessionID": "s"}', "the answer has no 'PartCount'"),
    ("PrepareGetFile", b'{"SessionID": "s", "PartCount": 1e12}', "PartCount is 1000000000000.0, not an integer"),
    ("PrepareGetFile", b'{"SessionID": "s", "PartCount": -1}', "PartCount is -1, not 0 to"),
    ("UploadData", b"\xff\xfe{}", "not UTF-8"),
    ("UploadData", b" " * (17 << 20) + b"{}", "announces 17825794 bytes, more than the 16777216"),
])
def test_a_malformed_service_answer_is_exit_4_naming_what_was_wrong(sandbox, http, op, body,
                                                                    words):
    acc, sa = http
    before = held(sandbox)
    sa.answer(op, body)
    line = failed_run(sandbox, before)
    assert line.startswith(f"onecsync: error: {sa.url}: {op}: "), line
    assert words in line, line


def test_a_status_that_is_not_an_object_is_exit_4(sandbox, http):
    acc, sa = http
    sa.long_polls = 2
    before = held(sandbox)
    sa.answer("GetContinuousOperationStatus", b'{"ActionState": ["Active"]}')
    line = failed_run(sandbox, before)
    assert "GetContinuousOperationStatus: the answer.ActionState is [\"Active\"], not a string" \
        in line


def test_wait_timeout_bounds_the_whole_wait_by_the_clock(sandbox, http, monkeypatch):
    """Polls that each take long are counted by the clock, not by the pauses between them."""
    acc, sa = http
    sa.long_polls = 10_000
    monkeypatch.setattr(http_transport, "FIRST_POLL", 0.3)
    text = sandbox.config.read_text(encoding="utf-8")
    sandbox.write_config(text.replace("read_timeout: 2}", "read_timeout: 2, wait_timeout: 2}",
                                      1))
    before = held(sandbox)
    line = failed_run(sandbox, before)
    assert "still busy with the export of its message" in line
    assert len(sa.calls("GetContinuousOperationStatus")) < 10


# -- FTP ------------------------------------------------------------------------------------
@pytest.fixture
def ftp(sandbox):
    with FtpServer(sandbox.root / "exchange", user=FTP_USER, password=FTP_PASSWORD) as server:
        sandbox.write_config(remote_config({
            name: ftp_peer(name, server.port, user=FTP_USER, timeout=2)
            for name in ("accounting", "crm")}))
        sandbox.put("accounting", f.Msg(objects=CATALOGS))
        code, _, err = sandbox.run("run")
        assert code == 0, err  # a Cyrillic user and password log in
        assert sandbox.outgoing("crm")["message_no"] == 1
        sandbox.put("accounting", f.Msg(message_no=2, objects=[
            f.counterparty(f.ref(3), "ИП " + os.urandom(3000).hex())]))
        yield server


def test_ftp_size_that_is_not_a_number_is_exit_4(sandbox, ftp):
    before = held(sandbox)
    ftp.no_mlsd, ftp.size_reply = True, "213 12abc"
    line = failed_run(sandbox, before)
    assert f"SIZE Message_{f.ACCOUNTING}_{f.NODE}.xml: the size is '12abc', not a whole number" \
        in line


def test_ftp_mlsd_size_that_is_not_a_number_is_exit_4(sandbox, ftp):
    before = held(sandbox)
    name = f"Message_{f.ACCOUNTING}_{f.NODE}.xml"
    ftp.listing = [f"type=file;size=1e3;modify=20261201000000; {name}"]
    line = failed_run(sandbox, before)
    assert f"MLSD {name}: its size is '1e3', not a whole number of bytes" in line


def test_ftp_listing_of_millions_of_lines_is_cut(sandbox, ftp):
    before = held(sandbox)
    ftp.listing = (f"type=file;size=1;modify=20261201000000; junk-{i}" for i in range(3_000_000))
    line = failed_run(sandbox, before)
    assert "MLSD: the listing goes on past 100000 lines" in line
    assert ftp.commands.count("RETR") == 1  # only the first, good run's


def test_ftp_download_longer_than_listed_is_cut_at_once(sandbox, ftp):
    before = held(sandbox)
    ftp.fail("long-read", f"Message_{f.ACCOUNTING}")
    line = failed_run(sandbox, before)
    assert "the download runs past" in line and "but the listing said" in line


def test_ftp_trickling_download_is_cut_at_its_deadline(sandbox, ftp, monkeypatch):
    from onecsync.transport import ftp as ftp_transport
    monkeypatch.setattr(ftp_transport, "MIN_RATE", 1 << 30)  # the deadline: timeout, 2 s
    before = held(sandbox)
    ftp.fail("trickle-read", f"Message_{f.ACCOUNTING}")
    line = failed_run(sandbox, before)
    assert f"downloading Message_{f.ACCOUNTING}_{f.NODE}.xml: not done within 2 s" in line


# -- OData ----------------------------------------------------------------------------------
GUIDS = [f"{i:08d}-0000-0000-0000-000000000000" for i in range(1, 5)]


@pytest.fixture
def odata(monkeypatch):
    monkeypatch.setenv("ONECSYNC_TEST_ODATA_PW", PASSWORD)
    with ODataService(None, user=USER, password=PASSWORD) as svc:
        cfg = OData(url=svc.url, user=USER, password=Secret(env="ONECSYNC_TEST_ODATA_PW"),
                    timeout=2)
        yield svc, ODataClient(cfg, page_size=2, sleep=lambda s: None)


def page(*rows) -> bytes:
    return json.dumps({"value": list(rows)}).encode()


def read_all(client) -> list[dict]:
    return list(client.entities("Document_СчетНаОплатуПокупателю", select="Ref_Key"))


def malformed(client) -> str:
    start = time.monotonic()
    with pytest.raises(Malformed) as exc:
        read_all(client)
    assert time.monotonic() - start < 30
    assert exc.value.exit_code == ExitCode.TEMPORARY
    return exc.value.line()


def test_odata_reads_pages_with_a_cyrillic_user(odata):
    svc, client = odata
    svc.raw = [page({"Ref_Key": GUIDS[0]}, {"Ref_Key": GUIDS[1]}), page({"Ref_Key": GUIDS[2]})]
    assert [r["Ref_Key"] for r in read_all(client)] == GUIDS[:3]


def test_odata_that_ignores_skip_stops_after_a_page_with_nothing_new(odata):
    svc, client = odata
    same = page({"Ref_Key": GUIDS[0]}, {"Ref_Key": GUIDS[1]})
    svc.raw = [same] * 1000
    line = malformed(client)
    assert "Document_СчетНаОплатуПокупателю $skip=2: the page brings nothing new" in line
    assert len(svc.requests) == 2


def test_odata_that_ignores_top_is_exit_4(odata):
    svc, client = odata
    svc.raw = [page(*({"Ref_Key": g} for g in GUIDS))]
    assert "4 rows where $top=2 was asked" in malformed(client)


def test_odata_next_link_to_another_host_is_never_followed(odata):
    svc, client = odata
    svc.raw = [json.dumps({"value": [{"Ref_Key": GUIDS[0]}],
                           "odata.nextLink": "http://evil.example/x"}).encode()]
    assert [r["Ref_Key"] for r in read_all(client)] == GUIDS[:1]
    assert len(svc.requests) == 1


@pytest.mark.parametrize("body, words", [
    (page(1, 2), "the answer.value[0] is 1, not an object"),
    (page({"Number": "1"}), "the answer.value[0] has no 'Ref_Key'"),
    (page({"Ref_Key": 7}), "the answer.value[0].Ref_Key is 7, not a GUID"),
    (page({"Ref_Key": GUIDS[0], "DeletionMark": "false"}),
     "the answer.value[0].DeletionMark is \"false\", not true/false"),
    (('{"value": [{"Ref_Key": "%s", "СуммаДокумента": Infinity}]}' % GUIDS[0]).encode(),
     "holds Infinity"),
    (b'{"value": {}}', "the answer.value is {}, not a list"),
    (b"[" * 100_000, "nested deeper than any real answer"),
])
def test_odata_malformed_pages_are_exit_4(odata, body, words):
    svc, client = odata
    svc.raw = [body]
    line = malformed(client)
    assert line.startswith(f"OData {svc.url}: Document_СчетНаОплатуПокупателю $skip=0: "), line
    assert words in line, line


def test_odata_count_must_be_a_number(odata):
    svc, client = odata
    svc.raw = [b"12abc"]
    with pytest.raises(Malformed) as exc:
        client.count("Document_СчетНаОплатуПокупателю")
    assert "$count: the count is '12abc', not a whole number" in exc.value.line()


# -- healthcheck ----------------------------------------------------------------------------
def test_healthcheck_sends_url_credentials_as_utf8():
    from urllib.parse import quote

    from onecsync.healthcheck import Healthcheck
    from tests.local_http import LocalServer
    from tests.local_http import QuietHandler

    seen = []

    class Handler(QuietHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            seen.append((self.path, basic_credentials(self.headers.get("Authorization"))))
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._send(200, b"OK")

    with LocalServer(Handler) as server:
        Healthcheck(f"http://{quote(USER)}:{quote(PASSWORD)}@127.0.0.1:{server.port}/ping/k"
                    ).finish(0)
    assert seen == [("/ping/k/0", (USER, PASSWORD))]


# -- memory ---------------------------------------------------------------------------------
def test_a_flooding_server_keeps_the_run_under_200_mb(sandbox, http):
    """The process itself: its peak RSS while a base answers with an endless JSON body."""
    import subprocess
    import sys

    from tests.emulator.world import REPO

    acc, sa = http
    sa.fail("UploadData", Fault.FLOOD)
    # A fresh parent whose only child is the run: RUSAGE_CHILDREN here would also count every
    # earlier subprocess of this test session.
    probe = ("import resource, subprocess, sys\n"
             "code = subprocess.run(sys.argv[1:]).returncode\n"
             "print('peak', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
             "file=sys.stderr)\n"
             "sys.exit(code)\n")
    start = time.monotonic()
    p = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "onecsync",
                        "--config", str(sandbox.config), "run"],
                       cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == ExitCode.TEMPORARY, p.stderr
    assert "UploadData: the answer goes on past 16777216 bytes" in p.stderr
    assert time.monotonic() - start < 30
    peak_mb = int(p.stderr.rsplit("peak ", 1)[1].split()[0]) / 1024
    assert peak_mb < 200, peak_mb
    print(f"peak RSS {peak_mb:.0f} MB")
