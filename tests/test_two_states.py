"""Two states on the same exchange folders (a config copied with only `state:` changed): each
would write its own message over the other's under the same numbers, and the base would skip one
of each pair as "ранее принято". The one that finds a message From our code it never wrote stops
with exit 3 and does not write; the normal cases (our own message still there, our previous one
after a crash, a settings message) say nothing (review3 #3)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re

import pytest

from tests import factory as f

FIRST = f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")])


@contextlib.contextmanager
def as_second(sandbox):
    """Run with the copied config: the same node and folders, its own state."""
    first = sandbox.config
    second = sandbox.root / "second.yaml"
    second.write_text(first.read_text(encoding="utf-8").replace(
        "state: state/onecsync.sqlite", "state: state2/onecsync.sqlite"), encoding="utf-8")
    sandbox.config = second
    try:
        yield sandbox.root / "state2" / "onecsync.sqlite"
    finally:
        sandbox.config = first


def folders(sandbox) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for d in sandbox.folders.values() for p in sorted(d.iterdir())}


def test_the_second_state_refuses_to_write_over_the_firsts_message(sandbox):
    sandbox.put("accounting", FIRST)
    code, _, err = sandbox.run("run")
    assert code == 0, err
    before = folders(sandbox)
    with as_second(sandbox):
        code, _, err = sandbox.run("run")
    assert code == 3, err
    line = next(ln for ln in err.splitlines() if "error:" in ln)
    assert f"crm: another onecsync (another state) writes to folder {sandbox.folders['crm']}" \
        in line
    assert "number 1 From our code, which this state did not write (its last is 0)" in line
    assert "state set-numbers crm --sent 1" in line
    assert folders(sandbox) == before  # nothing written over the first's message
    code, _, err = sandbox.run("run")  # the first state's own message is still there: quiet
    assert code == 0, err
    assert folders(sandbox) == before


def test_alternating_states_do_not_both_go_on_silently(sandbox):
    """The review's repro: c.yaml and c2.yaml in turn. Whichever is behind finds the other's
    message and stops; neither gets exit 0 on every run while the base gets two messages 1."""
    sandbox.put("accounting", FIRST)
    with as_second(sandbox):
        assert sandbox.run("run")[0] == 0  # the second writes first, on empty folders
    codes = []
    for _ in range(2):
        codes.append(sandbox.run("run")[0])
        with as_second(sandbox):
            codes.append(sandbox.run("run")[0])
    assert codes.count(3) >= 2 and set(codes) <= {0, 3}, codes
    assert codes[0] == 3  # the first, at 0, finds message 1 of the second


@pytest.mark.parametrize("then", ["resend", "settings", "new objects"])
def test_our_own_messages_never_raise_the_alarm(sandbox, then):
    sandbox.put("accounting", FIRST)
    assert sandbox.run("run")[0] == 0
    if then == "resend":  # the base deleted nothing, we send everything again: message 2
        assert sandbox.run("state", "resend", "crm", "--yes")[0] == 0
    elif then == "settings":  # the admin drops a settings message where ours goes (number 0)
        assert sandbox.run("settings-message", "crm", "-o", str(sandbox.folders["crm"]),
                           "--force")[0] == 0
    else:
        sandbox.put("accounting", f.Msg(message_no=2, received_no=0,
                                        created="2026-11-22T09:00:00",
                                        objects=[f.counterparty(f.ref(2), "АО Василек")]))
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert "another onecsync" not in err


def test_a_restored_state_is_told_to_set_its_numbers_and_then_goes_on(sandbox):
    sandbox.put("accounting", FIRST)
    assert sandbox.run("run")[0] == 0
    sandbox.put("accounting", f.Msg(message_no=2, received_no=0, created="2026-11-22T09:00:00",
                                    objects=[f.counterparty(f.ref(2), "АО Василек")]))
    assert sandbox.run("run")[0] == 0
    assert sandbox.outgoing("crm")["message_no"] == 2
    with as_second(sandbox):  # a state made anew beside the old message 2
        sandbox.put("accounting", FIRST)
        code, _, err = sandbox.run("run")
        assert code == 3 and "set-numbers crm --sent 2" in err
        for base in ("accounting", "crm"):  # both folders have our message 2 (the receipt)
            sent = str(sandbox.outgoing(base)["message_no"])
            assert sandbox.run("state", "set-numbers", base, "--sent", sent, "--yes")[0] == 0
        code, _, err = sandbox.run("run")
        assert code == 0, err
        assert sandbox.outgoing("crm")["message_no"] == 3


def _touch(path):
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns + 10**9, st.st_mtime_ns + 3600 * 10**9))


def _copy_over_itself(path):  # `cp -p`, rsync, a backup restoring it byte for byte
    data, st = path.read_bytes(), path.stat()
    path.unlink()
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 86400 * 10**9))


def _chmod(path):
    path.chmod(0o644 if path.stat().st_mode & 0o777 != 0o644 else 0o640)
    _touch(path)


@pytest.mark.parametrize("change", [_touch, _copy_over_itself, _chmod],
                         ids=["touch", "copied-over-itself", "chmod-and-touch"])
def test_our_message_with_only_its_times_or_mode_changed_is_still_ours(sandbox, change):
    """review5 F5: only content is evidence of another writer; our bytes with a new mtime are
    ours, so nothing is written again either (the same number, the same bytes)."""
    sandbox.put("accounting", FIRST)
    assert sandbox.run("run")[0] == 0
    before = folders(sandbox)
    for base in ("accounting", "crm"):
        change(sandbox.outgoing_path(base))
    for _ in range(2):
        code, report, err = sandbox.run("run")
        assert code == 0, err
        assert "another onecsync" not in err
        assert report["peers"]["crm"]["sent"]["message_no"] is None  # not written again
    assert folders(sandbox) == before


def test_our_number_with_other_bytes_is_another_writer_even_with_our_mtime(sandbox):
    """The other side of F5: the same MessageNo with other content, its size and mtime made
    those of ours, is still seen."""
    sandbox.put("accounting", FIRST)
    assert sandbox.run("run")[0] == 0
    path = sandbox.outgoing_path("crm")
    data, st = path.read_bytes(), path.stat()
    stamp = re.search(rb"CreationDate>(\d{4})", data)  # the year of our CreationDate
    assert stamp is not None
    other = data[:stamp.start(1)] + b"2001" + data[stamp.end(1):]
    assert other != data and len(other) == len(data)
    path.write_bytes(other)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    code, _, err = sandbox.run("run")
    assert code == 3, err
    assert "another onecsync (another state) writes to" in err
