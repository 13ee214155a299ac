"""Keep what we refused: a private copy of each rejected message with its reason, and the memory
that reports the same file once instead of on every run. A file the base may still be writing is
not rejected until it has settled: that patience is settling.py's (its `<base>.pending` lives in
the same folder).

Public API: `Quarantine(config, dry_run)` with `known`, `rejected` (check, status) and `guard`,
each of `(peer, incoming)`; `quarantine_dir(state_path)`, `due(last, now, every)`,
`HEAD_LIMIT`, `REMIND_AFTER`, `MAX_ENTRIES`.

Layout: `quarantine/` beside the state file (0700) holds, per rejected file, `<stem>.json` (the
reason, where the file was, its size and identity) and the file as the transport delivered it
(`<stem>.xml` or `.zip`), or only its first MiB (`<stem>.xml.head`) when it is larger; and, per
base, `<base>.pending` while its message looks unfinished; all 0600.

Identity: a file is remembered by its size and the sha256 of all of it, computed while the copy
is made (the one time a rejected file is read to its end; one over messagefiles.MAX_FILE, refused
by its size, by its size and first and last MiB, never read whole), plus the transport
fingerprint as a fast path: a file whose size, modification time and first and last 64 KiB are those of the
rejected one is not read again. Any other file of the same size is hashed whole and compared, so
a file rewritten or completed in place is read again, while the same bytes touched (or copied
again) are still known. The memory also records a digest of what judged the file (our code, the
base's code, the versions we offer, where the archive password comes from — never the password —,
onecsync's version): after such a change (say, the version the base writes was added to
`node.formats`) the file is examined again. Deleting its `.json` does the same.

Exit codes, decided for cron: the run that first rejects a file exits 5 with one error line, so
cron (or systemd's OnFailure=) tells the admin that the exchange with that base is stuck. Later
runs that find the same file skip it with one warning line and exit 0: nothing new happened, and a
mail every 5 minutes trains people to ignore onecsync's mail. So that a stuck exchange is never
silent for long, the rejection is reported again (exit 5) once every `REMIND_AFTER`. The --json
report carries `rejected_before` on every run the file is skipped.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Iterator

from onecsync import __version__
from onecsync import stopping
from onecsync.config import Config
from onecsync.config import DirectoryConfig
from onecsync.config import FtpConfig
from onecsync.errors import MessageRejected
from onecsync.errors import OnecsyncError
from onecsync.errors import TemporaryError
from onecsync.files import private_folder
from onecsync.files import write_private
from onecsync.messagefiles import MAX_FILE
from onecsync.places import QUARANTINE_FOLDER
from onecsync.settling import Patience
from onecsync.settling import now
from onecsync.settling import parse_time
from onecsync.settling import unfinished
from onecsync.signature import signature
from onecsync.text import json_bytes
from onecsync.transport.base import Incoming
from onecsync.transport.base import delivered_size

log = logging.getLogger("onecsync")

HEAD_LIMIT = 1 << 20
REMIND_AFTER = datetime.timedelta(hours=24)
# A base that writes a new broken message every few minutes must not fill the disk: only the
# newest entries are kept (the base's folder holds one current message anyway).
MAX_ENTRIES = 50
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,5}$")


def quarantine_dir(state_path: Path) -> Path:
    return state_path.parent / QUARANTINE_FOLDER


def due(last: datetime.datetime | None, now: datetime.datetime,
        every: datetime.timedelta) -> bool:
    """Is an alert (or a wait) kept at `last` due again? Never known, `every` past, or `last`
    in the future: a clock stepped back or a state copied from a host whose clock ran ahead
    would otherwise silence it until that time comes round."""
    return last is None or last > now or now - last >= every


def _problem(exc: MessageRejected) -> str:
    return str(exc).removeprefix(f"{exc.source}: " if exc.source else "")


def _identity(incoming: Incoming) -> tuple[bytes, int, str]:
    """The first HEAD_LIMIT bytes of the file as delivered, its size and the sha256 of all of
    it, read once, in bounded memory; of one over MAX_FILE, the sha256 of its size and first and
    last HEAD_LIMIT bytes (a sparse file of terabytes must not be read on every run)."""
    h = hashlib.sha256()
    whole = delivered_size(incoming) or 0
    with (incoming.raw or incoming.open)() as src:
        head = src.read(HEAD_LIMIT)
        if whole > MAX_FILE:
            src.seek(whole - HEAD_LIMIT)
            h.update(b"%d:" % whole + head + src.read(HEAD_LIMIT))
            return head, whole, h.hexdigest()
        h.update(head)
        size = len(head)
        while chunk := src.read(HEAD_LIMIT):
            h.update(chunk)
            size += len(chunk)
    return head, size, h.hexdigest()


class _Entry:
    def __init__(self, path: Path, data: dict) -> None:
        self.path = path
        self.data = data

    def same_file(self, size: int, sha: str) -> bool:
        return self.data.get("size") == size and self.data.get("sha256") == sha


class Quarantine:
    def __init__(self, config: Config, dry_run: bool = False) -> None:
        self.folder = quarantine_dir(config.state)
        self.dry_run = dry_run
        self._contexts = {
            name: signature([__version__, config.node.code, base.code, list(config.node.formats),
                             config.node.exchange_plan, repr(base.transport.archive_password),
                             base.transport.max_message_mib])[:16]
            for name, base in config.bases.items()}
        # Only the kinds whose messages settle (Incoming.settles) wait for one to settle.
        self._patience = Patience(self.folder, {
            name: datetime.timedelta(minutes=base.transport.settle_minutes)
            for name, base in config.bases.items()
            if isinstance(base.transport, (DirectoryConfig, FtpConfig))}, dry_run)

    # -- memory --------------------------------------------------------------------------
    def _entries(self, peer: str | None = None) -> list[_Entry]:
        try:
            paths = sorted(self.folder.glob("*.json"))
        except OSError:
            return []
        out = []
        for p in paths:
            try:
                data = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # unreadable or half-edited by a human: as if forgotten
            if isinstance(data, dict) and (peer is None or data.get("peer") == peer):
                out.append(_Entry(p, data))
        return out

    def rejected(self, peer: str, incoming: Incoming, read: bool = True) -> _Entry | None:
        """This file's entry if rejected under the same settings (`read`: hash to tell); no write."""
        entries = [e for e in self._entries(peer) if e.data.get("context") == self._contexts[peer]]
        match = next((e for e in entries if e.data.get("fingerprint") == incoming.fingerprint), None)
        if match is not None or not entries or not read:
            return match
        try:
            size = delivered_size(incoming)
            if size is not None and not any(e.data.get("size") == size for e in entries):
                return None  # no file of this size was rejected: nothing to hash
            _, size, sha = _identity(incoming)
        except (OSError, OnecsyncError):
            return None  # the parse that follows names the problem
        return next((e for e in entries if e.same_file(size, sha)), None)

    def known(self, peer: str, incoming: Incoming) -> dict | None:
        """If this very file was rejected before, under the same settings: None for a file to
        examine; a report (and a warning) for one to skip; raises again once every REMIND_AFTER."""
        if (match := self.rejected(peer, incoming)) is None:
            return None
        if match.data.get("fingerprint") != incoming.fingerprint:
            match.data["fingerprint"] = incoming.fingerprint  # touched, same bytes
            self._save(match)
        data = match.data
        at = now()
        if due(parse_time(data.get("reported_at")), at, REMIND_AFTER):
            data["reported_at"] = at.isoformat()
            self._save(match)
            raise MessageRejected(
                f"still rejected since {data.get('first_seen', '?')}: {data.get('reason', '?')}",
                source=incoming.name,
                remedy=f"the exchange with the {peer} base is stuck until it writes a new message; "
                       f"the copy and the reason are in {match.path}")
        log.warning("%s: %s was rejected on %s (%s); skipped until the base writes a new "
                    "message; see %s", peer, incoming.name, data.get("first_seen", "?"),
                    data.get("reason", "?"), match.path)
        return {"rejected_before": data.get("first_seen"), "reason": data.get("reason"),
                "quarantine": str(match.path)}

    # -- keeping -------------------------------------------------------------------------
    @contextlib.contextmanager
    def guard(self, peer: str, incoming: Incoming) -> Iterator[None]:
        """Around the reading of a message: a rejection is kept (or, for a file that looks
        unfinished, raises NotYet until it has settled); a failed read is temporary."""
        try:
            yield
        except MessageRejected as exc:
            stopping.check()  # a stop lxml reported as a parse error: the message is not to blame
            try:
                why = unfinished(incoming, exc)
            except OSError:
                why = None
            if why is not None:
                self._patience.wait(peer, incoming, _problem(exc), why)
            self._keep(peer, incoming, exc)
            raise
        except OSError as exc:  # the share went away in the middle of the file
            raise TemporaryError(f"{incoming.name}: reading failed: {exc.strerror or exc}") \
                from None
        else:
            self._patience.forget(peer)

    def _keep(self, peer: str, incoming: Incoming, exc: MessageRejected) -> None:
        if self.dry_run:
            return
        self._patience.forget(peer)
        try:
            head, size, sha = _identity(incoming)
            private_folder(self.folder)
            at = now().isoformat()
            old = next((e for e in self._entries(peer) if e.same_file(size, sha)), None)
            if old is not None:
                entry = old
            else:
                stem = f"{at[:19].replace(':', '').replace('-', '')}-{peer}-{sha[:12]}"
                suffix = Path(incoming.name).suffix
                suffix = suffix.lower() if _SUFFIX.match(suffix) else ".bin"
                copy = self.folder / (stem + suffix + (".head" if size > len(head) else ""))
                write_private(copy, head)
                entry = _Entry(self.folder / f"{stem}.json",
                               {"peer": peer, "file": incoming.name, "size": size, "sha256": sha,
                                "sha256_of": "the file" if size <= MAX_FILE else
                                "its size and first and last MiB", "copy": copy.name, "first_seen": at})
            entry.data.update(reason=_problem(exc), fingerprint=incoming.fingerprint,
                              context=self._contexts[peer], reported_at=at)
            self._save(entry)
            self._prune(peer)
        except (OSError, OnecsyncError) as err:
            log.warning("%s: could not keep a copy of the rejected %s in %s: %s; it will be "
                        "reported again on the next run", peer, incoming.name, self.folder,
                        getattr(err, "strerror", None) or err)
            return
        log.info("%s: the rejected message is kept in %s", peer, entry.path)

    def _save(self, entry: _Entry) -> None:
        if self.dry_run:
            return
        try:
            write_private(entry.path, json_bytes(entry.data, indent=1))
        except OSError as err:
            log.warning("cannot update %s: %s", entry.path, err.strerror or err)

    @staticmethod
    def _age(entry: _Entry) -> tuple:
        try:
            written = entry.path.stat().st_mtime_ns
        except OSError:
            written = 0
        return str(entry.data.get("reported_at", "")), written

    def _prune(self, peer: str) -> None:
        entries = sorted(self._entries(peer), key=self._age)
        for e in entries[:-MAX_ENTRIES] if len(entries) > MAX_ENTRIES else []:
            for p in (self.folder / str(e.data.get("copy", "")), e.path):
                if p.parent == self.folder and p != self.folder:
                    with contextlib.suppress(OSError):
                        p.unlink()
