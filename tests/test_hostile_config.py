"""Configs and secrets as a careless (or hostile) admin writes them: secret files that are not
files, YAML bombs and traps, passwords in URLs, odd state paths, numbers SQLite cannot hold.

Each mistake is made as the admin makes it, through the CLI in-process; each test asserts the
exit code, the one error line, and that the state did not change."""

from __future__ import annotations

import contextlib
import os
import time

import pytest

from tests import factory as f
from tests.conftest import DEFAULT_CONFIG
from tests.conftest import unblocking
from tests.corpus import make

FIRST = f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")])
SECRET = "Zq-ARCHIVE-SECRET-7f3e"


def error_line(err: str) -> str:
    (line,) = [ln for ln in err.splitlines() if ln.startswith("onecsync: error: ")]
    return line


def with_config(sandbox, acc_extra: str = "", crm_extra: str = "", tail: str = "") -> None:
    sandbox.write_config(DEFAULT_CONFIG.format(node=f.NODE, acc=f.ACCOUNTING, crm=f.CRM,
                                               acc_extra=acc_extra, crm_extra=crm_extra) + tail)


# -- 1. *_file secrets: a regular file of sane size, UTF-8 ------------------------------------

def _secret_file(sandbox, kind: str):
    path = sandbox.root / "archive.pw"
    if kind == "fifo":
        os.mkfifo(path, 0o600)
    elif kind == "device":
        path = "/dev/zero"
    elif kind == "directory":
        path.mkdir()
    elif kind == "too big":
        path.write_bytes(b"x" * (64 * 1024 + 1))
    elif kind == "not utf-8":
        path.write_bytes("пароль".encode("cp1251") + b"\n")
    os.chmod(path, 0o600) if kind != "device" else None
    return path


@pytest.mark.parametrize("kind, says", [
    ("fifo", "not a regular file"), ("device", "not a regular file"),
    ("directory", "not a regular file"), ("too big", "larger than 64 KiB"),
    ("not utf-8", "is not UTF-8 text")])
def test_a_secret_file_that_is_no_sane_file_is_exit_3_at_once(sandbox, kind, says):
    sandbox.put("accounting", FIRST)
    assert sandbox.run("pull-catalogs")[0] == 0
    before = sandbox.dump()
    path = _secret_file(sandbox, kind)
    with_config(sandbox, acc_extra=f", archive_password_file: {path}")
    sandbox.put_raw("accounting", make.encrypted(SECRET.encode(),
                                                 f.Msg(message_no=2, received_no=1).xml()), ".zip")
    started = time.monotonic()
    with unblocking(path) if kind == "fifo" else contextlib.nullcontext():
        code, _, err = sandbox.run("pull-catalogs")
    assert time.monotonic() - started < 30
    assert code == 3, err
    line = error_line(err)
    assert f"secret file {path}" in line and says in line, line
    if kind == "not utf-8":  # none of its bytes, in any form
        assert "пароль".encode("cp1251").decode("latin-1") not in err
        assert "\\xef" not in err and "\\xe0" not in err and "xef" not in line
    assert sandbox.dump() == before
    assert not (sandbox.state_path.parent / "quarantine").exists()
