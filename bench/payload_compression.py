"""How big a state's payloads are deflated at each zlib level, with and without the dictionary.

Usage: python bench/payload_compression.py STATE [--every 10]

Reads every `--every`-th payload of a state file (read-only; either layout) and prints, per
level, the mean deflated size and the CPU microseconds per object to deflate and to inflate it,
plainly and with onecsync's preset dictionary (onecsync/state/payloads.py). Figures only.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
import zlib
from pathlib import Path

from onecsync.state import payloads


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


def cpu_us(fn, data: list[bytes]) -> tuple[list[bytes], float]:
    """The output and the least CPU time per item of two passes (the machine is shared)."""
    best = float("inf")
    for _ in range(2):
        started = time.process_time()
        out = [fn(x) for x in data]
        best = min(best, time.process_time() - started)
    return out, best / len(data) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("state", type=Path)
    ap.add_argument("--every", type=int, default=10)
    args = ap.parse_args()
    rows = sample(args.state, args.every)
    zdict = (Path(payloads.__file__).parent / payloads._CURRENT).read_bytes()
    print(f"{len(rows):,} payloads, {sum(map(len, rows)) / len(rows):,.0f} bytes each as stored "
          f"before (XML)")
    print(f"{'level':>5}  {'plain B':>8} {'µs':>6}  {'dict B':>8} {'µs':>6} {'inflate µs':>10}")
    for level in range(1, 10):
        plain, plain_us = cpu_us(lambda x, lv=level: zlib.compress(x, lv), rows)
        primed = zlib.compressobj(level, zdict=zdict)

        def with_dict(x: bytes, z=primed) -> bytes:
            c = z.copy()
            return c.compress(x) + c.flush()

        packed, dict_us = cpu_us(with_dict, rows)
        _, inflate_us = cpu_us(lambda b: zlib.decompressobj(zdict=zdict).decompress(b), packed)
        mark = "  <- onecsync" if level == payloads.LEVEL else ""
        print(f"{level:>5}  {sum(map(len, plain)) / len(rows):>8,.0f} {plain_us:>6.1f}  "
              f"{sum(map(len, packed)) / len(rows):>8,.0f} {dict_us:>6.1f} {inflate_us:>10.1f}{mark}")


if __name__ == "__main__":
    main()
