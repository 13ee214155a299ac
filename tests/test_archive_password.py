"""Password-protected message zips (1C's "пароль архива"): read ZipCrypto and AES, write AES,
and the zip safety checks still apply to protected zips."""

from __future__ import annotations

import io
import zipfile

import pytest
import pyzipper

from tests import factory as f
from tests.conftest import DEFAULT_CONFIG
from tests.test_quarantine import BAD
from tests.test_quarantine import entries
from tests.zipcrypto import write_zipcrypto

PASSWORD = "Пароль-архива 1"
OBJECTS = [f.counterparty(f.ref(1), "ООО Ромашка"), f.currency(f.ref(9))]


@pytest.fixture
def protected(sandbox, monkeypatch):
    monkeypatch.setenv("ONECSYNC_TEST_ARCHIVE_PW", PASSWORD)
    extra = ", compress: true, archive_password_env: ONECSYNC_TEST_ARCHIVE_PW"
    sandbox.write_config(DEFAULT_CONFIG.format(node=f.NODE, acc=f.ACCOUNTING, crm=f.CRM,
                                               acc_extra=extra, crm_extra=extra))
    return sandbox


def aes_zip(path, name: str, data: bytes, password: str) -> None:
    with pyzipper.AESZipFile(path, "w", compression=pyzipper.ZIP_DEFLATED,
                             encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(password.encode("utf-8"))
        zf.writestr(name, data)


def put_protected(sandbox, writer, data: bytes, password: str = PASSWORD):
    path = sandbox.incoming("accounting", ".zip")
    writer(path, path.with_suffix(".xml").name, data, password)
    return path


@pytest.mark.parametrize("writer", [write_zipcrypto, aes_zip], ids=["zipcrypto", "aes"])
def test_a_protected_message_is_read(protected, writer):
    put_protected(protected, writer, f.Msg(objects=OBJECTS).xml())
    code, report, err = protected.run("pull-catalogs")
    assert code == 0, err
    assert report["peers"]["accounting"]["received"]["objects"] == 2


def test_ours_are_written_with_aes_and_the_password(protected):
    put_protected(protected, write_zipcrypto, f.Msg(objects=OBJECTS).xml())
    assert protected.run("pull-catalogs")[0] == 0
    path = protected.outgoing_path("crm")
    with zipfile.ZipFile(path) as zf:
        info = zf.infolist()[0]
        assert info.filename == f"Message_{f.NODE}_{f.CRM}.xml"
        assert info.flag_bits & 0x1 and info.compress_type == 99  # WinZip AES
    with pyzipper.AESZipFile(path) as zf:
        with pytest.raises(RuntimeError):
            zf.read(info.filename, pwd=b"wrong")
        zf.setpassword(PASSWORD.encode("utf-8"))
        plain = zf.read(info.filename)
    xml = path.with_suffix(".xml")
    xml.write_bytes(plain)
    path.unlink()
    assert protected.outgoing("crm")["objects"] == [("Справочник.Контрагенты", f.ref(1)),
                                                    ("Справочник.Валюты", f.ref(9))]


@pytest.mark.parametrize("writer", [write_zipcrypto, aes_zip], ids=["zipcrypto", "aes"])
def test_a_wrong_password_is_a_config_error_and_changes_nothing(protected, writer):
    put_protected(protected, writer, f.Msg(objects=OBJECTS).xml(), password="другой")
    code, report, err = protected.run("pull-catalogs")
    assert code == 3
    assert "archive password does not open the zip" in err
    assert protected.dump().get("inbox", []) == []


def test_a_protected_zip_without_a_configured_password_is_a_config_error(sandbox):
    put_protected(sandbox, aes_zip, f.Msg(objects=OBJECTS).xml())
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 3
    assert "archive_password_env" in err


def test_a_zip_without_a_password_is_still_read_when_one_is_configured(protected):
    protected.put("accounting", f.Msg(objects=OBJECTS), suffix=".zip")
    assert protected.run("pull-catalogs")[0] == 0


def entries_zip(path, entries: dict[str, bytes], password: str = PASSWORD) -> None:
    buf = io.BytesIO()
    with pyzipper.AESZipFile(buf, "w", compression=pyzipper.ZIP_DEFLATED,
                             encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(password.encode("utf-8"))
        for name, data in entries.items():
            zf.writestr(name, data)
    path.write_bytes(buf.getvalue())


@pytest.mark.parametrize("entries, words", [
    ({"a.xml": b"<a/>", "b.xml": b"<b/>"}, "holds 2 entries"),
    ({"../Message.xml": b"<a/>"}, "is not a plain file name"),
    ({"Message.xml": b" " * 5_000_000}, "refused as a zip bomb"),
])
def test_the_safety_checks_apply_to_protected_zips(protected, entries, words):
    entries_zip(protected.incoming("accounting", ".zip"), entries)
    code, report, err = protected.run("pull-catalogs")
    assert code == 5
    assert words in err
    assert protected.numbers("accounting") == (0, 0, 0)


def test_where_the_archive_password_comes_from_is_part_of_a_quarantined_files_judgement(
        protected, monkeypatch):
    """A protected file refused under one password setting is examined again under another
    (another password may read it otherwise); under the same setting it stays skipped."""
    put_protected(protected, aes_zip, f.Msg(objects=OBJECTS).xml())
    assert protected.run("pull-catalogs")[0] == 0
    put_protected(protected, aes_zip, BAD.read_bytes())
    code, _, err = protected.run("pull-catalogs")
    assert code == 5 and "not one we offer" in err, err
    code, report, err = protected.run("pull-catalogs")
    assert code == 0 and report["peers"]["accounting"]["received"]["rejected_before"], err
    monkeypatch.setenv("ONECSYNC_TEST_ARCHIVE_PW2", PASSWORD)
    protected.config.write_text(protected.config.read_text(encoding="utf-8").replace(
        "ONECSYNC_TEST_ARCHIVE_PW", "ONECSYNC_TEST_ARCHIVE_PW2"), encoding="utf-8")
    code, report, err = protected.run("pull-catalogs")
    assert code == 5 and "not one we offer" in err, err
    assert not report["peers"]["accounting"]["received"].get("rejected_before")
    assert len(entries(protected)) == 1  # the same file: its one entry, judged anew


def passing_wrong_password(path) -> str:
    """A wrong password that passes ZipCrypto's one-byte check (about 1 in 256 do)."""
    with zipfile.ZipFile(path) as zf:
        info = zf.infolist()[0]
        for i in range(100_000):
            try:
                zf.open(info, pwd=f"wrong{i}".encode()).close()
            except RuntimeError:
                continue
            return f"wrong{i}"
    raise AssertionError("no such password")


def test_a_wrong_password_that_passes_the_check_byte_is_a_wrong_password_every_run(
        protected, monkeypatch):
    """ZipCrypto checks a password by one byte: 1 wrong password in 256 passes it and inflates
    garbage (a zlib or CRC error). That is the password's fault, not the message's: exit 3 on
    every run, nothing quarantined or received."""
    path = put_protected(protected, write_zipcrypto, f.Msg(objects=OBJECTS).xml())
    monkeypatch.setenv("ONECSYNC_TEST_ARCHIVE_PW", passing_wrong_password(path))
    for _ in range(2):
        code, report, err = protected.run("pull-catalogs")
        assert code == 3, err
        lines = [x for x in err.splitlines() if x.strip()]
        assert len(lines) == 1 and "the archive password does not open the zip" in lines[0], err
        assert protected.dump().get("inbox", []) == []
        assert entries(protected) == []
    code, _, err = protected.run("validate", str(path))
    assert code == 3 and "the archive password does not open the zip" in err, err


def test_validate_uses_the_configured_archive_password(protected):
    path = put_protected(protected, write_zipcrypto, f.Msg(objects=OBJECTS).xml())
    code, report, err = protected.run("validate", str(path))
    assert code == 0, err


def test_a_base_protecting_its_zips_over_http_is_read_with_the_transports_password(
        sandbox, monkeypatch):
    """The archive password is a setting of the base's node, whatever the transport: over HTTP
    its zips come protected too, and the remedy (set archive_password_env) can be followed."""
    from tests.conftest import http_peer
    from tests.conftest import remote_config
    from tests.emulator.remote import lone
    from tests.exchange_service import ExchangeService

    monkeypatch.setenv("ONECSYNC_TEST_PW", "pw")
    monkeypatch.setenv("ONECSYNC_TEST_ARCHIVE_PW", PASSWORD)
    acc, crm = lone("accounting", *OBJECTS), lone("crm")
    with ExchangeService(acc, user="u", password="pw") as sa, \
            ExchangeService(crm, user="u", password="pw", publication="crm") as sc:
        sa.state.archive_password = PASSWORD
        peers = {n: http_peer(s.url, user="u", read_timeout=2)
                 for n, s in (("accounting", sa), ("crm", sc))}
        sandbox.write_config(remote_config(peers))
        code, _, err = sandbox.run("run")
        assert code == 3 and "set archive_password_env" in err, err
        peers["accounting"] += ", archive_password_env: ONECSYNC_TEST_ARCHIVE_PW"
        sandbox.write_config(remote_config(peers))
        code, report, err = sandbox.run("run")
        assert code == 0, err
        assert report["peers"]["accounting"]["received"]["objects"] == 2
        assert acc.base.imported_numbers()  # ours, protected the same way, opened by the base
