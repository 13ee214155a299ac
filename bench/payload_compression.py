"""How big a state's payloads come out, and at what CPU, with each codec, level and dictionary.

Usage: python bench/payload_compression.py STATE [--every 10]

Reads every `--every`-th payload of a state file (read-only; either layout) and prints, per
level, the mean compressed size and the CPU microseconds per object to compress and to unpack
it: zlib plainly and with the dictionary of the states before (payloads-1.zdict), zstd plainly
and with the dictionary new payloads use (onecsync/state/payloads.py), both as payloads.py makes
them (zstd: its content size and checksum, one compressor reused). Figures only; the bench's own
message is what it measures, never what a dictionary is made from (tools/make_payload_dictionary.py).
"""

from __future__ import annotations

import argparse
import sqlite3
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import zstandard

from onecsync.state import payloads

Codec = Callable[[bytes], bytes]


def sample(path: Path, every: int) -> list[bytes]:
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as c:
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "inbox_payloads" in tables:
            rows = [payloads.unpack(r[0]) for r in c.execute(
                "SELECT xml FROM inbox_payloads WHERE inbox_id % ? = 0", (every,))]
        else:
            rows = [bytes(r[0]) for r in c.execute("SELECT xml FROM inbox WHERE id % ? = 0", (every,))]
    c.close()
    return rows


def cpu_us(fn: Codec, data: list[bytes]) -> tuple[list[bytes], float]:
    """The output and the least CPU time per item of two passes (the machine is shared)."""
    best = float("inf")
    for _ in range(2):
        started = time.process_time()
        out = [fn(x) for x in data]
        best = min(best, time.process_time() - started)
    return out, best / len(data) * 1e6


def zlib_codecs(level: int, zdict: bytes | None) -> tuple[Codec, Codec]:
    if zdict is None:
        return (lambda x: zlib.compress(x, level)), zlib.decompress
    primed = zlib.compressobj(level, zdict=zdict)

    def pack(x: bytes) -> bytes:
        c = primed.copy()
        return c.compress(x) + c.flush()

    return pack, lambda b: zlib.decompressobj(zdict=zdict).decompress(b)


def zstd_codecs(level: int, content: bytes | None) -> tuple[Codec, Codec]:
    d = None if content is None else zstandard.ZstdCompressionDict(
        content, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    c = zstandard.ZstdCompressor(level=level, dict_data=d, write_checksum=True)
    dd = zstandard.ZstdDecompressor(dict_data=d)
    return c.compress, dd.decompress


def table(name: str, rows: list[bytes], codecs, zdict: bytes, ours: int | None) -> None:
    print(f"{name:>5}  {'plain B':>8} {'µs':>6}  {'dict B':>8} {'µs':>6} {'unpack µs':>10}")
    for level in range(1, 10):
        plain, plain_us = cpu_us(codecs(level, None)[0], rows)
        pack, unpack = codecs(level, zdict)
        packed, dict_us = cpu_us(pack, rows)
        _, unpack_us = cpu_us(unpack, packed)
        mark = "  <- onecsync" if level == ours else ""
        print(f"{level:>5}  {sum(map(len, plain)) / len(rows):>8,.0f} {plain_us:>6.1f}  "
              f"{sum(map(len, packed)) / len(rows):>8,.0f} {dict_us:>6.1f} {unpack_us:>10.1f}{mark}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("state", type=Path)
    ap.add_argument("--every", type=int, default=10)
    args = ap.parse_args()
    rows = sample(args.state, args.every)
    here = Path(payloads.__file__).parent
    print(f"{len(rows):,} payloads, {sum(map(len, rows)) / len(rows):,.0f} bytes each as stored "
          f"before (XML)")
    table("zlib", rows, zlib_codecs, (here / "payloads-1.zdict").read_bytes(), None)
    table("zstd", rows, zstd_codecs, (here / f"payloads-{payloads._CURRENT}.zstdict").read_bytes(),
          payloads.LEVEL)
    packed, pack_us = cpu_us(payloads.pack, rows)
    _, unpack_us = cpu_us(payloads.unpack, packed)
    print(f"payloads.pack: {sum(map(len, packed)) / len(rows):,.0f} B, {pack_us:.1f} µs; "
          f"unpack {unpack_us:.1f} µs (the dictionary's byte included)")


if __name__ == "__main__":
    main()
