"""What the headers of the base's files beside its newest one cost a directory run (task T4 #3).

Usage: python bench/candidate_heads.py [--objects 2000] [--runs 200]

A folder holds the base's newest message and N older ones under other prefixes (N = 0, 8, 40:
8 is theirs.PEEKED, the most a run peeks at), each a message of --objects counterparties, as
.xml and as .zip. Printed: the CPU time of one `DirectoryTransport.fetch()` (list, choose, peek,
fingerprint) and close, the mean over --runs, with the headers read every time (no spool: as
`check`, and every run before) and kept in the spool's heads.json (a run after the first),
beside a process that only starts, for scale. Figures only: no assertion (a shared machine's load skews them).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from onecsync.transport.directory import DirectoryTransport  # noqa: E402
from onecsync.transport.spool import Spool  # noqa: E402
from tests import factory as f  # noqa: E402


def folder(root: Path, older: int, objects: int, zipped: bool) -> Path:
    where = root / f"{older}-{'zip' if zipped else 'xml'}"
    where.mkdir()
    xml = f.Msg(objects=[f.counterparty(f.ref(i), f"ООО {i}", "7701234567")
                         for i in range(objects)]).xml()
    for i in range(older + 1):
        name = f"Message_p{i:02}_{f.ACCOUNTING}_{f.NODE}" + (".zip" if zipped else ".xml")
        path = where / name
        if zipped:
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(Path(name).with_suffix(".xml").name, xml)
        else:
            path.write_bytes(xml)
        os.utime(path, ns=(10**18 + i * 10**9,) * 2)  # the last one newest
    return where


def fetch_cpu(where: Path, runs: int, spool: Spool | None) -> float:
    transport = DirectoryTransport(where, f.NODE, (f.ACCOUNTING,), compress=False, spool=spool)
    start = time.process_time()
    for _ in range(runs):
        incoming = transport.fetch()
        assert incoming is not None
        incoming.close()
    return (time.process_time() - start) / runs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        size = None
        for zipped in (False, True):
            for older in (0, 8, 40):
                where = folder(root, older, args.objects, zipped)
                size = size or (where / os.listdir(where)[0]).stat().st_size
                unkept = fetch_cpu(where, args.runs, None) * 1000
                spool = Spool(root / f"spool-{older}-{zipped}")
                fetch_cpu(where, 1, spool)  # the first run reads and keeps them
                kept = fetch_cpu(where, args.runs, spool) * 1000
                print(f"{'zip' if zipped else 'xml'}: newest + {older:2} older: fetch "
                      f"{unkept:6.2f} ms CPU read every time, {kept:6.2f} ms kept (heads.json)")
        print(f"(each .xml {size} bytes)")
        start, t0 = os.times(), time.perf_counter()
        subprocess.run([sys.executable, "-m", "onecsync", "--version"], check=True,
                       capture_output=True)
        end = os.times()
        cpu = end.children_user + end.children_system - start.children_user \
            - start.children_system
        print(f"for scale: `onecsync --version`, a process that only starts: {cpu * 1000:.0f} "
              f"ms CPU, {(time.perf_counter() - t0) * 1000:.0f} ms wall")


if __name__ == "__main__":
    main()
