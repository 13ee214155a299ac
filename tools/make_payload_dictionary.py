"""Write a dictionary that state payloads are compressed with (onecsync/state/payloads.py).

A payload is one object, 6 KB of XML whose tag names (Cyrillic, two bytes a letter) are most of
its bytes; compressed alone, each object pays for them again. A dictionary holding objects as
1C writes them lets the first occurrence refer to it too: about half the size, and less CPU
(bench/payload_compression.py). It is made from the real 1C messages in fixtures/exchange/, each
object as the reader stores it, never from the benchmark's generated message (a dictionary
fitted to that would flatter the figures, not serve the bases):

- `payloads-N.zstdict` (what new payloads use): every object of every fixture message, both
  bases', as zstd's raw-content dictionary. All of it (75 KB) is within level 3's window; on the
  bench's message (checksums aside) it made 579 B an object, against 594 for accounting's alone,
  638 for their last 32 KiB and 756-961 for dictionaries zstd trains from these 19 objects;
- `payloads-N.zdict` (zlib, payloads-1 of the states before): accounting's objects, the last
  32 KiB kept (deflate's window).

A dictionary file is never changed once shipped: states made with it must stay readable (zlib
payloads name theirs by its Adler-32, zstd ones by N). A better one is a new file with the next N.

    python tools/make_payload_dictionary.py --out onecsync/state/payloads-N.zstdict
"""

from __future__ import annotations

import argparse
from pathlib import Path

from onecsync.protocol.reader import MessageReader

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exchange"
WINDOW = 32 * 1024


def objects(base: str) -> list[bytes]:
    out = []
    for path in sorted((FIXTURES / base).glob("*.xml")):
        with path.open("rb") as f:
            out += [o.xml for o in MessageReader(f, source=str(path)).objects()]
    return out


def dictionary(kind: str) -> bytes:
    if kind == ".zdict":
        return b"".join(objects("accounting"))[-WINDOW:]
    return b"".join(objects("accounting") + objects("crm"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="payloads-N.zstdict (or .zdict for zlib)")
    args = ap.parse_args()
    if args.out.suffix not in (".zstdict", ".zdict"):
        raise SystemExit(f"{args.out}: the name ends in .zstdict (or .zdict), which says its kind")
    if args.out.exists():
        raise SystemExit(f"{args.out} exists: a shipped dictionary is never rewritten")
    args.out.write_bytes(dictionary(args.out.suffix))


if __name__ == "__main__":
    main()
