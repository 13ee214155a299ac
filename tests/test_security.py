"""Security: private files, a config others cannot edit, secrets that never show, and XML that
never resolves an entity nor touches the network."""

from __future__ import annotations

import http.server
import os
import stat
import threading

import pytest

from onecsync.config import _private_group
from onecsync.config import load_config
from onecsync.places import QUARANTINE_FOLDER
from onecsync.places import SPOOL_FOLDER
from onecsync.protocol import reader
from tests import factory as f
from tests.conftest import DEFAULT_CONFIG
from tests.corpus import make

FIRST = f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")])
SECRET = "Zq-ARCHIVE-SECRET-7f3e"
SECRET_ENV = "ONECSYNC_TEST_ARCHIVE_PASSWORD"


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- private files ---------------------------------------------------------------------------

def test_state_lock_and_their_folder_are_private_whatever_the_umask(sandbox):
    sandbox.put("accounting", FIRST)
    old = os.umask(0)
    try:
        code, _, err = sandbox.run("pull-catalogs")
    finally:
        os.umask(old)
    assert code == 0, err
    folder = sandbox.state_path.parent
    assert mode(folder) == 0o700
    assert mode(sandbox.state_path) == 0o600
    assert mode(folder / "onecsync.sqlite.lock") == 0o600


def test_a_state_file_opened_up_is_made_private_again(sandbox):
    sandbox.put("accounting", FIRST)
    sandbox.run("pull-catalogs")
    os.chmod(sandbox.state_path, 0o644)
    assert sandbox.run("pull-catalogs")[0] == 0
    assert mode(sandbox.state_path) == 0o600


# -- the config file's mode ------------------------------------------------------------------

def test_a_config_anyone_can_edit_is_refused(sandbox):
    os.chmod(sandbox.config, 0o666)
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 3, err
    (line,) = [ln for ln in err.splitlines() if "error" in ln]
    assert str(sandbox.config) in line and "writable by everyone (mode 0666)" in line
    assert f"chmod go-w {sandbox.config}" in line
    assert report["exit_code"] == 3
    assert not sandbox.state_path.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs to give the file a group of no one's own")
def test_a_config_its_group_can_edit_is_refused(sandbox):
    os.chown(sandbox.config, -1, 54321)  # a group with no name, no private group of anyone
    os.chmod(sandbox.config, 0o664)
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 3 and "writable by its group (mode 0664)" in err, err


def test_a_group_writable_config_of_a_user_private_group_is_fine(sandbox):
    """A fresh clone under umask 002: 0664, group = the owner's own group."""
    os.chmod(sandbox.config, 0o664)
    if not _private_group(os.stat(sandbox.config)):
        pytest.skip("this user's primary group is not a private group")
    sandbox.put("accounting", FIRST)
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err


def with_archive_password(sandbox, how: str, pw_file_mode: int = 0o600) -> None:
    if how == "env":
        extra = f", archive_password_env: {SECRET_ENV}"
    else:
        pw = sandbox.root / "archive.pw"
        pw.write_text(SECRET + "\n")
        os.chmod(pw, pw_file_mode)
        extra = f", archive_password_file: {pw}"
    sandbox.write_config(DEFAULT_CONFIG.format(node=f.NODE, acc=f.ACCOUNTING, crm=f.CRM,
                                               acc_extra=extra, crm_extra=""))


def test_a_readable_config_naming_a_secret_file_is_warned_about(sandbox):
    sandbox.put("accounting", FIRST)
    os.chmod(sandbox.config, 0o644)
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0 and "warning" not in err, err
    with_archive_password(sandbox, "file")
    os.chmod(sandbox.config, 0o644)
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    (line,) = [ln for ln in err.splitlines() if "warning" in ln]
    assert str(sandbox.config) in line and "readable by every user" in line
    assert "archive.pw" in line and SECRET not in line
    os.chmod(sandbox.config, 0o640)
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0 and "warning" not in err, err


# -- secrets ---------------------------------------------------------------------------------

def everything_written(sandbox, *outputs: str) -> str:
    """Every output, plus every file the runs left (state, quarantine, messages, logs)."""
    parts = list(outputs)
    for p in sandbox.root.rglob("*"):
        if p.is_file() and p.name not in ("archive.pw", "secret.txt"):  # the secrets themselves
            parts.append(p.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


@pytest.mark.parametrize("how", ["env", "file"])
def test_an_archive_password_opens_the_base_zip_and_never_shows(sandbox, monkeypatch, how):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    with_archive_password(sandbox, how)
    outputs = []
    sandbox.put_raw("accounting", make.encrypted(SECRET.encode(), FIRST.xml()), ".zip")
    for args in (["-v"], ["-v", "--log-format", "json"]):
        code, report, err = sandbox.run(*args, "pull-catalogs")
        outputs += [err, str(report)]
    assert code == 0, err
    assert sandbox.numbers("accounting")[1] == 1  # the message inside was read
    assert repr(load_config(sandbox.config)).count(SECRET) == 0
    assert SECRET not in everything_written(sandbox, *outputs)


def test_a_wrong_archive_password_is_a_config_error_that_shows_no_password(sandbox,
                                                                            monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    with_archive_password(sandbox, "env")
    path = sandbox.put_raw("accounting", make.encrypted(b"another password", FIRST.xml()), ".zip")
    code, report, err = sandbox.run("-v", "pull-catalogs")
    assert code == 3, err
    (line,) = [ln for ln in err.splitlines() if "onecsync: error: " in ln]
    assert path.name in line and "archive password does not open the zip" in line
    # Not the message's fault: nothing kept, so it is read again once the password is fixed.
    assert not (sandbox.state_path.parent / "quarantine").exists()
    assert SECRET not in everything_written(sandbox, err, str(report))
    monkeypatch.setenv(SECRET_ENV, "another password")
    assert sandbox.run("pull-catalogs")[0] == 0


def test_a_rejected_encrypted_zip_is_kept_encrypted(sandbox, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    with_archive_password(sandbox, "env")
    sandbox.put("accounting", FIRST)
    sandbox.run("pull-catalogs")
    bad = make.encrypted(SECRET.encode(), (make.FILES / "wrong-root.xml").read_bytes())
    sandbox.put_raw("accounting", bad, ".zip")
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 5 and "root element is 'Envelope'" in err, err
    (copy,) = (sandbox.state_path.parent / "quarantine").glob("*.zip")
    assert copy.read_bytes() == bad
    assert SECRET not in everything_written(sandbox, err, str(report))


def test_a_crash_with_a_traceback_shows_no_password(sandbox, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    with_archive_password(sandbox, "env")
    sandbox.put_raw("accounting", make.encrypted(SECRET.encode(), FIRST.xml()), ".zip")

    def boom(*a, **k):
        raise RuntimeError("a bug after the password was used")

    monkeypatch.setattr(reader.MessageReader, "objects", boom)
    code, report, err = sandbox.run("-v", "pull-catalogs")
    assert code == 1 and "Traceback" in err and "a bug after" in err
    assert SECRET not in everything_written(sandbox, err, str(report))


def test_a_password_file_others_can_read_is_warned_about(sandbox, monkeypatch):
    with_archive_password(sandbox, "file", pw_file_mode=0o644)
    sandbox.put_raw("accounting", make.encrypted(SECRET.encode(), FIRST.xml()), ".zip")
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert "archive.pw is readable by every user" in err and SECRET not in err


# -- XML never resolves entities nor touches the network -------------------------------------

class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        type(self).hits.append(self.path)
        body = b'<!ENTITY leak "FETCHED-OVER-HTTP">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def server():
    _Recorder.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Recorder.hits
    httpd.shutdown()
    httpd.server_close()


def hostile(url: str, secret_file) -> dict[str, bytes]:
    m = make.msg()
    return {
        "external entity": make.with_prolog(
            f'<!DOCTYPE Message [<!ENTITY e SYSTEM "{url}/entity">]>\n', m, entity="e"),
        "external DTD": make.with_prolog(f'<!DOCTYPE Message SYSTEM "{url}/dtd">\n', m),
        "parameter entity": make.with_prolog(
            f'<!DOCTYPE Message [<!ENTITY % p SYSTEM "{url}/p"> %p;]>\n', m, entity="leak"),
        "local file entity": make.with_prolog(
            f'<!DOCTYPE Message [<!ENTITY e SYSTEM "file://{secret_file}">]>\n', m, entity="e"),
        "xinclude": make.msg(objects=make.GOOD + [
            f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{url}/xi" '
            'parse="text"/>']),
        "schema location": m.replace(b"<Message ", f'<Message xsi:schemaLocation="urn:x '
                                                   f'{url}/xsd" '.encode()),
    }


@pytest.mark.parametrize("bypass_sniff", [False, True], ids=["as-is", "parser-alone"])
def test_xml_never_fetches_nor_expands_anything(sandbox, server, monkeypatch, bypass_sniff):
    """Also with the prolog check switched off: the parser's own settings are the last wall."""
    url, hits = server
    secret_file = sandbox.root / "secret.txt"
    secret_file.write_text("LOCAL-FILE-SECRET")
    if bypass_sniff:
        monkeypatch.setattr(reader, "sniff", lambda stream, source: stream.read(4096))
    sandbox.put("accounting", FIRST)
    sandbox.run("pull-catalogs")
    for name, data in hostile(url, secret_file).items():
        sandbox.put_raw("accounting", data)
        code, report, err = sandbox.run("pull-catalogs")
        assert code in (0, 5), (name, err)
        assert "Traceback" not in err
        if "entity" in name or "DTD" in name:
            assert code == 5 and "DTD" in err, (name, err)
        text = everything_written(sandbox, err, str(report)).replace(str(secret_file), "")
        assert "LOCAL-FILE-SECRET" not in text and "FETCHED-OVER-HTTP" not in text, name
    assert hits == []


def test_the_zip_reader_never_extracts_to_disk(sandbox, monkeypatch):
    """A hostile entry name never becomes a path: nothing is created outside what we write."""
    sandbox.put("accounting", FIRST)
    sandbox.run("pull-catalogs")
    before = set(sandbox.root.rglob("*"))
    existed = os.path.exists("/tmp/x.xml")
    for name in ("zip-parent-path.zip", "zip-absolute-path.zip", "zip-directory-entry.zip"):
        sandbox.put_raw("accounting", make.FILES / name, ".zip")
        assert sandbox.run("pull-catalogs")[0] == 5
    created = set(sandbox.root.rglob("*")) - before
    ours = {p for p in created if p.parent == sandbox.folders["accounting"]}  # we put these
    # the quarantine, and the notes a run keeps in its spool (transport/candidates.py)
    assert created - ours and all({QUARANTINE_FOLDER, SPOOL_FOLDER} & set(p.parts)
                                  for p in created - ours), created
    assert any("quarantine" in p.parts for p in created - ours), created
    assert os.path.exists("/tmp/x.xml") == existed
    assert not (sandbox.root.parent / "x").exists()


def test_an_archive_password_is_only_ever_named(tmp_path):
    from onecsync.config import ConfigError
    from onecsync.config import parse_config

    def transport(**kw):
        return {"node": {"code": f.NODE}, "bases": {
            "accounting": {"code": f.ACCOUNTING, "transport": {"kind": "directory", "path": "a",
                                                               **kw}},
            "crm": {"code": f.CRM, "transport": {"kind": "directory", "path": "c"}}}}

    with pytest.raises(ConfigError) as exc:
        parse_config(transport(archive_password="hunter2"), tmp_path, tmp_path / "c.yaml")
    assert "archive_password: plaintext passwords are not allowed: use " \
           "archive_password_env or archive_password_file" in str(exc.value)
    assert "hunter2" not in str(exc.value)
    with pytest.raises(ConfigError, match="give only one of archive_password_env, archive_password_file"):
        parse_config(transport(archive_password_env="X", archive_password_file="/x"), tmp_path,
                     tmp_path / "c.yaml")
    cfg = parse_config(transport(archive_password_file="pw"), tmp_path, tmp_path / "c.yaml")
    assert cfg.bases["accounting"].transport.archive_password.file == tmp_path / "pw"


def test_an_encrypted_zip_refused_for_want_of_a_password_is_read_once_one_is_set(sandbox,
                                                                                   monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    sandbox.put_raw("accounting", make.encrypted(SECRET.encode(), FIRST.xml()), ".zip")
    code, _, err = sandbox.run("pull-catalogs")
    # Our config lacks the password, the message is fine: exit 3, and nothing quarantined.
    assert code == 3 and "an archive password and none is configured" in err, err
    assert not (sandbox.state_path.parent / "quarantine").exists()
    with_archive_password(sandbox, "env")
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0 and report["peers"]["accounting"]["received"]["objects"] == 1, err
