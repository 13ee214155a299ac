"""The base's long operations over HTTP (its export for us, its import of ours), waited for
across runs instead of started again.

Public API: `Operations(transport_url, client, spool, wait_timeout, sleep)` with
`wait(kind, operation_id, keep)` and `pending(kind)`; `EXPORT`, `IMPORT`, `RESUME_RUNS`.

1C runs an UploadData or DownloadData that takes long as a background job and answers its
OperationID at once; GetContinuousOperationStatus tells how it goes (1C's own client,
WaitingForTheOperationToComplete, polls it the same way). A run waits up to
transport.wait_timeout. One still running then is noted in the spool (its OperationID, and
what the transport needs to go on: the FileID of the export, the fingerprint of the message
imported), and the next run polls that same operation instead of starting another: a new export
would begin from scratch each run, and one that takes longer than wait_timeout would never be
read, nor an import ever confirmed. After RESUME_RUNS runs that waited for it, it is given up
with one line that says so (exit 3: only a human can make the base faster or the wait longer),
and the run after starts a new one.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from typing import Callable

from onecsync import answers
from onecsync.errors import ConfigError
from onecsync.errors import TemporaryError
from onecsync.httpclient import HttpClient
from onecsync.httpclient import Refused
from onecsync.transport.spool import Spool

FIRST_POLL = 1.0
LONGEST_POLL = 15.0  # 1C polls every 15 s at first; we start faster for small messages
RESUME_RUNS = 12     # runs that wait for one operation before it is given up
EXPORT, IMPORT = "export of its message", "import of our message"
ID_LIMIT = 256      # an OperationID or FileID kept (1C's are UUIDs)
NOTES = {EXPORT: "http-export.json", IMPORT: "http-import.json"}
log = logging.getLogger("onecsync")


def _id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= ID_LIMIT


class Operations:
    def __init__(self, url: str, client: HttpClient, spool: Spool, wait_timeout: float,
                 sleep: Callable[[float], None]) -> None:
        self.url, self.client, self.spool = url, client, spool
        self.wait_timeout, self.sleep = wait_timeout, sleep

    def pending(self, kind: str) -> dict | None:
        """The operation of `kind` a run before left running: what `wait` was told to keep,
        with its "operation_id" and the "runs" that waited for it."""
        note = self.spool.note(NOTES[kind])
        # Ours, yet what the server named in it goes back to it: a note that is not one we
        # write (torn, edited) is no operation to wait for.
        if note is None or not _id(note.get("operation_id")) or not isinstance(note.get("runs"), int) \
                or not all(_id(note.get(k)) for k in ("file_id", "fingerprint") if k in note):
            return None
        return note

    def forget(self, kind: str) -> None:
        self.spool.write_note(NOTES[kind], {})

    def wait(self, kind: str, operation_id: Any, keep: dict) -> None:
        """Until the base's job ends; one still running after wait_timeout is noted with
        `keep` for the next run (TemporaryError), or given up after RESUME_RUNS runs."""
        if not _id(operation_id):
            raise TemporaryError(f"{self.url}: the base started the {kind} without an "
                                 "operation id")
        before = self.pending(kind)
        runs = before["runs"] if before and before["operation_id"] == operation_id else 0
        # Noted before the wait: a run stopped in it leaves the next one the same operation.
        self.spool.write_note(NOTES[kind], {**keep, "operation_id": operation_id, "runs": runs})
        try:
            waited = self._poll(kind, operation_id)
        except answers.Malformed:  # what the server says of it is not to be built on
            self.forget(kind)
            raise
        if waited is None:
            self.forget(kind)
            return
        runs += 1
        if runs >= RESUME_RUNS:
            self.forget(kind)
            raise ConfigError(f"{self.url}: the base's {kind} takes longer than {runs} runs "
                              f"of transport.wait_timeout ({self.wait_timeout:g} s each): "
                              "given up",
                              remedy="see why the base is that slow (its event log, Обмен "
                                     "данными), or raise transport.wait_timeout; the next run "
                                     "starts a new one")
        self.spool.write_note(NOTES[kind], {**keep, "operation_id": operation_id, "runs": runs})
        raise TemporaryError(f"{self.url}: the base is still busy with the {kind} after "
                             f"{waited:g} s (run {runs} of at most {RESUME_RUNS} that wait "
                             "for it)",
                             remedy="the next run waits for the same one; raise transport."
                                    "wait_timeout if the base is just slow")

    def _poll(self, kind: str, operation_id: str) -> float | None:
        """Poll until the job ends (None) or wait_timeout passes (the seconds waited); a job
        that failed raises, and is forgotten (a base that does not answer is not)."""
        waited, delay = 0.0, FIRST_POLL
        # The whole wait is bounded by the clock, not only by the sum of the pauses: each poll
        # may itself take up to read_timeout.
        end = time.monotonic() + self.wait_timeout
        while waited < self.wait_timeout and time.monotonic() < end:
            self.sleep(delay)
            waited += delay
            delay = min(delay * 2, LONGEST_POLL)
            try:
                answer = self.client.json("GET", "v1/GetContinuousOperationStatus",
                                          params={"OperationID": operation_id}, safe=True,
                                          schema=answers.OPERATION_STATUS,
                                          name="GetContinuousOperationStatus")
            except Refused as exc:
                self.forget(kind)
                raise TemporaryError(f"{self.url}: the base failed the {kind}: "
                                     f"{' '.join(exc.message.split())[:400]}",
                                     remedy="see the base's event log (Обмен данными); the "
                                            "next run tries again") from None
            state = answer["ActionState"]
            if state == "Completed":
                return None
            if state != "Active":
                self.forget(kind)
                detail = answer.get("Message") or "no details"
                raise TemporaryError(f"{self.url}: the base's {kind} ended {state or '?'}: "
                                     f"{' '.join(str(detail).split())[:400]}",
                                     remedy="see the base's event log (Обмен данными); the "
                                            "next run tries again")
            log.debug("%s: %s still running after %g s", self.url, kind, waited)
        return waited
