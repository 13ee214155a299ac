"""Config of the remote transports (http, ftp), archive passwords and OData: defaults, every
problem at once with its dotted path, unknown keys, and no plaintext secret anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from onecsync.config import ConfigError
from onecsync.config import Secret
from onecsync.config import parse_config
from tests import factory as f


def config(acc_transport: dict, crm_transport: dict | None = None, **acc_extra) -> dict:
    return {"node": {"code": f.NODE},
            "bases": {"accounting": {"code": f.ACCOUNTING, "transport": acc_transport,
                                     **acc_extra},
                      "crm": {"code": f.CRM, "transport": crm_transport or
                              {"kind": "directory", "path": "x"}}}}


def parse(tmp_path, data):
    return parse_config(data, tmp_path, tmp_path / "c.yaml")


def problems(tmp_path, data) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse(tmp_path, data)
    return sorted(exc.value.problems)


def test_http_defaults(tmp_path):
    cfg = parse(tmp_path, config({"kind": "http", "url": "https://1c.example/bp/",
                                  "user": "sync", "password_env": "BP_PASSWORD"}))
    t = cfg.bases["accounting"].transport
    assert (t.kind, t.url, t.user, t.password) == ("http", "https://1c.example/bp", "sync",
                                                   Secret(env="BP_PASSWORD"))
    assert (t.connect_timeout, t.read_timeout, t.part_size, t.wait_timeout, t.ca_file) == \
        (10.0, 180.0, 1024, 1800.0, None)


def test_ftp_defaults_and_files(tmp_path):
    cfg = parse(tmp_path, config({"kind": "ftp", "host": "ftp.example", "user": "u",
                                  "password_file": "secrets/ftp", "folder": "/exchange/bp",
                                  "archive_password_file": "/run/credentials/zip"}))
    t = cfg.bases["accounting"].transport
    assert (t.host, t.port, t.user, t.folder, t.passive, t.tls, t.compress, t.timeout) == \
        ("ftp.example", 21, "u", "/exchange/bp", True, False, False, 60.0)
    assert t.password == Secret(file=tmp_path / "secrets/ftp")
    assert t.archive_password == Secret(file=Path("/run/credentials/zip"))


def test_each_transport_kind_is_a_type_of_its_own_with_only_its_keys(tmp_path):
    """No FTP field on an HTTP transport: a key a kind does not take is not a field of its
    type (nothing downstream checks for None), and is refused in the config, named."""
    from dataclasses import fields

    from onecsync.config import DirectoryConfig
    from onecsync.config import FtpConfig
    from onecsync.config import HttpConfig

    cfg = parse(tmp_path, config({"kind": "http", "url": "https://1c.example/bp", "user": "sync",
                                  "password_env": "P"}, {"kind": "ftp", "host": "ftp.example"}))
    assert type(cfg.bases["accounting"].transport) is HttpConfig
    assert type(cfg.bases["crm"].transport) is FtpConfig
    http, ftp, directory = ({f.name for f in fields(t)} for t in (HttpConfig, FtpConfig, DirectoryConfig))
    assert not {"host", "folder", "passive", "tls", "path", "compress", "settle_minutes"} & http
    assert not {"url", "path", "part_size", "wait_timeout"} & ftp
    assert directory == {"path", "compress", "archive_password", "settle_minutes", "max_message_mib"}
    assert problems(tmp_path, config({"kind": "http", "url": "https://h/bp", "user": "u",
                                      "password_env": "P", "folder": "/x"})) == \
        ["bases.accounting.transport.folder: unknown key"]


def test_odata_section(tmp_path):
    cfg = parse(tmp_path, config({"kind": "directory", "path": "a"},
                                 odata={"url": "http://h/bp/odata/standard.odata", "user": "r",
                                        "password_env": "ODATA_PW", "timeout": 30}))
    o = cfg.bases["accounting"].odata
    assert (o.url, o.user, o.password, o.timeout) == ("http://h/bp/odata/standard.odata", "r",
                                                      Secret(env="ODATA_PW"), 30)
    assert cfg.bases["crm"].odata is None


def test_every_problem_of_the_remote_sections_at_once(tmp_path):
    data = config({"kind": "http", "url": "ftp://h/bp", "password": "hunter2", "part_size": 0,
                   "path": "x"},
                  {"kind": "ftp", "port": 70000, "passive": "yes",
                   "password_env": "A", "password_file": "b", "archive_password": "z"},
                  odata={"url": "http://user:pw@h/odata", "user": "r", "timeot": 5})
    assert problems(tmp_path, data) == sorted([
        "bases.accounting.transport.password: unknown key (plaintext passwords are not "
        "allowed: use password_env or password_file)",
        "bases.accounting.transport.path: unknown key",
        "bases.accounting.transport.url: 'ftp://h/bp' is not an http or https URL like "
        "http://host/base",
        "bases.accounting.transport.user: missing",
        "bases.accounting.transport.password_env: missing (or password_file)",
        "bases.accounting.transport.part_size: must be a whole number from 1 to 65536 (KiB)",
        "bases.crm.transport.archive_password: plaintext passwords are not allowed: use "
        "archive_password_env or archive_password_file",
        "bases.crm.transport.host: missing",
        "bases.crm.transport.port: must be a whole number from 1 to 65535 (a TCP port)",
        "bases.crm.transport.passive: must be true or false",
        "bases.crm.transport.password_file: give only one of password_env, password_file",
        "bases.accounting.odata.timeot: unknown key (did you mean timeout?)",
        "bases.accounting.odata.url: holds a user and password before '@': put the user in "
        "`user` and the password in password_env or password_file",
        "bases.accounting.odata.password_env: missing (or password_file)",
    ])


def test_a_password_given_as_an_env_name_is_refused(tmp_path):
    data = config({"kind": "http", "url": "http://h/bp", "user": "u",
                   "password_env": "my secret pass!"})
    assert problems(tmp_path, data) == [
        "bases.accounting.transport.password_env: 'my secret pass!' is not an environment "
        "variable name (the password itself never goes here)"]


def test_an_unknown_kind_reports_only_keys_no_kind_takes(tmp_path):
    data = config({"kind": "sftp", "host": "h", "colour": "red"})
    assert problems(tmp_path, data) == [
        "bases.accounting.transport.colour: unknown key",
        "bases.accounting.transport.kind: 'sftp' is not one of: directory, ftp, http"]


def test_the_example_documents_every_transport_key():
    text = (f.REPO / "config.example.yaml").read_text(encoding="utf-8")
    for key in ("url:", "connect_timeout", "read_timeout", "part_size", "wait_timeout",
                "ca_file", "host:", "port:", "folder:", "passive:", "tls:", "timeout:",
                "archive_password_env", "odata:", "password_env"):
        assert key in text, key
    readme = (f.REPO / "README.md").read_text(encoding="utf-8")
    for key in ("transport.url", "transport.part_size", "transport.host", "transport.folder",
                "transport.passive", "transport.tls", "archive_password_env", "bases.*.odata"):
        assert key in readme, key
