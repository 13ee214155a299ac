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
