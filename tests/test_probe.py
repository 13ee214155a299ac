"""`probe()`, the reachability check each remote transport offers to `check`: a line saying
what is there when the transport can be used, else the classified error."""

from __future__ import annotations

import pytest

from onecsync.config import FtpConfig
from onecsync.config import Secret
from onecsync.errors import ConfigError
from onecsync.errors import TemporaryError
from onecsync.transport.ftp import FtpTransport
from onecsync.transport.spool import Spool
from tests import factory as f
from tests.ftp_server import FtpServer


def ftp_transport(port: int, folder: str, tmp_path, password: str = "ftp-s3cret"):
    return FtpTransport(FtpConfig(host="127.0.0.1", port=port, user="sync",
                                password=Secret(file=_secret(tmp_path, password)),
                                folder=folder, timeout=5),
                        f.NODE, (f.ACCOUNTING,), Spool(tmp_path / "spool"))


def _secret(tmp_path, password: str):
    path = tmp_path / "ftp-password"
    path.write_text(password + "\n", encoding="utf-8")
    return path


def test_ftp_probe(tmp_path):
    root = tmp_path / "root"
    (root / "bp").mkdir(parents=True)
    (root / "bp" / f"Message_{f.ACCOUNTING}_{f.NODE}.xml").write_bytes(f.Msg().xml())
    with FtpServer(root) as server:
        line = ftp_transport(server.port, "/bp", tmp_path).probe(write=False)
        assert line.endswith(f"/bp: readable; the base's message Message_{f.ACCOUNTING}_"
                             f"{f.NODE}.xml is there")
        assert "STOR" not in server.commands
        line = ftp_transport(server.port, "/bp", tmp_path).probe()
        assert "readable and writable" in line
        assert server.commands.count("STOR") == 1 and server.commands.count("DELE") == 1
        with pytest.raises(ConfigError) as exc:
            ftp_transport(server.port, "/missing", tmp_path).probe()
        assert "check transport.folder" in exc.value.line()
        with pytest.raises(ConfigError) as exc:
            ftp_transport(server.port, "/bp", tmp_path, password="wrong").probe()
        assert "login refused for 'sync'" in str(exc.value)
        port = server.port
    assert [p.name for p in (root / "bp").iterdir()] == [f"Message_{f.ACCOUNTING}_{f.NODE}.xml"]
    with pytest.raises(TemporaryError):
        ftp_transport(port, "/bp", tmp_path).probe()
