"""The patience for a message the base may still be writing: why a file that failed to read may
be unfinished, and the wait, remembered per base in `<base>.pending`, until it has settled.

Public API: `unfinished(incoming, exc)`, `Patience(folder, settle, dry_run)` with
`wait(peer, incoming, reason, why)` and `forget(peer)`, `NotYet`, `GROWING_FOR`, `NUL_TAIL`;
`now()` and `parse_time(text)`, the times kept in the quarantine folder's files (quarantine.py
keeps the rejected files there).

1C writes a large message for many minutes, in place. A file that ends early (its XML, or a
zip without its end record), that ends in NUL bytes (space a copy reserved before filling it)
or that changed while it was read is not rejected: the run notes it and exits 0, and
`<base>.pending` remembers its fingerprint and when it was first seen so. Only once the same
file has stayed so for the transport's `settle_minutes` (or, changing under its name without
ever completing, another writer's, for GROWING_FOR times that) is it rejected like any other. A
complete, valid file is taken at once; a complete, broken one at once rejected. The memory lives
in the quarantine folder, not in the state, because it is about a file of the base, not about
the exchange: losing it only restarts the wait, and bad input still leaves the state untouched.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
from pathlib import Path

from onecsync import clock
from onecsync.errors import MessageRejected
from onecsync.files import private_folder
from onecsync.files import write_private
from onecsync.i18n import N_
from onecsync.messagefiles import MAX_FILE
from onecsync.text import json_bytes
from onecsync.transport.base import Incoming
from onecsync.transport.base import delivered_size

log = logging.getLogger("onecsync")

NUL_TAIL = 8
# A base writes a large message for minutes, growing it: a file that changes under one name yet
# looks unfinished for this many settle times is another writer's, and is judged as it is.
GROWING_FOR = 6


def now() -> datetime.datetime:
    return clock.utc_now().replace(microsecond=0)


def parse_time(text: str | None) -> datetime.datetime | None:
    try:
        t = datetime.datetime.fromisoformat(text or "") if isinstance(text, str) else None
    except ValueError:
        return None
    # A time kept without its zone (edited by hand) is UTC, as we write them: never a crash.
    return t.replace(tzinfo=datetime.timezone.utc) if t is not None and t.tzinfo is None else t


class NotYet(Exception):
    """The message looks unfinished: not rejected (yet); `report` is for the run report."""

    def __init__(self, report: dict) -> None:
        super().__init__(report.get("reason"))
        self.report = report


def _ends_in_nul(incoming: Incoming) -> bool:
    """Does the file end in a run of NUL bytes (space a copy set aside before filling it; no
    text encoding ends so, not even UTF-16)?"""
    if incoming.raw is None:
        return False
    with incoming.raw() as src:
        try:
            src.seek(-NUL_TAIL, os.SEEK_END)
        except OSError:
            return False
        return src.read(NUL_TAIL) == bytes(NUL_TAIL)


def unfinished(incoming: Incoming, exc: MessageRejected) -> str | None:
    """Why a rejected file may be one the base is still writing (None: it is simply bad)."""
    if not incoming.settles or exc.oversize or (delivered_size(incoming) or 0) > MAX_FILE:
        return None  # refused by its size: whatever it ends in, it is final
    if exc.ends_early:
        return N_("it ends early")
    if incoming.current is not None and incoming.current() != incoming.fingerprint:
        return N_("it changed while it was read")
    if not incoming.name.lower().endswith(".zip") and _ends_in_nul(incoming):
        return N_("it ends in NUL bytes, as a file being filled does")  # (a zip: its end record)
    return None


class Patience:
    """The wait of each base's unfinished-looking file, kept in `folder`; `settle`: how long
    each base's kind of transport waits (only those whose messages settle are there)."""

    def __init__(self, folder: Path, settle: dict[str, datetime.timedelta],
                 dry_run: bool = False) -> None:
        self.folder = folder
        self.settle = settle
        self.dry_run = dry_run

    def _pending(self, peer: str) -> Path:
        return self.folder / f"{peer}.pending"

    def wait(self, peer: str, incoming: Incoming, reason: str, why: str) -> None:
        """Raise NotYet unless this very file has looked unfinished for the settle time."""
        settle = self.settle[peer]
        at = now()
        try:
            fp = incoming.current() if incoming.current is not None else incoming.fingerprint
        except OSError:
            fp = incoming.fingerprint
        data: object = {}
        with contextlib.suppress(OSError, ValueError):  # unreadable: the wait begins again
            data = json.loads(self._pending(peer).read_text(encoding="utf-8"))
        data = data if isinstance(data, dict) else {}
        first = parse_time(data.get("first_seen")) if data.get("fingerprint") == fp else None
        # Since when this name has looked unfinished, however it changed meanwhile.
        same = data.get("file") == incoming.name
        times = [parse_time(data.get(k)) for k in ("since", "first_seen") if same]
        since = min([t for t in times if t is not None and t <= at], default=at)
        if first is None or first > at:  # a new file, or a clock set back: the wait begins
            first = at
            if settle and not self.dry_run:
                try:
                    private_folder(self.folder)
                    write_private(self._pending(peer), json_bytes(
                        {"file": incoming.name, "fingerprint": fp, "first_seen": at.isoformat(),
                         "since": since.isoformat(), "reason": reason}))
                except OSError as err:
                    log.warning("cannot update %s: %s", self._pending(peer), err.strerror or err)
        if at - first >= settle:
            if settle:
                log.info("%s: %s has stayed unfinished since %s: judged as it is", peer,
                         incoming.name, first.isoformat())
            return
        if at - since >= GROWING_FOR * settle:  # (settle 0 has returned above)
            log.info("%s: %s has kept changing without completing since %s: judged as it is",
                     peer, incoming.name, since.isoformat())
            return
        minutes = f"{settle.total_seconds() / 60:g}"
        log.warning("%s: %s is not complete yet (%s: %s); the base may still be writing it. It is "
                    "read again on the next run, and rejected if it stays so for %s minutes "
                    "(since %s)", peer, incoming.name, why, reason, minutes, first.isoformat())
        raise NotYet({"incomplete": True, "since": first.isoformat(), "why": why,
                      "reason": reason, "settle_minutes": float(minutes)})

    def forget(self, peer: str) -> None:
        if not self.dry_run:
            with contextlib.suppress(OSError):
                self._pending(peer).unlink()
