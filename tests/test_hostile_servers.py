"""Slow, lying and hostile servers on 127.0.0.1 against `onecsync run`: 1C's HTTP service, an
FTP server and an OData publication that trickle, flood, loop or send malformed answers, and
raw servers (tests/raw_server.py) sending what no server library would: redirects elsewhere,
compression bombs, endless chunks, 1xx or header floods, another protocol, a trickled TLS
handshake, endless FTP replies, a PASV naming another host. Each ends in exit 4 (never 1,
never a hang) with one line naming the server, the request and what was wrong, within 30 s,
with the state unchanged and nothing left in the spool; a run as a whole ends at run_timeout;
and 1C users with Cyrillic names and passwords work on every transport, https included."""

from __future__ import annotations

import functools
import json
import os
import re
import time
import zlib

import pytest

from onecsync import httpclient
from onecsync.answers import Malformed
from onecsync.config import OData
from onecsync.config import Secret
from onecsync.errors import ExitCode
from onecsync.odata import ODataClient
from onecsync.transport import SPOOL_FOLDER
from onecsync.transport import operations as http_operations
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
from tests.raw_server import RawServer
from tests.raw_server import forever

USER, PASSWORD = "Администратор", "Пароль-ёж 1"
FTP_USER, FTP_PASSWORD = "обмен", "фтп-пароль"
CATALOGS = [f.counterparty(f.ref(1), "ООО Ромашка", "7701234567"), f.currency(f.ref(9))]



@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setattr(http_operations, "FIRST_POLL", 0.001)
    monkeypatch.setattr(httpclient, "BACKOFF_BASE", 0.001)
    monkeypatch.setenv("ONECSYNC_TEST_PW", PASSWORD)
    monkeypatch.setenv("ONECSYNC_TEST_FTP_PW", FTP_PASSWORD)


def spooled(sandbox: Sandbox) -> list[tuple[str, int, int]]:
    """The files of accounting's spool (its last good download is kept there), but for the
    note of the base's export still running (transport/operations.py: the next run waits for
    it), which a slow base leaves and the test says so."""
    root = sandbox.state_path.parent / SPOOL_FOLDER / "accounting"
    return sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in root.rglob("*") if p.is_file() and p.name != http_operations.NOTES[http_operations.EXPORT])


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
    # The export is done and gave nothing: never "no message yet", silent every run (R7 H3).
    ("PrepareGetFile", b'{"SessionID": "s", "PartCount": 0}',
     "PartCount 0: the base's message, exported as finished, is empty"),
    ("UploadData", b"\xff\xfe{}", "not UTF-8"),
    # A key twice: Python keeps the last, another reader the first; the server may lie either way.
    ("PrepareGetFile", b'{"SessionID": "s", "PartCount": 1, "PartCount": 0}',
     "names the key 'PartCount' twice in one object"),
    ("UploadData", b'{"FileID": "f", "x": {"a": 1, "a": 1}}', "names the key 'a' twice"),
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


@pytest.mark.parametrize("status", [400, 500])
def test_an_error_answer_nested_deep_is_one_line_never_a_recursion_error(sandbox, http, status):
    """The body of a refusal is read for 1C's {"Message"} too: as hostile as any answer."""
    acc, sa = http
    sa.answer("UploadData", DEEP, status=status)
    code, report, err = sandbox.run("run")
    assert code in (3, 4, 5) and "Traceback" not in err and "Recursion" not in err, err
    [error] = report["errors"]  # the server and the request named
    assert error["message"].startswith(f"{sa.url}: UploadData: ") and len(error["message"]) < 500, \
        error


# Parses an answer nested DEPTH deep from a deep caller or in a thread with a small stack;
# prints the one line it gives. Its own process: Python's decoder may crash it outright.
DEEP_PARSE = """
import sys, threading
from onecsync import answers
depth, room = int(sys.argv[1]), sys.argv[2]
body = b'{"value": ' + b"[" * depth + b'"]"' + b"]" * depth + b"}"
def parse():
    try:
        answers.parse_json(body, "the server: Op", answers.Obj())
    except answers.Malformed as exc:
        print(exc.line())
    except RecursionError as exc:
        print("RecursionError", exc)
if room == "deep-caller":
    sys.setrecursionlimit(120)  # as if called from deep inside a library
    parse()
else:
    threading.stack_size(64 << 10)
    t = threading.Thread(target=parse)
    t.start()
    t.join()
"""


@pytest.mark.parametrize("depth", [33, 900, 100_000])
@pytest.mark.parametrize("room", ["deep-caller", "small-thread-stack"])
def test_deep_nesting_is_malformed_whatever_the_caller(depth, room):
    """How deep Python's decoder may recurse depends on its caller's depth and on the thread's
    stack (a RecursionError by chance, or a crash): answers.too_deep judges the bytes first,
    so the outcome is always the same line."""
    import subprocess
    import sys

    from tests.emulator.world import REPO

    p = subprocess.run([sys.executable, "-c", DEEP_PARSE, str(depth), room], cwd=REPO,
                       env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, (p.returncode, p.stderr)
    assert p.stdout.startswith("the server: Op: the answer is nested deeper than any real "
                               "answer (over 32 levels)"), p.stdout


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
    monkeypatch.setattr(http_operations, "FIRST_POLL", 0.3)
    text = sandbox.config.read_text(encoding="utf-8")
    sandbox.write_config(text.replace("read_timeout: 2}", "read_timeout: 2, wait_timeout: 2}",
                                      1))
    before = held(sandbox)
    line = failed_run(sandbox, before)
    assert "still busy with the export of its message" in line
    assert len(sa.calls("GetContinuousOperationStatus")) < 10
    note = json.loads((sandbox.state_path.parent / SPOOL_FOLDER / "accounting" /
                       http_operations.NOTES[http_operations.EXPORT]).read_text(encoding="utf-8"))
    assert note["operation_id"] == sa.calls("GetContinuousOperationStatus")[0][2]["OperationID"]


def test_a_run_past_run_timeout_ends_there_and_status_shows_it_meanwhile(sandbox, http):
    """Every answer in time (1.5 s of read_timeout 2), the run as a whole not: the process
    ends at run_timeout with exit 4 and one line; while it is stuck, `status` names the lock's
    holder and since when."""
    import subprocess
    import sys

    from tests.emulator.world import REPO

    acc, sa = http
    acc.enter(f.counterparty(f.ref(3), "ООО Долгий ответ"))
    sandbox.write_config(sandbox.config.read_text(encoding="utf-8").replace(
        "state: state/onecsync.sqlite\n", "state: state/onecsync.sqlite\nrun_timeout: 4\n"))
    before = held(sandbox)
    sa.pause = 1.5
    start = time.monotonic()
    p = subprocess.Popen([sys.executable, "-m", "onecsync", "--config", str(sandbox.config),
                          "--json", "run"], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while True:
            code, report, err = sandbox.run("status")
            assert code == 0, err
            if report["lock"] is not None or time.monotonic() - start > 20:
                break
            time.sleep(0.1)
        assert report["lock"]["pid"] == p.pid and report["lock"]["command"] == "run"
        assert report["in_progress"]["since"] == report["lock"]["started"]
        code, out, _ = sandbox.human("status")
        assert f"lock: held by pid {p.pid} (run), started {report['lock']['started']}" in \
            " ".join(out.split())
        out, err = p.communicate(timeout=30)
    finally:
        p.kill()
        p.wait()
    assert time.monotonic() - start < 30
    assert p.returncode == ExitCode.TEMPORARY, err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith(
        "onecsync: error: timed out: the run went past run_timeout (4 s): what it had not "
        "committed is undone"), err
    document = json.loads(out)  # a script reading --json learns it too
    assert document["exit_code"] == ExitCode.TEMPORARY, out
    assert document["error"] == lines[0].removeprefix("onecsync: error: "), out
    assert held(sandbox) == before
    assert sandbox.journal()[0] == (4, "timed out: the run went past run_timeout (4 s)")


# -- what no HTTP library would send ----------------------------------------------------------
@functools.cache
def _bomb(wbits: int) -> bytes:
    """64 MiB of JSON whitespace, gzip (wbits 31) or deflate (15): 64 KB on the wire, four
    times the JSON cap once unpacked. Made before the server answers (`prepare`): deflating
    64 MiB in the server's thread took longer than the client's 2 s read_timeout under load."""
    z = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = b" " * (1 << 20)
    return b"".join([z.compress(b"{"), *(z.compress(block) for _ in range(64)),
                     z.compress(b"}"), z.flush()])


_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


def _send(data: bytes):
    return lambda conn: conn.sendall(data)


def _encoded(name: str, wbits: int):
    def script(conn):
        body = _bomb(wbits)
        conn.sendall(_OK + b"Content-Encoding: %s\r\nContent-Length: %d\r\n\r\n"
                     % (name.encode(), len(body)) + body)
    script.prepare = lambda: _bomb(wbits)
    return script


def _tls_trickle(conn) -> None:
    """A TLS record header, then the rest of a ServerHello a byte a second: each read in time."""
    for byte in b"\x16\x03\x03\x00\x40" + b"\x02" * 64:
        conn.sendall(bytes([byte]))
        time.sleep(1)


HOSTILE = {
    "redirect to another host": (_send(b"HTTP/1.1 302 Found\r\nLocation: http://evil.example/x"
                                       b"\r\nContent-Length: 0\r\n\r\n"),
                                 "HTTP 302: redirected to http://evil.example/x"),
    "redirect to another scheme": (_send(b"HTTP/1.1 301 Moved\r\nLocation: ftp://127.0.0.1/x\r\n"
                                         b"Content-Length: 0\r\n\r\n"),
                                   "HTTP 301: redirected to ftp://127.0.0.1/x"),
    "redirect to itself": (_send(b"HTTP/1.1 307 Again\r\nLocation: /base/hs/exchange_dsl_1_0_0_1/"
                                 b"v1/GetIBParameters\r\nContent-Length: 0\r\n\r\n"),
                           "HTTP 307: redirected to /base/"),
    "gzip bomb": (_encoded("gzip", 31), "the answer goes on past 16777216 bytes"),
    "deflate bomb": (_encoded("deflate", 15), "the answer goes on past 16777216 bytes"),
    "chunked for ever": (lambda c: forever(c, _OK + b"Transfer-Encoding: chunked\r\n\r\n",
                                           b"4000\r\n" + b" " * 0x4000 + b"\r\n"),
                         "the answer goes on past 16777216 bytes"),
    "100 Continue for ever": (lambda c: forever(c, b"", b"HTTP/1.1 100 Continue\r\n\r\n"),
                              "no answer within 2 s"),
    "103 as the answer": (_send(b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"),
                          "HTTP 103: an interim answer and no final one"),
    "headers for ever": (lambda c: forever(c, _OK, b"X-A: b\r\n"),
                         "the answer is not HTTP: got more than 100 headers"),
    "a header line for ever": (lambda c: forever(c, _OK + b"X-A: ", b"a" * 4096),
                               "not HTTP: got more than 65536 bytes when reading header line"),
    "a status line for ever": (lambda c: forever(c, b"HTTP/1.1 200 ", b"a" * 4096),
                               "not HTTP: got more than 65536 bytes when reading status line"),
    "another protocol": (_send(b"SSH-2.0-OpenSSH_9.6\r\n"),
                         "its status line is 'SSH-2.0-OpenSSH_9.6' (is this the web server's port?)"),
    "Content-Length longer than the body": (
        _send(_OK + b"Content-Length: 100\r\nConnection: close\r\n\r\n{}"),
        "the answer was cut"),
    "two Content-Lengths": (_send(_OK + b"Content-Length: 2\r\nContent-Length: 30\r\n\r\n{}"),
                            "Content-Length contained multiple unmatching values"),
    # ssl bounds the whole handshake by the socket's timeout: connect_timeout (10 s here)
    "a TLS handshake trickled": (_tls_trickle, "no answer within 2 s"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_web_server_is_exit_4_in_time(sandbox, http, case):
    """Accounting's URL points at a server that sends what no HTTP library would: the run ends
    in exit 4 with one line saying what was wrong, in time, and no redirect is followed."""
    script, words = HOSTILE[case]
    getattr(script, "prepare", lambda: None)()
    acc, sa = http
    before = held(sandbox)
    text = sandbox.config.read_text(encoding="utf-8")
    with RawServer(script, http=case != "a TLS handshake trickled") as raw:
        url = raw.url.replace("http:", "https:") if "TLS" in case else raw.url
        sandbox.write_config(text.replace(sa.url, url, 1))
        line = failed_run(sandbox, before)
        asked = raw.requests
    assert words in line, line
    assert f"onecsync: error: {url}: " in line, line
    if "redirect" in case:  # the request asked for, once; never the place it points at
        assert len(asked) == 1 and b"evil.example" not in asked[0], asked


@pytest.fixture
def tls(tmp_path):
    """A certificate for 127.0.0.1 of its own (self-signed): (server context, its file)."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, cert


def test_https_with_our_own_ca_reaches_the_service(sandbox, tls):
    """1C's web server behind TLS with a certificate of our own CA (ca_file): the run works."""
    context, cert = tls
    acc, crm = lone("accounting", *CATALOGS), lone("crm")
    with ExchangeService(acc, user=USER, password=PASSWORD) as sa, \
            ExchangeService(crm, user=USER, password=PASSWORD, publication="crm") as sc:
        sa.server.socket = context.wrap_socket(sa.server.socket, server_side=True)
        https = sa.url.replace("http:", "https:")
        sandbox.write_config(remote_config({
            "accounting": http_peer(https, user=USER, read_timeout=2) + f", ca_file: {cert}",
            "crm": http_peer(sc.url, user=USER, read_timeout=2)}))
        sandbox.config.chmod(0o600)  # it names a file (ca_file): no warning about its mode
        code, _, err = sandbox.run("run")
    assert code == 0 and "warning" not in err, err
    assert crm.base.imported_numbers() == [1]  # accounting's catalogs came over TLS


def test_an_untrusted_certificate_is_one_line_saying_what_tls_said(sandbox, tls):
    context, _ = tls
    acc = lone("accounting", *CATALOGS)
    with ExchangeService(acc, user=USER, password=PASSWORD) as sa:
        sa.server.socket = context.wrap_socket(sa.server.socket, server_side=True)
        sandbox.write_config(remote_config({
            "accounting": http_peer(sa.url.replace("http:", "https:"), user=USER, read_timeout=2),
            "crm": "kind: directory, path: exchange/crm"}))
        code, _, err = sandbox.run("run")
    assert code == ExitCode.CONFIG, err
    (line,) = [x for x in err.splitlines() if x.startswith("onecsync: error:")]
    assert "TLS failed: the certificate is not trusted: self-signed certificate (check the " \
        "certificate, or give its CA in ca_file)" in line, line
    assert "Max retries" not in line and "Pool" not in line, line


def test_https_to_a_plain_http_port_is_one_config_line(sandbox, http):
    acc, sa = http
    before = held(sandbox)
    https = sa.url.replace("http:", "https:")
    sandbox.write_config(sandbox.config.read_text(encoding="utf-8").replace(sa.url, https, 1))
    code, _, err = sandbox.run("run")
    assert code == ExitCode.CONFIG, err
    assert "does not answer TLS on this port (check http:// or https:// and the port in the URL)" \
        in err and "Traceback" not in err, err
    assert held(sandbox) == before

HTTP_OPS = ("version", "GetIBParameters", "UploadData", "GetContinuousOperationStatus",
            "PrepareGetFile", "GetFilePart", "ReleaseFile", "PutFilePart", "SaveFileFromParts",
            "DownloadData")


def test_a_gzipped_answer_whose_length_is_its_compressed_size_is_read(sandbox, http):
    """Content-Length counts the bytes on the wire, before Content-Encoding is undone."""
    acc, sa = http
    acc.enter(f.counterparty(f.ref(3), "ИП Гзипов"))
    for op in HTTP_OPS:
        sa.fail(op, *[Fault.GZIP] * 20)
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert sa.calls("GetFilePart")  # a part came gzipped too
    with sandbox.db() as c:
        assert c.execute("SELECT count(*) FROM inbox WHERE ref=?", (f.ref(3),)).fetchone()[0]


def test_we_ask_for_answers_as_they_are(sandbox, http):
    seen = []
    real = httpclient.HttpClient._send

    def spy(self, *a):
        resp = real(self, *a)
        seen.append(resp.request.headers.get("Accept-Encoding"))
        return resp
    import unittest.mock
    with unittest.mock.patch.object(httpclient.HttpClient, "_send", spy):
        code, _, err = sandbox.run("run")
    assert code == 0, err
    assert seen and set(seen) == {"identity"}, seen


def test_a_zip_entry_without_a_plain_name_is_rejected_over_http(sandbox, http, monkeypatch):
    from tests import exchange_service
    from tests.corpus import make

    acc, sa = http
    acc.enter(f.counterparty(f.ref(3), "ИП Безымянный"))
    monkeypatch.setattr(exchange_service, "_zip_one",
                        lambda data, name="", password=None: make.raw_zip([make.entry("", data)]))
    code, _, err = sandbox.run("run")
    assert code == 5, err
    assert "the zip entry '' is not a plain file name" in err and "Traceback" not in err, err


def test_a_flood_of_interim_answers_says_so(sandbox, http):
    acc, sa = http
    before = held(sandbox)
    sa.fail("UploadData", Fault.EARLY_HINTS)
    line = failed_run(sandbox, before)
    assert f"{sa.url}: UploadData: HTTP 102: an interim answer and no final one" in line, line


# -- FTP ------------------------------------------------------------------------------------
def ftp_config(sandbox: Sandbox, port: int, timeout: float = 2) -> None:
    """Both bases on the one FTP server; `timeout`: each session's deadline (onecsync's)."""
    sandbox.write_config(remote_config({
        name: ftp_peer(name, port, user=FTP_USER, timeout=timeout)
        for name in ("accounting", "crm")}))


@pytest.fixture
def ftp(sandbox):
    with FtpServer(sandbox.root / "exchange", user=FTP_USER, password=FTP_PASSWORD) as server:
        ftp_config(sandbox, server.port)
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
    # The one listing serves both folders: each base's name is in it, so neither folder looks
    # like it holds only the other base's message (a wrong code, exit 3: flows/addressing.py).
    ftp.listing = [f"type=file;size=1e3;modify=20261201000000; {n}"
                   for n in (name, f"Message_{f.CRM}_{f.NODE}.xml")]
    line = failed_run(sandbox, before)
    assert f"MLSD {name}: its size is '1e3', not a whole number of bytes" in line


def test_ftp_listing_of_millions_of_lines_is_cut(sandbox, ftp):
    """Cut by its line bound, not by the session's deadline: that is set far off here (a loaded
    machine reads 100,000 lines in more than 2 s), and the lines the server was made to write
    are counted (both folders' listings come from the one generator)."""
    ftp_config(sandbox, ftp.port, timeout=25)
    before = held(sandbox)
    served = [0]

    def lines():
        for i in range(3_000_000):
            served[0] = i + 1
            yield f"type=file;size=1;modify=20261201000000; junk-{i}"

    ftp.listing = lines()
    line = failed_run(sandbox, before)
    assert "MLSD: the listing goes on past 100000 lines" in line
    assert ftp.commands.count("RETR") == 1  # only the first, good run's
    print(f"listing lines the server wrote: {served[0]}")
    # Past each folder's 100,000 only what the sockets' buffers took: never the whole listing.
    assert 200_000 < served[0] < 1_500_000, served[0]


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


def test_every_ftp_data_connection_is_handed_to_the_deadline(monkeypatch):
    # A data connection may trickle on its own: the session's deadline shuts it down too, over
    # TLS as in plain FTP (ftpconn.FTP/FTPS; the trickle test above passes even without it).
    import ftplib

    from onecsync.transport import ftpconn

    class Deadline:
        def __init__(self) -> None:
            self.socks: list = []

        def watch(self, sock) -> None:
            self.socks.append(sock)

    monkeypatch.setattr(ftplib.FTP, "ntransfercmd", lambda self, cmd, rest=None: (f"data of {cmd}", 5))
    for kind in (ftpconn.FTP, ftpconn.FTPS):
        d = Deadline()
        conn = kind()
        ftpconn.watched(conn, d)
        assert conn.ntransfercmd("RETR m.xml") == ("data of RETR m.xml", 5)
        assert d.socks[1:] == ["data of RETR m.xml"], kind  # after the control connection's


def test_ftp_pasv_naming_another_host_is_not_followed(sandbox, ftp):
    """A PASV reply may name any address (FTP bounce, a scan of the LAN): the data connection
    goes to the server we logged in to, whatever it names."""
    ftp.handler.masquerade_address = "192.0.2.1"  # TEST-NET-1: nothing answers there
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert sandbox.numbers("accounting")[1] == 2  # its message 2 came over 127.0.0.1


def _ftp_greeting(conn) -> None:
    conn.sendall(b"220 ready\r\n")
    conn.recv(1024)


FTP_HOSTILE = {
    "a greeting that never ends": (lambda c: forever(c, b"220-welcome\r\n", b"220-more\r\n"),
                                   "not done within 2 s"),
    "a reply line that never ends": (lambda c: forever(c, b"220 ", b"x" * 4096),
                                     "does not answer as FTP does: 'got more than 8192 bytes'"),
    "a login reply that never ends": (
        lambda c: (_ftp_greeting(c), forever(c, b"331-go on\r\n", b"331-and on\r\n")),
        "not done within 2 s"),
    "not FTP at all": (_send(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
                       "does not answer as FTP does: 'HTTP/1.1 400 Bad Request'"),
}


@pytest.mark.parametrize("case", sorted(FTP_HOSTILE))
def test_a_hostile_ftp_server_is_exit_4_in_time(sandbox, ftp, case):
    script, words = FTP_HOSTILE[case]
    before = held(sandbox)
    text = sandbox.config.read_text(encoding="utf-8")
    with RawServer(script, http=False) as raw:
        sandbox.write_config(text.replace(f"port: {ftp.port}", f"port: {raw.port}", 1))
        line = failed_run(sandbox, before)
    assert f"ftp://127.0.0.1:{raw.port}/accounting: " in line and words in line, line


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
    (('{"value": [{"Ref_Key": "%s", "DeletionMark": true, "DeletionMark": false}]}'
      % GUIDS[0]).encode(), "names the key 'DeletionMark' twice in one object"),
    (('{"value": [], "value": [{"Ref_Key": "%s"}]}' % GUIDS[0]).encode(),
     "names the key 'value' twice"),
    (b"[" * 100_000, "nested deeper than any real answer"),
])
def test_odata_malformed_pages_are_exit_4(odata, body, words):
    svc, client = odata
    svc.raw = [body]
    line = malformed(client)
    assert line.startswith(f"OData {svc.url}: Document_СчетНаОплатуПокупателю $skip=0: "), line
    assert words in line, line


def filtered(client, keys=GUIDS[:2], select="Ref_Key,Number") -> list[dict]:
    return list(client.entities("Document_СчетНаОплатуПокупателю", select=select,
                                any_of=("Ref_Key", keys)))


def lied_to(client, read=filtered) -> str:
    start = time.monotonic()
    with pytest.raises(Malformed) as exc:
        read(client)
    assert time.monotonic() - start < 30
    assert exc.value.exit_code == ExitCode.TEMPORARY
    line = exc.value.line()
    assert line.startswith(f"OData {client.url}: Document_СчетНаОплатуПокупателю $skip="), line
    return line


def row(key, **more) -> dict:
    return {"Ref_Key": key, "Number": "1", **more}


def test_odata_rows_that_answer_what_was_asked_are_read(odata):
    svc, client = odata
    svc.raw = [json.dumps({"odata.metadata": f"{svc.url}/$metadata#Document_СчетНаОплатуПокупателю",
                           "value": [row(GUIDS[0]), row(GUIDS[1].upper())]}).encode(),
               page()]
    assert [r["Ref_Key"] for r in filtered(client)] == [GUIDS[0], GUIDS[1].upper()]


@pytest.mark.parametrize("pages, words", [
    ([page(row(GUIDS[0]), row(GUIDS[2]))],
     f"$skip=0: row 1 has Ref_Key '{GUIDS[2]}', none of the keys filtered for"),
    ([page(row(GUIDS[0]), {"Ref_Key": GUIDS[1]})],
     "$skip=0: row 1 has no 'Number', asked for in $select"),
    ([page(row(GUIDS[0]), row(None))], "row 1.Ref_Key is null, not a GUID"),
    ([json.dumps({"odata.metadata": "http://x/$metadata#Catalog_Контрагенты",
                  "value": [row(GUIDS[0])]}).encode()],
     "$skip=0: the answer holds rows of 'Catalog_Контрагенты', not of the set asked for"),
    ([page(row(GUIDS[0]), row(GUIDS[1])), page(row(GUIDS[1]), row(GUIDS[3]))],
     f"$skip=2: row 0 ({GUIDS[1]}) was sent already"),
    # More rows than keys: one key twice within a page.
    ([page(row(GUIDS[0]), row(GUIDS[0]))], f"$skip=0: row 1 ({GUIDS[0]}) was sent already"),
])
def test_odata_rows_that_were_not_asked_for_are_exit_4(odata, pages, words):
    svc, client = odata
    svc.raw = list(pages)
    line = lied_to(client)
    assert words.replace("row 1.Ref_Key", "the answer.value[1].Ref_Key") in line, line


def test_odata_that_sends_new_rows_for_ever_is_cut_by_the_row_cap(odata, monkeypatch):
    """Unfiltered: each page brings new keys; the client's row cap ends the read."""
    from onecsync import odata as odata_module

    svc, client = odata
    monkeypatch.setattr(odata_module, "ROW_LIMIT", 50)
    svc.misbehave.add("endless")
    line = lied_to(client, read_all)
    assert "$skip=50: more than 50 rows in one reconcile: the server sends rows without end" \
        in line, line
    assert len(svc.requests) == 26


def test_odata_pages_are_capped_per_client(odata, monkeypatch):
    from onecsync import odata as odata_module

    svc, client = odata
    monkeypatch.setattr(odata_module, "PAGE_LIMIT", 3)
    svc.raw = [page(row(GUIDS[0]), row(GUIDS[1])), page()]
    filtered(client)  # two pages
    svc.raw = [page(row(GUIDS[2]), row(GUIDS[3])), page()]
    line = lied_to(client, lambda c: filtered(c, GUIDS[2:]))
    assert "$skip=2: more than 3 pages in one reconcile" in line, line


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


# -- a server that lies about the size (review 4, finding 1) ---------------------------------
def test_ftp_listed_size_over_the_cap_is_refused_before_a_byte(sandbox, ftp):
    before = held(sandbox)
    name = f"Message_{f.ACCOUNTING}_{f.NODE}.xml"
    ftp.listing = [f"type=file;size={10 ** 12};modify=20261201000000; {n}"  # (as above)
                   for n in (name, f"Message_{f.CRM}_{f.NODE}.xml")]
    line = failed_run(sandbox, before)
    assert f"{name}: the message is {10 ** 12} bytes or more, over the cap of " \
           f"{4096 << 20} bytes (transport.max_message_mib)" in line, line
    assert ftp.commands.count("RETR") == 1  # only the first, good run's


def test_a_download_stops_when_the_spools_disk_runs_low(sandbox, ftp, monkeypatch):
    """Free space is looked at before and again while the bytes arrive."""
    from onecsync.transport import spool
    calls = []

    def free(folder):  # plenty before the download, nothing once it is under way
        calls.append(folder)
        return 1 << 40 if len(calls) == 1 else 0
    monkeypatch.setattr(spool, "free_bytes", free)
    monkeypatch.setattr(spool, "CHECK_EVERY", 1024)
    before = held(sandbox)
    line = failed_run(sandbox, before)
    assert "more bytes would leave less than 256 MiB free on the disk of" in line, line
    assert len(calls) == 2


def test_a_part_count_over_the_cap_is_refused_before_a_part(sandbox, http):
    acc, sa = http
    sandbox.write_config(sandbox.config.read_text(encoding="utf-8").replace(
        "part_size: 1,", "part_size: 1, max_message_mib: 1,"))
    before, calls = held(sandbox), len(sa.calls("GetFilePart"))
    sa.answer("PrepareGetFile", b'{"SessionID": "s", "PartCount": 1048576}')
    line = failed_run(sandbox, before)
    assert f"{sa.url}: PrepareGetFile: the message is {1048575 << 10} bytes or more, over the " \
           f"cap of {1 << 20} bytes" in line, line
    assert len(sa.calls("GetFilePart")) == calls
