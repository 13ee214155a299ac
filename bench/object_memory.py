"""Peak memory of reading one large body object: hostile shapes against a realistic document.

    python bench/object_memory.py [--mib 64] [SHAPE ...]

Each shape is one object of about MIB MiB (just under OBJECT_LIMIT by default, so that the byte
bound alone does not trim it) between two small ones, written to a temporary file and read by
`MessageReader` in a fresh process; printed: the objects read, how the large one ended (its
problem, cut), the peak RSS (ru_maxrss of that process), its CPU seconds and the wall. Shapes:
`flat` (`<a/>` repeated), `deep` (groups of `<a>` nested 200 deep), `text` (`<a>x</a>`), `attrs`
(elements of 9,000 empty attributes), `rows`
(a sale with rows of about 50 elements, as 1C writes them). Figures only: nothing here passes or
fails on them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import factory as f  # noqa: E402

SHAPES = {
    "flat": lambda i: b"<a/>" * 1000,
    "deep": lambda i: b"<a>" * 200 + b"</a>" * 200,
    "text": lambda i: b"<a>x</a>" * 500,
    # Few `<`, each under the per-element cap of attributes (review R5 H1).
    "attrs": lambda i: b"<a " + b" ".join(b'a%d=""' % k for k in range(9000)) + b"/>",
    "rows": lambda i: f.GOODS_ROW.format(i=i % 1000).encode(),
}

CHILD = """
import json, resource, sys, time
from onecsync.protocol.reader import MessageReader
t, c = time.perf_counter(), time.process_time()
with open(sys.argv[1], "rb") as fh:
    objs = list(MessageReader(fh, "big.xml").objects())
wall, cpu = time.perf_counter() - t, time.process_time() - c
big = objs[1]
print(json.dumps({"objects": len(objs), "ref": big.ref, "stub": len(big.xml), "problem": big.problem,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                  "cpu": round(cpu, 1), "wall": round(wall, 1)}))
"""


def write(shape: str, mib: int, folder: str) -> Path:
    path = Path(folder) / f"{shape}.xml"
    sale = f.sale(f.ref(1), None)
    head = sale.encode().split("</Документ.РеализацияТоваровУслуг>".encode())[0]
    before, after = f.Msg(objects=[f.currency(f.ref(2)), "@@", f.currency(f.ref(3))]).xml() \
        .split(b"@@")
    budget = mib * (1 << 20) - len(head) - 64
    with open(path, "wb") as out:
        out.write(before + head + "<Товары>".encode())
        i = 0
        while budget > 0:
            part = SHAPES[shape](i)
            out.write(part)
            budget -= len(part)
            i += 1
        out.write("</Товары></Документ.РеализацияТоваровУслуг>".encode() + after)
    return path


def measure(shape: str, mib: int, folder: str) -> dict:
    """One object of `shape` read in a fresh process: what it made of it, and what it cost."""
    path = write(shape, mib, folder)
    tags = path.read_bytes().count(b"<")
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True,
                         text=True, cwd=str(ROOT), check=True)
    path.unlink()
    return {"tags": tags, **json.loads(out.stdout)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=63)
    ap.add_argument("shapes", nargs="*", default=list(SHAPES))
    args = ap.parse_args()
    print("load average", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"{'shape':>6} {'MiB':>4} {'tags':>10} {'stub':>9} {'peak RSS MiB':>12} {'CPU s':>6} "
          f"{'wall s':>6}  problem")
    with tempfile.TemporaryDirectory() as folder:
        for shape in args.shapes:
            m = measure(shape, args.mib, folder)
            print(f"{shape:>6} {args.mib:>4} {m['tags']:>10} {m['stub']:>9} {m['rss']:>12} "
                  f"{m['cpu']:>6} {m['wall']:>6}  {(m['problem'] or '-')[:70]}")

if __name__ == "__main__":
    main()
