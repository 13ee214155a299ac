"""What a file's times and its content each decide (review5 F5), for the base's message: a
change of its times alone is never taken for a new message nor hides one; a new message with the
size and modification time of the last one is still read (its header is in the sampled head)."""

from __future__ import annotations

import os

from tests import factory as f

FIRST = f.Msg(message_no=1, objects=[f.counterparty(f.ref(1), "ООО Ромашка")])
# The same size as FIRST: one digit of the number and one letter of the name differ.
SECOND = f.Msg(message_no=2, objects=[f.counterparty(f.ref(1), "ООО Ромашкб")])


def test_a_new_message_with_the_last_ones_size_and_mtime_is_read(sandbox):
    path = sandbox.put("accounting", FIRST)
    assert sandbox.run("run")[0] == 0
    st = path.stat()
    data = SECOND.xml()
    assert len(data) == st.st_size
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    received = report["peers"]["accounting"]["received"]
    assert received.get("unchanged") is not True and received["message_no"] == 2, received
    assert sandbox.numbers("accounting")[1] == 2


def test_the_base_message_touched_is_read_again_and_skipped_by_its_number(sandbox):
    path = sandbox.put("accounting", FIRST)
    assert sandbox.run("run")[0] == 0
    before = sandbox.dump()
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    received = report["peers"]["accounting"]["received"]
    assert received.get("objects", 0) == 0, received  # nothing applied twice
    assert sandbox.dump()["inbox"] == before["inbox"]
    assert sandbox.numbers("accounting") == (1, 1, 0)


def test_over_ftp_our_message_touched_on_the_server_is_still_ours(sandbox, monkeypatch):
    """F5 over FTP: the listing's time of our message changed, its bytes did not: read once
    to compare, not taken for lost (no new number written), and the receipt notes the time."""
    from tests.conftest import ftp_peer
    from tests.conftest import remote_config
    from tests.ftp_server import FtpServer

    monkeypatch.setenv("ONECSYNC_TEST_FTP_PW", "ftp-s3cret")
    sandbox.put("accounting", FIRST)
    with FtpServer(sandbox.root / "exchange") as server:
        sandbox.write_config(remote_config({
            name: ftp_peer(name, server.port) for name in ("accounting", "crm")}))
        assert sandbox.run("run")[0] == 0
        ours = sandbox.outgoing_path("crm")
        data = ours.read_bytes()
        st = ours.stat()
        os.utime(ours, ns=(st.st_atime_ns, st.st_mtime_ns - 7200 * 10**9))
        retrs = server.commands.count("RETR")
        code, report, err = sandbox.run("run")
        assert code == 0, err
        assert report["peers"]["crm"]["sent"]["message_no"] is None, report["peers"]["crm"]
        assert ours.read_bytes() == data
        assert server.commands.count("RETR") == retrs + 1  # compared once ...
        code, report, err = sandbox.run("run")
        assert code == 0, err
        assert server.commands.count("RETR") == retrs + 1  # ... and known since
        ours.write_bytes(data.replace(b"<msg:MessageNo>1<", b"<msg:MessageNo>7<"))
        code, report, err = sandbox.run("run")  # another writer's message From our code
        assert code == 3 and "another onecsync (another state) writes to ftp://" in err, err
        assert ours.read_bytes() != data  # left for the human to decide
        ours.write_bytes(b"not a message")
        code, report, err = sandbox.run("run")  # no message at all: damage, or another writer's
        assert code == 3 and "is no message onecsync can read" in err, err
        assert ours.read_bytes() == b"not a message"  # left for the human (task T4 #1)
        ours.unlink()
        code, report, err = sandbox.run("run")  # deleted: written again
        assert code == 0, err
        assert report["peers"]["crm"]["sent"]["message_no"] == 2
