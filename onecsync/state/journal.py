"""The run journal: one row per run, how it ended and what it reported, kept for a while.

Public API: `Journal` (as `State.journal`), `DIED`, `UNRECORDED`, `KEEP_RUNS`, `KEEP_RUN_DAYS`.
"""

from __future__ import annotations

import datetime
import json
import logging
import sqlite3

from onecsync import clock
from onecsync.i18n import N_
from onecsync.runs import RunReport
from onecsync.state.failures import sqlite_failure
from onecsync.state.table import Table
from onecsync.state.table import now_text
from onecsync.stored import BadValue
from onecsync.stored import stored_json
from onecsync.stored import typed

log = logging.getLogger("onecsync")

# The run journal keeps this many runs or days, whichever keeps less.
KEEP_RUNS = 10000
KEEP_RUN_DAYS = 30
# What each column of a journal row holds (a row that holds anything else is left out).
_COLUMNS: dict[str, type | tuple[type, ...]] = {
    "command": str, "started_at": str, "ended_at": (str, type(None)),
    "exit_code": (int, type(None)), "error": (str, type(None))}
# What the journal says of a run that never got to say how it ended.
DIED = N_("died: ended without a word (killed with SIGKILL, out of memory, or the machine stopped)")
# ... and of one that ended (its lock says so) with its record unwritten: its exit code is lost.
UNRECORDED = N_("ended, but its record could not be written (the state's disk was full, or the state "
                "failed): its error output said how it ended")


class Journal(Table):
    def begin(self, command: str, ended_before: tuple[int, str] | None = None) -> int:
        """A row for the run; `ended_before`: (row, end) the last run's lock says it ended."""
        with self._state.atomic():
            if ended_before is not None:
                self.conn.execute("UPDATE runs SET ended_at = ?, error = ? WHERE id = ? AND "
                                  "ended_at IS NULL AND error IS NULL",
                                  (ended_before[1], UNRECORDED, ended_before[0]))
            # The caller holds the run lock: a run the journal has not seen end died (SIGKILL,
            # the OOM killer, a power cut). Its exit code stays unknown.
            self.conn.execute("UPDATE runs SET error = ? WHERE ended_at IS NULL AND error IS NULL",
                              (DIED,))
            cur = self.conn.execute("INSERT INTO runs (command, started_at) VALUES (?, ?)",
                                    (command, now_text()))
        assert cur.lastrowid is not None  # an INSERT names its row
        return cur.lastrowid

    def end(self, run_id: int, exit_code: int, report: dict | None, error: str | None) -> None:
        try:
            with self._state.atomic():
                self.conn.execute(
                    "UPDATE runs SET ended_at = ?, exit_code = ?, counts = ?, error = ? "
                    "WHERE id = ?",
                    (now_text(), exit_code, _utf8(json.dumps(report, ensure_ascii=False))
                     if report is not None else None, _utf8(error), run_id))
                # Under cron for years: keep 30 days or 10,000 runs, whichever keeps less.
                since = (clock.utc_now()
                         - datetime.timedelta(days=KEEP_RUN_DAYS)).isoformat(timespec="seconds")
                self.conn.execute("DELETE FROM runs WHERE id <= ? - ? OR started_at < ?",
                                  (run_id, KEEP_RUNS, since))
        except sqlite3.Error as exc:  # the journal must never mask the run's own outcome
            raise sqlite_failure(exc, self.path) from None

    def finished(self) -> int:
        """Runs that ended with an exit code (a run that died has none)."""
        return self.conn.execute("SELECT count(*) FROM runs WHERE exit_code IS NOT NULL").fetchone()[0]

    def started_back(self, runs: int) -> str | None:
        """When the run `runs` runs before the latest started (0: the latest), or None."""
        row = self.conn.execute("SELECT started_at FROM runs ORDER BY started_at DESC LIMIT 1 "
                                "OFFSET ?", (runs,)).fetchone()
        return row[0] if row else None

    def last(self, limit: int = 10) -> list[dict]:
        """The last `limit` runs, newest first. The journal is history, nothing the exchange
        depends on: a row damaged in the file (edited by hand, a bad restore) is left out with
        a warning naming it, so that `status` and `state export` still show the rest."""
        cur = self.conn.execute(
            "SELECT id, command, started_at, ended_at, exit_code, counts, error FROM runs "
            "ORDER BY id DESC LIMIT ?", (limit,))
        cols = [d[0] for d in cur.description]
        out = []
        for row in cur:
            item = dict(zip(cols, row, strict=True))
            try:
                out.append(_checked(item))
            except BadValue as exc:
                log.warning("run journal row %s is damaged: %s; it is left out", item["id"], exc)
        return out


def _checked(item: dict) -> dict:
    """The row `item` with its report parsed, or BadValue naming what is wrong with it."""
    for col, kinds in _COLUMNS.items():
        typed(item[col], kinds, col)
    # `id` is the rowid: always an integer. An empty report is none.
    if item["counts"]:
        item["counts"] = stored_json(item["counts"], "its report")
        RunReport.from_json(item["counts"])  # what `status` reads of it, checked here
    else:
        item["counts"] = None
    return item


def _utf8(text: str | None) -> str | None:
    """Text SQLite can store: a file name that is not UTF-8 reaches an error line as lone
    surrogates, which would fail the journal's write (and the run with it) when escaped nowhere
    else."""
    return None if text is None else text.encode("utf-8", "backslashreplace").decode("utf-8")
