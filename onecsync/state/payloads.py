"""How the state keeps objects' XML: compressed, in tables of their own beside the small rows.

Public API: `pack(xml)`, `unpack(blob)`, `LEVEL`, `LIMIT`, `packable(conn)` (migration 0004).

Payloads are nearly all of a state's bytes (6–7 KB an object against a few hundred bytes of row
and index), and almost no query wants them: counting, parking, `status` and the closing
reconcile read only the rows. So each payload sits in `inbox_payloads` (keyed by the inbox id)
or `registration_payloads` (keyed by the registration id, for a mapped copy), where only routing
and sending read it. The digest stays that of the canonical XML, never of these bytes.

A payload made now is one byte, 0x80 + N, then a standard zstd frame (RFC 8878, magic
28 B5 2F FD) at level 3 with `payloads-N.zstdict` as a raw-content dictionary: every object of
the fixture messages as 1C writes them (tools/make_payload_dictionary.py), so the tag names that
are most of an object's bytes cost little even in the first object of a payload. Against zlib
level 3 with its 32 KiB dictionary: a third of the CPU, a quarter to unpack, 18% fewer bytes
(583 B against 711 an object of the bench's message: bench/payload_compression.py). The frame
carries its content size, so that a frame claiming more than LIMIT is refused before anything is
allocated, and its checksum, so that a flipped bit is a damaged payload, never other XML. The
byte names the dictionary because a raw-content dictionary has no id a frame could carry: a
better dictionary is a new file with the next N, and every file shipped stays as it is, so that
the states made with it stay readable.

Every payload made before is a zlib stream (RFC 1950) deflated with `payloads-1.zdict`, named by
its Adler-32 in the stream's header. A zlib stream's first byte is at most 0x7F (its window size,
CINFO, is at most 7), so the first byte alone tells the two apart; those unpack as they always did.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from onecsync.errors import StateError
from onecsync.protocol.limits import OBJECT_LIMIT

if TYPE_CHECKING:
    import zstandard

LEVEL = 3
# No stored object unpacks to more: the reader parks a larger one by its keys alone, so more is
# not what onecsync stored (a damaged or edited state; the margin is for states made before the
# reader had its limit), and unpacking it whole could take the memory of the host.
LIMIT = 4 * OBJECT_LIMIT
_HERE = Path(__file__).parent
# The dictionary new payloads are made with (payloads-N.zstdict); files are never changed once shipped.
_CURRENT = 2
_ZSTD = 0x80  # the first byte of a zstd payload is this + its dictionary's N; a zlib one's is less
_MAGIC = b"\x28\xb5\x2f\xfd"  # a zstd frame's first four bytes
_FDICT = 0x20  # zlib header: a dictionary's Adler-32 follows the first two bytes
# A frame's claimed size is allocated at once up to this (harmless whatever the frame says); a
# larger claim is believed only as far as the frame delivers, read a slice at a time.
_DIRECT = 1 << 20
# Level 3 never makes a window over 2 MiB (19 not over 8): a frame asking more is not ours, and
# a decoder that took it would allocate it before reading a byte of content.
_WINDOW = 8 << 20


@functools.cache
def _zlib_dictionaries() -> dict[int, bytes]:
    return {zlib.adler32(d): d for d in (p.read_bytes() for p in _HERE.glob("payloads-*.zdict"))}


@functools.cache
def _zstd_dictionary(number: int) -> bytes | None:
    path = _HERE / f"payloads-{number}.zstdict"
    return path.read_bytes() if path.is_file() else None


class _Codecs(threading.local):
    """Making a compressor or decompressor (the dictionary digested) costs more than packing an
    object, so each is made once; once a thread, since one must never serve two at a time."""

    def __init__(self) -> None:
        self.compressor: zstandard.ZstdCompressor | None = None
        self.decompressors: dict[int, zstandard.ZstdDecompressor] = {}


_codecs = _Codecs()


def _dictionary(number: int) -> zstandard.ZstdCompressionDict:
    import zstandard  # here, not at the top: a run with nothing new reads no payload

    content = _zstd_dictionary(number)
    if content is None:
        raise _unknown(f"payloads-{number}")
    return zstandard.ZstdCompressionDict(content, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def _compressor() -> zstandard.ZstdCompressor:
    if _codecs.compressor is None:
        import zstandard

        _codecs.compressor = zstandard.ZstdCompressor(level=LEVEL, dict_data=_dictionary(_CURRENT),
                                                      write_checksum=True, write_content_size=True)
    return _codecs.compressor


def _decompressor(number: int) -> zstandard.ZstdDecompressor:
    if number not in _codecs.decompressors:
        import zstandard

        _codecs.decompressors[number] = zstandard.ZstdDecompressor(
            dict_data=_dictionary(number), max_window_size=_WINDOW)
    return _codecs.decompressors[number]


def pack(xml: bytes) -> bytes:
    if len(xml) > LIMIT:  # stored, it would read back as damaged: refused before it is
        raise StateError(f"an object of {len(xml) >> 20} MiB is more than the state keeps "
                         f"({LIMIT >> 20} MiB); nothing was stored",
                         remedy="report it: the reader parks a larger object by its keys alone")
    return bytes((_ZSTD + _CURRENT,)) + _compressor().compress(xml)


def _damaged(why: str) -> StateError:
    return StateError(f"a payload in the state is damaged ({why})",
                      remedy="restore the state file from a backup")


def _unknown(dictionary: str) -> StateError:
    return StateError(f"a payload in the state was made with dictionary {dictionary}, which this "
                      f"onecsync does not have", remedy="upgrade onecsync; do not edit the state file")


def unpack(blob: bytes) -> bytes:
    if not isinstance(blob, bytes):  # SQLite gives what was stored: text or a number is not ours
        raise _damaged(f"a {type(blob).__name__} where compressed bytes belong")
    if blob[:1] >= bytes((_ZSTD,)):
        if blob[1:5] != _MAGIC:  # checked first: damage is never taken for a newer dictionary
            raise _damaged("neither a zlib stream nor a zstd frame")
        return _unzstd(blob[0] - _ZSTD, memoryview(blob)[1:])
    return _inflate(blob)


def _unzstd(number: int, frame: memoryview) -> bytes:
    from zstandard import ZstdError
    from zstandard import frame_content_size

    decompressor = _decompressor(number)
    try:
        size = frame_content_size(frame)
        if size < 0:  # every frame pack() makes says it
            raise _damaged("a zstd frame that does not say its size")
        if size > LIMIT:
            raise _damaged(f"it unpacks to more than {LIMIT >> 20} MiB")
        if size <= _DIRECT:
            return decompressor.decompress(frame, allow_extra_data=False)
        return _streamed(decompressor, frame, size)
    except ZstdError as exc:
        raise _damaged(str(exc)) from None


def _streamed(decompressor: zstandard.ZstdDecompressor, frame: memoryview, size: int) -> bytes:
    parts, got = [], 0
    with decompressor.stream_reader(frame) as reader:
        while got <= size and (part := reader.read(_DIRECT)):
            parts.append(part)
            got += len(part)
    if got != size:
        raise _damaged(f"its frame says {size} bytes and holds {got}")
    return b"".join(parts)


def _inflate(blob: bytes) -> bytes:
    # A zlib header is two bytes that, read as one number, are a multiple of 31 (FCHECK) and say
    # deflate (CM 8): anything else is damage, never a dictionary this onecsync lacks.
    if len(blob) < 2 or blob[0] & 0x0F != 8 or int.from_bytes(blob[:2], "big") % 31:
        raise _damaged("neither a zlib stream nor a zstd frame")
    try:
        zdict: bytes | None = b""
        if len(blob) > 6 and blob[1] & _FDICT:
            dictid = int.from_bytes(blob[2:6], "big")
            zdict = _zlib_dictionaries().get(dictid)
            if zdict is None:  # no zlib dictionary is ever added (new payloads are zstd)
                raise _damaged(f"a zlib stream naming dictionary {dictid:08x}, which no onecsync made")
        z = zlib.decompressobj(zdict=zdict) if zdict else zlib.decompressobj()
        # A slice at a time: a stream that says no size is stopped just past LIMIT, having
        # held no more than that.
        parts, got = [], 0
        part = z.decompress(blob, _DIRECT)
        while True:
            got += len(part)
            if got > LIMIT:
                raise _damaged(f"it unpacks to more than {LIMIT >> 20} MiB")
            parts.append(part)
            if z.eof or not (part or z.unconsumed_tail):
                break
            part = z.decompress(z.unconsumed_tail, _DIRECT)
        if not z.eof:
            raise zlib.error("truncated")
        return b"".join(parts)
    except zlib.error as exc:
        raise _damaged(str(exc)) from None


def packable(conn: sqlite3.Connection) -> None:
    """A payload migration 0004 can move is bytes or text (the UTF-8 bytes are packed); a number
    in the column (a hand edit) is no XML at all: refused before anything is moved, naming the
    row and how to be rid of it (SQLite would only say "user-defined function raised
    exception")."""
    row = conn.execute(
        "SELECT 'inbox', id, id, peer, type, ref, typeof(xml) FROM inbox "
        "WHERE typeof(xml) NOT IN ('blob', 'text') UNION ALL "
        "SELECT 'registrations', id, inbox_id, peer, type, ref, typeof(xml) FROM registrations "
        "WHERE typeof(xml) NOT IN ('blob', 'text', 'null') LIMIT 1").fetchone()
    if row is None:
        return
    table, row_id, inbox_id, peer, type_name, ref, kind = row
    drop = (f"DELETE FROM inbox_links WHERE inbox_id = {inbox_id}; "
            f"DELETE FROM registrations WHERE inbox_id = {inbox_id}; "
            f"DELETE FROM inbox WHERE id = {inbox_id};")
    path = conn.execute("PRAGMA database_list").fetchone()[2] or "STATE"
    raise StateError(
        f"the state cannot be moved to this onecsync's layout: {table} row {row_id} ({peer}, "
        f"{type_name} {ref}) holds an {kind.upper()} where its XML should be",
        remedy=f"restore the state file from a backup, or stop the timer and remove that object "
               f"with sqlite3 {path} '{drop}' (the base sends it again with its next change)")
