"""Every URL, host, folder and file the config names is judged once at load, as the run will use
it (onecsync/addresses.py): a malformed one is exit 3 in one line naming the key, never exit 1
(an IPv6 URL without `]`, a 70-character host label) nor exit 4 "the next run retries" for ever
(port 99999, a CA file that holds no certificate). Review 2, finding 11."""

from __future__ import annotations

import os

import pytest

from tests.test_hostile_config import _default_text
from tests.test_hostile_config import _refused_config

LONG = "a" * 64  # one over DNS's 63
HTTP = "{kind: http, url: '%s', user: u, password_env: PW}"
FTP = "{kind: ftp, host: '%s', password_env: PW}"


def _crm(transport: str) -> str:
    return _default_text().replace("{kind: directory, path: exchange/crm}", transport)


@pytest.mark.parametrize("url, says", [
    ("http://[::1", "Invalid IPv6 URL"),
    ("http://127.0.0.1:99999/bp", "Port out of range"),
    ("http://127.0.0.1:abc/bp", "Port could not be cast to integer value as 'abc'"),
    ("http://h.example:0/bp", "port 0 is no TCP port"),
    (f"http://{LONG}.example/bp", "a label is empty or over 63 characters"),
    ("http://a..example/bp", "a label is empty or over 63 characters"),
    ("http://a%20b.example/bp", "is not a host name"),
])
def test_a_malformed_url_is_exit_3_naming_the_key(sandbox, monkeypatch, url, says):
    monkeypatch.setenv("PW", "x")
    _refused_config(sandbox, _crm(HTTP % url), "bases.crm.transport.url: ", says)


def test_an_odata_or_healthcheck_url_is_judged_the_same_way(sandbox, monkeypatch):
    monkeypatch.setenv("PW", "x")
    text = _crm("{kind: directory, path: exchange/crm}\n"
                "    odata: {url: 'http://[::1/odata', user: u, password_env: PW}")
    _refused_config(sandbox, text, "bases.crm.odata.url: ", "Invalid IPv6 URL")
    _refused_config(sandbox, _default_text() + "healthcheck_url: 'https://hc.example:99999/k'\n",
                    "healthcheck_url: ", "Port out of range")


@pytest.mark.parametrize("host, says", [
    ("[::1", "is not a host name or an IP address"),
    ("ftp.example.ru:21", "give the port in `port`"),
    (f"{LONG}.example.ru", "a label is empty or over 63 characters"),
    ("ftp..example.ru", "a label is empty or over 63 characters"),
    ("ftp example.ru", "is not a host name"),
])
def test_a_malformed_ftp_host_is_exit_3_naming_the_key(sandbox, monkeypatch, host, says):
    monkeypatch.setenv("PW", "x")
    _refused_config(sandbox, _crm(FTP % host), "bases.crm.transport.host: ", says)


@pytest.mark.parametrize("host, kept", [("[::1]", "::1"), ("::1", "::1"),
                                        ("бух.пример.рф", "бух.пример.рф"),
                                        ("ftp-1.example.ru.", "ftp-1.example.ru.")])
def test_hosts_the_socket_takes_are_accepted(tmp_path, host, kept):
    from onecsync.config import parse_config
    from onecsync.config import yamlsafe

    cfg = parse_config(yamlsafe.load(_crm(FTP % host), "c.yaml"), tmp_path, tmp_path / "c.yaml")
    assert cfg.bases["crm"].transport.host == kept


def _ca(sandbox, kind: str) -> str:
    path = sandbox.root / "ca.pem"
    if kind == "missing":
        return str(path)
    if kind == "not a certificate":
        path.write_text("hello\n")
    elif kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    return str(path)


@pytest.mark.parametrize("kind, says", [
    ("missing", "does not exist"), ("not a certificate", "holds no PEM certificate"),
    ("directory", "a directory, not a regular file"),
    ("fifo", "a FIFO (named pipe), not a regular file")])
@pytest.mark.parametrize("transport", [
    "{kind: http, url: 'https://127.0.0.1:1/bp', user: u, password_env: PW, ca_file: '%s'}",
    "{kind: ftp, host: 127.0.0.1, tls: true, ca_file: '%s'}"])
def test_a_ca_file_that_is_no_certificate_file_is_exit_3(sandbox, monkeypatch, transport, kind,
                                                        says):
    monkeypatch.setenv("PW", "x")
    _refused_config(sandbox, _crm(transport % _ca(sandbox, kind)),
                    "bases.crm.transport.ca_file: ", says)


def test_a_real_ca_bundle_is_accepted(tmp_path):
    import ssl

    from onecsync.config import parse_config
    from onecsync.config import yamlsafe

    bundle = ssl.get_default_verify_paths().openssl_cafile
    if not os.path.isfile(bundle):
        pytest.skip("no system CA bundle")
    text = _crm("{kind: ftp, host: 127.0.0.1, tls: true, ca_file: '%s'}" % bundle)
    cfg = parse_config(yamlsafe.load(text, "c.yaml"), tmp_path, tmp_path / "c.yaml")
    assert str(cfg.bases["crm"].transport.ca_file) == bundle


@pytest.mark.parametrize("transport, key", [
    ('{kind: http, url: "http://127.0.0.1:1/bp\\r\\nX-Injected: y", user: u, password_env: PW}',
     "url"),
    ('{kind: ftp, host: 127.0.0.1, folder: "/x\\r\\nDELE y"}', "folder"),
    ('{kind: ftp, host: 127.0.0.1, user: "a\\nb"}', "user"),
    ('{kind: directory, path: "exchange/crm\\nX"}', "path"),
])
def test_a_value_with_a_line_break_is_one_escaped_line(sandbox, monkeypatch, transport, key):
    monkeypatch.setenv("PW", "x")
    line = _refused_config(sandbox, _crm(transport), f"bases.crm.transport.{key}: ",
                           "holds a line break or control character: it must be one line")
    assert "\\n" in line
    code, _, err = sandbox.run("run")
    assert code == 3 and len(err.strip().splitlines()) == 1, err


def test_every_error_line_is_one_line():
    """The belt under the config's check: whatever a message quotes (a file name, a server's
    words), its line breaks are escaped."""
    from onecsync.errors import TemporaryError

    line = TemporaryError("ftp://h/x\r\nDELE y: cannot list\x1b[31m").line()
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "x\\r\\nDELE y" in line and "nothing to do: the next run retries" in line
    assert TemporaryError("обмен: ok").line() == "обмен: ok (nothing to do: the next run retries)"


@pytest.mark.parametrize("state, says", [
    ("/dev/null", "the state path /dev/null is not a file"),
    ("exchange", "is not a file"),
])
def test_a_state_path_that_is_no_file_is_exit_3_every_run(sandbox, state, says):
    text = _default_text().replace("state: state/onecsync.sqlite", f"state: {state}")
    for _ in range(2):
        _refused_config(sandbox, text, says, "point `state:` in the config at onecsync's state")


def test_an_http_user_with_a_colon_is_exit_3_naming_the_key(sandbox, monkeypatch):
    """RFC 7617: the server splits Basic credentials at the first ':', so user 'a:b' would log
    in as 'a' with password 'b:<password>' (review 4, finding 5)."""
    monkeypatch.setenv("PW", "x")
    colon = "cannot carry (RFC 7617)"
    _refused_config(sandbox, _crm("{kind: http, url: 'http://h.example/bp', user: 'a:b', "
                                  "password_env: PW}"), "bases.crm.transport.user: ", colon)
    _refused_config(sandbox, _crm("{kind: directory, path: exchange/crm}\n"
                                  "    odata: {url: 'http://h.example/odata', user: 'a:b', "
                                  "password_env: PW}"), "bases.crm.odata.user: ", colon)
    _refused_config(sandbox, _default_text() + "healthcheck_url: 'https://a%3Ab:pw@hc.example/k'\n",
                    "healthcheck_url: ", colon)
