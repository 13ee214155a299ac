"""State payloads: zstd with a numbered dictionary now, zlib in every state made before; both
unpack, and whatever else a payload became is a StateError, never more memory than it holds."""

from __future__ import annotations

import contextlib
import sqlite3
import tracemalloc
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onecsync.errors import StateError
from onecsync.state import payloads
from tests import factory as f

ZDICT = (payloads._HERE / "payloads-1.zdict").read_bytes()
XML = f.counterparty(f.ref(1), "ООО Ромашка").encode()


def deflated(xml: bytes, zdict: bytes | None = ZDICT) -> bytes:
    """A payload as every onecsync before zstd stored it (zlib level 3, payloads-1.zdict)."""
    z = zlib.compressobj(3, zdict=zdict) if zdict else zlib.compressobj(3)
    return z.compress(xml) + z.flush()


def frame(claims: int, blocks: bytes, tag: int = 0x82, window_log: int = 20) -> bytes:
    """A zstd frame written by hand (RFC 8878 3.1.1): its window, an 8-byte content size."""
    return (bytes((tag,)) + b"\x28\xb5\x2f\xfd\xc0" + bytes(((window_log - 10) << 3,))
            + claims.to_bytes(8, "little") + blocks)


def rle(n: int, last: bool) -> bytes:
    """One RLE block: `n` spaces from four bytes."""
    return ((n << 3) | (1 << 1) | last).to_bytes(3, "little") + b" "


@given(st.binary(max_size=20_000) | st.text(max_size=5_000).map(str.encode))
def test_any_bytes_come_back_from_a_new_payload_and_from_an_old_one(xml):
    assert payloads.unpack(payloads.pack(xml)) == xml
    assert payloads.unpack(deflated(xml)) == xml
    assert payloads.unpack(deflated(xml, zdict=None)) == xml


def test_a_new_payload_is_a_zstd_frame_after_the_byte_that_names_its_dictionary():
    packed = payloads.pack(XML)
    assert packed[0] == 0x80 + payloads._CURRENT and packed[1:5] == b"\x28\xb5\x2f\xfd"


def test_a_payload_of_an_old_state_is_sent_as_it_was_received(sandbox):
    sandbox.put("accounting", f.Msg(objects=[XML.decode()]))
    assert sandbox.run("pull-catalogs")[0] == 0
    with contextlib.closing(sqlite3.connect(sandbox.state_path)) as c, c:
        (blob,) = c.execute("SELECT xml FROM inbox_payloads").fetchone()
        c.execute("UPDATE inbox_payloads SET xml = ?", (deflated(payloads.unpack(blob)),))
    sandbox.outgoing_path("crm").unlink()
    assert sandbox.run("state", "resend", "crm", "--yes")[0] == 0
    assert sandbox.run("pull-catalogs")[0] == 0
    assert "ООО Ромашка" in sandbox.outgoing_path("crm").read_text(encoding="utf-8")


def test_a_payload_made_with_a_dictionary_this_onecsync_lacks_says_upgrade():
    with pytest.raises(StateError, match="made with dictionary payloads-9, which this onecsync "
                                         "does not have") as exc:
        payloads.unpack(frame(10, rle(10, True), tag=0x80 + 9))
    assert exc.value.remedy == "upgrade onecsync; do not edit the state file"


def test_a_zlib_stream_naming_an_unknown_dictionary_is_damage_not_a_newer_onecsync():
    # No zlib dictionary is ever added: the tag byte 0x58 before a zstd frame reads as a valid
    # zlib header naming one, and only damage makes that.
    for blob in (deflated(XML, zdict=b"another dictionary" * 100),
                 bytes([0x58]) + frame(10, rle(10, True))[1:]):
        with pytest.raises(StateError, match="damaged") as exc:
            payloads.unpack(blob)
        assert exc.value.remedy == "restore the state file from a backup"


@pytest.mark.parametrize("blob, says", [
    (frame(payloads.LIMIT + 1, rle(1, True)), f"more than {payloads.LIMIT >> 20} MiB"),
    (frame(10, rle(1000, True)), "Destination buffer is too small"),
    (frame(payloads.LIMIT, rle(1 << 17, False)), f"says {payloads.LIMIT} bytes and holds 131072"),
    (frame(payloads._DIRECT, rle(1 << 17, False)), "did not decompress full frame"),
    (frame(payloads.LIMIT, rle(1 << 17, False), window_log=26), "Frame requires too much memory"),
    (payloads.pack(XML)[:1] + b"\x28\xb5\x2f\xfd\x20", "error when determining content size"),
    (b"\xff" + b"\x00" * 40, "neither a zlib stream nor a zstd frame"),
], ids=["claims-too-much", "holds-more-than-it-claims", "truncated-big", "truncated",
        "window-too-large", "header", "garbage"])
def test_a_damaged_zstd_payload_is_a_state_error_without_allocating_its_claim(blob, says):
    tracemalloc.start()
    try:
        with pytest.raises(StateError, match="a payload in the state is damaged") as exc:
            payloads.unpack(blob)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert says in str(exc.value)
    assert exc.value.remedy == "restore the state file from a backup"
    assert peak < 2 * payloads._DIRECT + (1 << 20), peak


@pytest.mark.parametrize("at", [8, -30, -2])
def test_a_flipped_bit_in_a_new_payload_is_damage_never_other_xml(at):
    packed = bytearray(payloads.pack(XML * 3))
    packed[at] ^= 0x10
    with pytest.raises(StateError, match="a payload in the state is damaged"):
        payloads.unpack(bytes(packed))


def test_a_large_object_comes_back_whole():
    """Past the size whose claim is allocated at once it is read a slice at a time."""
    xml = b"<a>" + XML * (3 * payloads._DIRECT // len(XML)) + b"</a>"
    assert payloads.unpack(payloads.pack(xml)) == xml


# 0x58 and the frame's first byte are a valid zlib header (CM 8, FDICT, FCHECK): that one damage
# reads as a dictionary this onecsync lacks, and nothing in the two bytes can tell them apart.
@given(st.integers(0, 0x7F).filter(lambda tag: tag != 0x58))
def test_a_zstd_payload_whose_tag_reads_as_zlib_is_damage_never_a_dictionary_we_lack(tag):
    """R2 F5: 0x7F before a zstd frame read as a zlib stream naming dictionary b52ffd64."""
    with pytest.raises(StateError, match="a payload in the state is damaged") as exc:
        payloads.unpack(bytes((tag,)) + payloads.pack(XML)[1:])
    assert exc.value.remedy == "restore the state file from a backup"


def test_an_old_payload_past_the_limit_is_refused_having_held_no_more(monkeypatch):
    """R2 F5: a zlib stream says no size; it was inflated whole (twice LIMIT held) to be refused."""
    monkeypatch.setattr(payloads, "LIMIT", 16 << 20)
    blob = deflated(b" " * (64 << 20), zdict=None)
    tracemalloc.start()
    try:
        with pytest.raises(StateError, match="it unpacks to more than 16 MiB"):
            payloads.unpack(blob)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < payloads.LIMIT + 3 * payloads._DIRECT, peak
    assert payloads.unpack(deflated(b" " * (15 << 20), zdict=None)) == b" " * (15 << 20)


def test_what_the_state_could_not_unpack_is_never_stored(monkeypatch):
    """R2 F3: a stub past LIMIT was stored, then called a damaged state (restore a backup)."""
    monkeypatch.setattr(payloads, "LIMIT", 1 << 20)
    with pytest.raises(StateError, match="an object of 2 MiB is more than the state keeps "
                                         r"\(1 MiB\); nothing was stored"):
        payloads.pack(b" " * (2 << 20))
    assert payloads.unpack(payloads.pack(b" " * (1 << 20))) == b" " * (1 << 20)
