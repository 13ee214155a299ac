"""`onecsync run` end to end over the HTTP service and over FTP, against real servers on
127.0.0.1: it converges as over a shared folder, and a transfer broken in the middle exits 4,
leaves the state as it was, and the next run converges."""

from __future__ import annotations

import os
import zipfile

import pytest

from onecsync import httpclient
from onecsync.transport import operations as http_operations
from tests import factory as f
from tests.conftest import Sandbox
from tests.conftest import ftp_peer
from tests.conftest import http_peer
from tests.conftest import remote_config
from tests.emulator.crashing import Crash
from tests.emulator.remote import lone
from tests.exchange_service import ExchangeService
from tests.exchange_service import Fault
from tests.ftp_server import FtpServer

C1, C2, RUB = f.ref(1), f.ref(2), f.ref(9)
CATALOGS = [f.counterparty(C1, "ООО Ромашка", "7701234567"),
            f.counterparty(C2, "АО Василек", "7702345678"), f.currency(RUB)]

@pytest.fixture(autouse=True)
def quick(monkeypatch):
    """No real waiting between polls and retries (what is asserted is what was called)."""
    monkeypatch.setattr(http_operations, "FIRST_POLL", 0.001)
    monkeypatch.setattr(httpclient, "BACKOFF_BASE", 0.001)
    monkeypatch.setenv("ONECSYNC_TEST_PW", "s3cret")
    monkeypatch.setenv("ONECSYNC_TEST_FTP_PW", "ftp-s3cret")


def pending(sandbox: Sandbox) -> int:
    with sandbox.db() as c:
        return c.execute("SELECT count(*) FROM registrations WHERE confirmed_no IS NULL") \
            .fetchone()[0]


def directory_result(tmp_path, capsys) -> set[tuple[str, str]]:
    """What the same accounting message makes onecsync send to the CRM over a shared folder."""
    sb = Sandbox(tmp_path / "directory", capsys)
    sb.put("accounting", f.Msg(objects=CATALOGS))
    assert sb.run("run")[0] == 0
    return set(sb.outgoing("crm")["objects"])


# -- HTTP -----------------------------------------------------------------------------------
@pytest.fixture
def bases(sandbox):
    acc, crm = lone("accounting", *CATALOGS), lone("crm")
    with ExchangeService(acc, long_polls=1) as sa, \
            ExchangeService(crm, publication="crm", long_polls=2) as sc:
        sandbox.write_config(remote_config({"accounting": http_peer(sa.url),
                                            "crm": http_peer(sc.url)}))
        yield acc.base, crm.base, sa, sc
    assert acc.invalid == crm.invalid == [], "a message crossing fails 1C's schema"


def test_run_over_http_converges_like_the_directory_one(sandbox, bases, tmp_path, capsys):
    acc, crm, sa, sc = bases
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["peers"]["accounting"]["received"]["objects"] == 3
    assert report["peers"]["crm"]["sent"]["objects"] == 3
    assert set(crm.received().items()) == {(r, t) for t, r in directory_result(tmp_path, capsys)}
    assert crm.imported_numbers() == [1] and acc.imported_numbers() == [1]
    assert acc.registrations == {}  # our first message confirmed the base's
    assert sandbox.numbers("crm") == (1, 1, 0) and sandbox.numbers("accounting") == (1, 1, 0)
    assert pending(sandbox) == 3  # the CRM has not said yet that it holds them

    code, report, err = sandbox.run("run")
    assert code == 0, err
    # Every UploadData is a new message: the CRM now confirms ours, nothing is pending.
    assert sandbox.numbers("crm") == (2, 2, 1) and pending(sandbox) == 0
    assert report["peers"]["crm"]["sent"]["objects"] == 0
    assert report["peers"]["accounting"]["received"]["objects"] == 0

    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["peers"]["crm"]["sent"]["objects"] == 0 and pending(sandbox) == 0
    assert len(crm.received()) == 3 and crm.imported_numbers() == [1, 2, 3]


def test_an_answer_cut_in_the_middle_exits_4_and_changes_nothing(sandbox, bases):
    acc, crm, sa, sc = bases
    assert sandbox.run("run")[0] == 0
    before = sandbox.dump()
    acc.enter(f.counterparty(f.ref(3), "ИП Сидоров"))
    sa.fail("GetFilePart", *[Fault.CUT] * httpclient.ATTEMPTS)
    code, report, err = sandbox.run("run")
    assert code == 4
    assert "the answer was cut" in report["peers"]["accounting"]["received"]["error"]
    after = sandbox.dump()
    assert after["peers"][0] == before["peers"][0]  # accounting: numbers untouched
    assert after["inbox"] == before["inbox"]
    assert f.ref(3) not in crm.received()

    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["peers"]["accounting"]["received"]["objects"] == 1
    assert f.ref(3) in crm.received()


def test_a_failed_delivery_is_sent_again_by_the_next_run(sandbox, bases):
    acc, crm, sa, sc = bases
    crm.faults.refuse_next_import = True
    code, report, err = sandbox.run("run")
    assert code == 4
    assert "import refused" in report["peers"]["crm"]["sent"]["error"]
    assert crm.received() == {}
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["peers"]["crm"]["sent"]["objects"] == 3
    assert set(crm.received()) == {C1, C2, RUB}
    assert crm.imported_numbers() == [2]  # message 1 never got in; 2 carries everything


def test_the_password_never_reaches_the_output(sandbox, bases, monkeypatch):
    acc, crm, sa, sc = bases
    sa.fail("UploadData", Fault.ERROR_401)
    sandbox.capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        from onecsync.cli import main
        main(["--config", str(sandbox.config), "-vv", "run"])
    out = sandbox.capsys.readouterr()
    assert exc.value.code == 3
    assert "check user and rights" in out.err
    assert "s3cret" not in out.out + out.err


def test_dry_run_over_http_writes_nothing_next_to_the_state(sandbox, bases):
    acc, crm, sa, sc = bases
    code, report, err = sandbox.run("--dry-run", "run")
    assert code == 0, err
    assert report["peers"]["crm"]["sent"]["objects"] == 3
    assert crm.imported_numbers() == [] and not sandbox.state_path.exists()
    assert not (sandbox.root / "state").exists() or not any((sandbox.root / "state").iterdir())


# -- FTP ------------------------------------------------------------------------------------
@pytest.fixture
def ftp(sandbox):
    with FtpServer(sandbox.root / "exchange") as server:
        def configure(extra: str = "") -> None:
            sandbox.write_config(remote_config({
                name: ftp_peer(name, server.port, extra=extra) for name in ("accounting", "crm")}))
        configure()
        server.configure = configure
        yield server


def test_run_over_ftp_converges_like_the_directory_one(sandbox, ftp, tmp_path, capsys):
    sandbox.put("accounting", f.Msg(objects=CATALOGS))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    crm = sandbox.outgoing("crm")
    assert set(crm["objects"]) == directory_result(tmp_path, capsys)
    assert crm["message_no"] == 1 and sandbox.outgoing("accounting")["received_no"] == 1
    assert not [p for p in sandbox.root.rglob(".onecsync-tmp-*")]
    retrs = ftp.commands.count("RETR")
    # Nothing new: the base's file is recognised from the listing, not downloaded again.
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["peers"]["accounting"]["received"]["unchanged"] is True
    assert report["peers"]["crm"]["sent"]["message_no"] is None
    assert ftp.commands.count("RETR") == retrs
    # The CRM confirms: nothing is pending any more.
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=1))
    assert sandbox.run("run")[0] == 0
    assert pending(sandbox) == 0


@pytest.mark.parametrize("kind", ["drop-read", "short-read"])
def test_a_download_broken_in_the_middle_exits_4_and_the_next_run_converges(sandbox, ftp, kind):
    sandbox.put("accounting", f.Msg(objects=CATALOGS))
    ftp.fail(kind, f"Message_{f.ACCOUNTING}")
    code, report, err = sandbox.run("run")
    assert code == 4, err
    assert sandbox.numbers("accounting") == (0, 0, 0)
    assert sandbox.dump()["inbox"] == []
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["peers"]["accounting"]["received"]["objects"] == 3
    assert len(sandbox.outgoing("crm")["objects"]) == 3


def test_an_upload_broken_in_the_middle_exits_4_and_the_next_run_converges(sandbox, ftp):
    sandbox.put("accounting", f.Msg(objects=CATALOGS))
    ftp.fail("drop-write", f"Message_{f.NODE}_{f.CRM}")
    code, report, err = sandbox.run("run")
    assert code == 4, err
    assert "closed the connection" in report["peers"]["crm"]["sent"]["error"]
    assert sandbox.outgoing_path("crm") is None  # the base never sees half a message
    code, report, err = sandbox.run("run")
    assert code == 0, err
    crm = sandbox.outgoing("crm")
    assert len(crm["objects"]) == 3 and crm["message_no"] == 2
    assert not [p for p in sandbox.root.rglob(".onecsync-tmp-*")]


def test_ftp_with_compression_and_an_archive_password(sandbox, ftp, monkeypatch):
    monkeypatch.setenv("ONECSYNC_TEST_ZIP_PW", "zip-pass")
    ftp.configure(", compress: true, archive_password_env: ONECSYNC_TEST_ZIP_PW")
    sandbox.put("accounting", f.Msg(objects=CATALOGS))
    assert sandbox.run("run")[0] == 0
    path = sandbox.outgoing_path("crm")
    assert path.suffix == ".zip"
    with zipfile.ZipFile(path) as zf:
        info = zf.infolist()[0]
        assert info.flag_bits & 0x1 and info.compress_type == 99  # WinZip AES
        with pytest.raises(RuntimeError):
            zf.read(info)
    import pyzipper
    with pyzipper.AESZipFile(path) as zf:
        zf.setpassword(b"zip-pass")
        plain = path.with_suffix(".xml")
        plain.write_bytes(zf.read(zf.infolist()[0]))
    try:
        assert len(sandbox.outgoing("crm")["objects"]) == 3  # reads the .xml: checked by schema
    finally:
        os.unlink(plain)


@pytest.mark.parametrize("change, code, words", [
    ({"ONECSYNC_TEST_FTP_PW": "wrong"}, 3, "login refused"),
    ({"folder": "/nowhere"}, 3, "/nowhere"),
    ({"port": "closed"}, 4, "ftp://127.0.0.1"),
])
def test_ftp_failures_are_classified(sandbox, ftp, monkeypatch, change, code, words):
    sandbox.put("accounting", f.Msg(objects=CATALOGS))
    if "ONECSYNC_TEST_FTP_PW" in change:
        monkeypatch.setenv("ONECSYNC_TEST_FTP_PW", change["ONECSYNC_TEST_FTP_PW"])
    text = sandbox.config.read_text(encoding="utf-8")
    if "folder" in change:
        text = text.replace("folder: /accounting", f"folder: {change['folder']}")
    if change.get("port") == "closed":
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            text = text.replace(f"port: {ftp.port}", f"port: {s.getsockname()[1]}")
    sandbox.write_config(text)
    got, report, err = sandbox.run("run")
    assert got == code, err
    assert words in err
    assert "ftp-s3cret" not in err


def test_a_crash_after_the_import_before_the_receipt_converges(sandbox, bases, monkeypatch):
    """The base imported our message but we died before noting it: the next run sends the
    same objects again under a newer number, which the base applies idempotently."""
    from onecsync.transport.spool import Spool

    acc, crm, sa, sc = bases

    def crash(self, data):
        raise Crash()
    with monkeypatch.context() as m, pytest.raises(Crash):
        m.setattr(Spool, "write_receipt", crash)
        from onecsync.cli import main
        main(["--config", str(sandbox.config), "--json", "run"])
    assert crm.imported_numbers() == [1] and set(crm.received()) == {C1, C2, RUB}
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert set(crm.received()) == {C1, C2, RUB} and crm.imported_numbers() == [1, 2]
    assert sandbox.run("run")[0] == 0
    assert pending(sandbox) == 0


def test_ftp_tls_protects_the_login_and_the_data(tmp_path, monkeypatch):
    """Explicit TLS: a verifying context, AUTH TLS before the login, then PROT P."""
    import contextlib
    import io
    import ssl

    from onecsync.config import FtpConfig
    from onecsync.config import Secret
    from onecsync.transport import ftp as ftp_transport
    from onecsync.transport.ftp import FtpTransport
    from onecsync.transport.spool import Spool

    seen: list = []

    class FakeTLS:
        def __init__(self, context=None, timeout=None):
            seen.append(("context", context.verify_mode, context.check_hostname, timeout))

        def connect(self, host, port):
            seen.append(("connect", host, port))

        def login(self, user, password):
            seen.append(("login", user, password == "ftp-s3cret"))

        def prot_p(self):
            seen.append(("prot_p",))

        def set_pasv(self, on):
            seen.append(("pasv", on))

        def cwd(self, folder):
            seen.append(("cwd", folder))

        def sendcmd(self, cmd):
            seen.append(("sendcmd", cmd))
            return "200 OK"

        def transfercmd(self, cmd):
            seen.append(("transfercmd", cmd))
            return contextlib.closing(FakeConn())

        def voidresp(self):
            return "226 done"

        maxline = 8192
        encoding = "utf-8"

        def quit(self):
            seen.append(("quit",))

    class FakeConn:
        def makefile(self, *a, **kw):
            return io.StringIO("")

        def close(self):
            pass

    # The transport's own FTP_TLS (which also hands its data connections to the deadline).
    monkeypatch.setattr(ftp_transport, "FTPS", FakeTLS)
    t = FtpConfig(host="ftp.example", port=21, user="sync",
                  password=Secret(env="ONECSYNC_TEST_FTP_PW"), folder="/bp", tls=True,
                  timeout=7)
    FtpTransport(t, f.NODE, (f.ACCOUNTING,), Spool(tmp_path)).probe(write=False)
    assert seen == [("context", ssl.CERT_REQUIRED, True, 7), ("connect", "ftp.example", 21),
                    ("login", "sync", True), ("prot_p",), ("pasv", True), ("cwd", "/bp"),
                    ("sendcmd", "OPTS MLST type;size;modify;"), ("sendcmd", "TYPE A"),
                    ("transfercmd", "MLSD"), ("quit",)]


@pytest.mark.parametrize("secret", ["pw\r\nDELE x", "pw\nx", "file: pw\0x", "file: pw\nrest\n"])
@pytest.mark.parametrize("command", ["run", "check"])
def test_an_ftp_password_with_a_line_break_is_exit_3_before_any_command(
        sandbox, ftp, monkeypatch, secret, command):
    """ftplib refuses CR/LF inside a command (an internal error, exit 1, before), and a CR LF
    would end PASS early and send the rest as a command of its own (review 5)."""
    sandbox.put("accounting", f.Msg(objects=CATALOGS))
    if secret.startswith("file: "):
        pw = sandbox.root / "ftp.pw"
        pw.write_text(secret[len("file: "):], encoding="utf-8")
        pw.chmod(0o600)
        sandbox.write_config(remote_config({
            "accounting": ftp_peer("accounting", ftp.port).replace(
                "password_env: ONECSYNC_TEST_FTP_PW", f"password_file: {pw}"),
            "crm": ftp_peer("crm", ftp.port)}))
        where = f"secret file {pw}"
    else:
        monkeypatch.setenv("ONECSYNC_TEST_FTP_PW", secret)
        where = "environment variable ONECSYNC_TEST_FTP_PW"
    code, out, err = sandbox.human(command)
    assert code == 3, err
    assert f"{where} holds a line break or a NUL character" in err, err
    assert "internal error" not in err and "Traceback" not in err
    if not secret.startswith("file: "):  # both bases read it: neither logged in with it
        assert "PASS" not in ftp.commands and "DELE" not in ftp.commands
    if sandbox.state_path.exists():  # nothing taken, nothing counted as sent
        assert sandbox.dump()["inbox"] == [] and sandbox.numbers("accounting") == (0, 0, 0)


@pytest.mark.parametrize("facts", [["type", "modify"], ["type"], []])
def test_an_mlsd_without_a_size_or_modify_fact_is_asked_not_taken_as_empty(sandbox, ftp, facts):
    """A missing size fact was read as 0: the base's message 'empty: ignored' and every upload
    'cut: the server holds 0 of N bytes', exit 4 for ever (review 5)."""
    ftp.mlsd_facts = facts
    sandbox.put("accounting", f.Msg(objects=CATALOGS))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["peers"]["accounting"]["received"]["objects"] == 3
    assert len(sandbox.outgoing("crm")["objects"]) == 3 and "empty" not in err
    assert "SIZE" in ftp.commands
    code, report, err = sandbox.run("run")  # the fingerprint holds: nothing downloaded again
    assert code == 0, err
    assert report["peers"]["accounting"]["received"]["unchanged"] is True
