"""A full disk on this host while a remote transport writes there (review5 F-minor-1): the
error names the local folder and says it is this host's disk, exit 4 (free space, the next run
retries), and the state is as it was. Before, it named the FTP server: the wrong machine."""

from __future__ import annotations

import errno
import os

import pytest

from onecsync.errors import ExitCode
from onecsync.places import SPOOL_FOLDER
from onecsync.transport import base as transport_base
from onecsync.transport import operations as http_operations
from onecsync.transport import spool as spool_module
from tests import factory as f
from tests.conftest import ftp_peer
from tests.conftest import http_peer
from tests.conftest import remote_config
from tests.emulator.remote import lone
from tests.exchange_service import ExchangeService
from tests.ftp_server import FtpServer

CATALOGS = [f.counterparty(f.ref(1), "ООО Ромашка", "7701234567"), f.currency(f.ref(9))]


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setattr(http_operations, "FIRST_POLL", 0.001)
    monkeypatch.setenv("ONECSYNC_TEST_PW", "s3cret")
    monkeypatch.setenv("ONECSYNC_TEST_FTP_PW", "ftp-s3cret")


@pytest.fixture(params=["ftp", "http"])
def remote(request, sandbox):
    if request.param == "ftp":
        sandbox.put("accounting", f.Msg(objects=CATALOGS))
        with FtpServer(sandbox.root / "exchange") as server:
            sandbox.write_config(remote_config({
                name: ftp_peer(name, server.port) for name in ("accounting", "crm")}))
            yield request.param
    else:
        acc, crm = lone("accounting", *CATALOGS), lone("crm")
        with ExchangeService(acc) as sa, ExchangeService(crm, publication="crm") as sc:
            sandbox.write_config(remote_config({"accounting": http_peer(sa.url),
                                                "crm": http_peer(sc.url)}))
            yield request.param


def full_disk(path):
    """A new file that, like a full disk, takes no byte (ENOSPC on the first flush)."""
    fd = os.open("/dev/full", os.O_WRONLY)
    return fd


def test_a_download_into_a_full_spool_names_this_hosts_disk(sandbox, remote, monkeypatch):
    real = spool_module.Spool.temp

    class Full:  # the spool's file on a disk that is full: no write goes through
        def __init__(self, f) -> None:
            self.f = f

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self.f, name)

    def temp(self):
        out, path = real(self)
        return Full(out), path

    monkeypatch.setattr(spool_module.Spool, "temp", temp)
    code, report, err = sandbox.run("run")
    assert code == ExitCode.TEMPORARY, err
    spool = sandbox.state_path.parent / SPOOL_FOLDER / "accounting"
    line = next(ln for ln in err.splitlines() if "accounting" in ln and "error:" in ln)
    assert f"writing the download to this host's disk at {spool}: no space left on the " \
           "device" in line, line
    assert "free disk space there" in line
    assert sandbox.numbers("accounting") == (0, 0, 0) and sandbox.dump()["inbox"] == []


def test_our_message_into_a_full_spool_names_this_hosts_disk(sandbox, remote, monkeypatch):
    real = transport_base.create_new

    def create_new(folder, prefix, suffix="", mode=0o600):
        fd, path = real(folder, prefix, suffix, mode)
        os.close(fd)
        return full_disk(path), path

    monkeypatch.setattr(transport_base, "create_new", create_new)
    code, report, err = sandbox.run("run")
    assert code == ExitCode.TEMPORARY, err
    spool = sandbox.state_path.parent / SPOOL_FOLDER / "crm"
    line = next(ln for ln in err.splitlines() if "crm: writing" in ln)
    assert f"crm: writing to this host's disk at {spool}: no space left on the device" in line, \
        line
    assert sandbox.numbers("crm")[0] == 0  # nothing stamped: the next run writes it again
