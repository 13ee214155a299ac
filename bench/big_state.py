"""Grow a state a first run left K times by SQL, to measure what cron and an admin pay on a big one.

Usage: python bench/big_state.py STATE_FILE K

A first run of a million objects takes half an hour or more; the reads that a nothing-new `run`
and `status` make (index ranges and seeks) only need the rows. Every row of the objects' tables
(inbox with its payloads, links and versions, registrations) is copied K - 1 times with new ids
and a Ссылка made unique (its last 8 characters the copy's number), so that the copy has the
same mix of statuses, types, messages and confirmations as the state it came from. The journal
is left as it is. Seconds per million rows; the state is then K times larger on disk.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path


def grow(path: Path, k: int) -> float:
    """Copy the objects' rows of the state at `path` so that it holds K times as many; seconds."""
    started = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA cache_size = -200000")
    n = db.execute("SELECT coalesce(max(id), 0) FROM inbox").fetchone()[0]
    m = db.execute("SELECT coalesce(max(id), 0) FROM registrations").fetchone()[0]
    inbox = [r[1] for r in db.execute("PRAGMA table_info(inbox)")]
    regs = [r[1] for r in db.execute("PRAGMA table_info(registrations)")]
    db.execute("BEGIN")
    for i in range(1, k):
        ref = f"substr(ref, 1, length(ref) - 8) || printf('%08d', {i})"
        moved = {"id": f"id + {i * n}", "ref": ref}
        cols = ", ".join(moved.get(c, c) for c in inbox)
        # The trigger versions_new writes each copy's version row, as staging does.
        db.execute(f"INSERT INTO inbox ({', '.join(inbox)}) SELECT {cols} FROM inbox WHERE id <= {n}")
        db.execute(f"INSERT INTO inbox_payloads SELECT inbox_id + {i * n}, xml FROM inbox_payloads "
                   f"WHERE inbox_id <= {n}")
        db.execute(f"INSERT INTO inbox_links SELECT inbox_id + {i * n}, ref FROM inbox_links "
                   f"WHERE inbox_id <= {n}")
        moved = {"id": f"id + {i * m}", "inbox_id": f"inbox_id + {i * n}", "ref": ref}
        cols = ", ".join(moved.get(c, c) for c in regs)
        db.execute(f"INSERT INTO registrations ({', '.join(regs)}) SELECT {cols} FROM registrations "
                   f"WHERE id <= {m}")
        db.execute(f"INSERT INTO registration_payloads SELECT registration_id + {i * m}, xml FROM "
                   f"registration_payloads WHERE registration_id <= {m}")
    db.execute("COMMIT")
    db.close()
    return time.perf_counter() - started


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    secs = grow(Path(sys.argv[1]), int(sys.argv[2]))
    print(f"grown {sys.argv[2]}× in {secs:.1f} s")
