"""Write the preset dictionary that state payloads are deflated with (onecsync/state/payloads.py).

A payload is one object, 6 KB of XML whose tag names (Cyrillic, two bytes a letter) are most of
its bytes; deflated alone, each object pays for them again. A preset dictionary holding objects
as 1C writes them lets the first occurrence refer to it too: about half the size, and less CPU
(measured in README's Performance section). It is made from the real 1C message in
fixtures/exchange/accounting/, each object as the reader stores it, the last 32 KiB (deflate's
window) kept.

A dictionary file is never changed once shipped: payloads name theirs by its Adler-32, and
states made with it must stay readable. A better one is a new file with the next number.

    python tools/make_payload_dictionary.py [--out onecsync/state/payloads-N.zdict]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from onecsync.protocol.reader import MessageReader

REPO = Path(__file__).resolve().parents[1]
WINDOW = 32 * 1024


def dictionary() -> bytes:
    objects = []
    for path in sorted((REPO / "fixtures" / "exchange" / "accounting").glob("*.xml")):
        with path.open("rb") as f:
            objects += [o.xml for o in MessageReader(f, source=str(path)).objects()]
    return b"".join(objects)[-WINDOW:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if args.out.exists():
        raise SystemExit(f"{args.out} exists: a shipped dictionary is never rewritten")
    args.out.write_bytes(dictionary())


if __name__ == "__main__":
    main()
