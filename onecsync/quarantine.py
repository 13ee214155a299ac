"""Keep what we refused: a private copy of each rejected message with its reason, the memory
that reports the same file once instead of on every run, and the patience for a file the base is
still writing.

Public API: `Quarantine(config, dry_run)` with `known`, `rejected` (check, status) and `guard`,
each of `(peer, incoming)`; `NotYet`, `quarantine_dir(state_path)`, `due(last, now, every)`,
`HEAD_LIMIT`, `REMIND_AFTER`, `MAX_ENTRIES`, `GROWING_FOR`.

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

Not finished yet: 1C writes a large message for many minutes, in place. A file that ends early
(its XML, or a zip without its end record), that ends in NUL bytes (space a copy reserved before
filling it) or that changed while it was read is not rejected: the run notes it and exits 0, and
`<base>.pending` remembers its fingerprint and when it was first seen so. Only once the same
file has stayed so for the transport's `settle_minutes` (or, changing under its name without ever
completing, another writer's, for GROWING_FOR times that) is it rejected like any other. A
complete, valid file is taken at once; a complete, broken one at once rejected. The memory lives
here, not in the state, because it is about a file of the base, not about the exchange: losing it
only restarts the wait, and bad input still leaves the state untouched.

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
import os
import re
from pathlib import Path
from typing import Iterator

from onecsync import __version__
from onecsync import clock
from onecsync import stopping
from onecsync.config import Config
from onecsync.config import DirectoryConfig
from onecsync.config import FtpConfig
from onecsync.errors import MessageRejected
from onecsync.errors import OnecsyncError
from onecsync.errors import TemporaryError
from onecsync.files import replace_with
from onecsync.i18n import N_
from onecsync.messagefiles import MAX_FILE
from onecsync.places import QUARANTINE_FOLDER
from onecsync.signature import signature
from onecsync.text import json_bytes
from onecsync.transport.base import Incoming

log = logging.getLogger("onecsync")

HEAD_LIMIT = 1 << 20
REMIND_AFTER = datetime.timedelta(hours=24)
# A base that writes a new broken message every few minutes must not fill the disk: only the
# newest entries are kept (the base's folder holds one current message anyway).
MAX_ENTRIES = 50
NUL_TAIL = 8
# A base writes a large message for minutes, growing it: a file that changes under one name yet
# looks unfinished for this many settle times is another writer's, and is judged as it is.
GROWING_FOR = 6
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,5}$")


def quarantine_dir(state_path: Path) -> Path:
    return state_path.parent / QUARANTINE_FOLDER


def _now() -> datetime.datetime:
    return clock.utc_now().replace(microsecond=0)


def _parse_time(text: str | None) -> datetime.datetime | None:
    try:
        t = datetime.datetime.fromisoformat(text or "") if isinstance(text, str) else None
    except ValueError:
        return None
    # A time kept without its zone (edited by hand) is UTC, as we write them: never a crash.
    return t.replace(tzinfo=datetime.timezone.utc) if t is not None and t.tzinfo is None else t


def due(last: datetime.datetime | None, now: datetime.datetime,
        every: datetime.timedelta) -> bool:
    """Is an alert (or a wait) kept at `last` due again? Never known, `every` past, or `last`
    in the future: a clock stepped back or a state copied from a host whose clock ran ahead
    would otherwise silence it until that time comes round."""
    return last is None or last > now or now - last >= every


def _problem(exc: MessageRejected) -> str:
    return str(exc).removeprefix(f"{exc.source}: " if exc.source else "")


class NotYet(Exception):
    """The message looks unfinished: not rejected (yet); `report` is for the run report."""

    def __init__(self, report: dict) -> None:
        super().__init__(report.get("reason"))
        self.report = report


def _size(incoming: Incoming) -> int | None:
    """The size of the file as delivered, when it can be had without reading it."""
    if incoming.raw is None:
        return None
    with incoming.raw() as src:
        try:
            return os.fstat(src.fileno()).st_size
        except (AttributeError, OSError, ValueError):
            return None


def _identity(incoming: Incoming) -> tuple[bytes, int, str]:
    """The first HEAD_LIMIT bytes of the file as delivered, its size and the sha256 of all of
    it, read once, in bounded memory; of one over MAX_FILE, the sha256 of its size and first and
    last HEAD_LIMIT bytes (a sparse file of terabytes must not be read on every run)."""
    h = hashlib.sha256()
    whole = _size(incoming) or 0
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


def _unfinished(incoming: Incoming, exc: MessageRejected) -> str | None:
    """Why a rejected file may be one the base is still writing (None: it is simply bad)."""
    if not incoming.settles or exc.oversize or (_size(incoming) or 0) > MAX_FILE:
        return None  # refused by its size: whatever it ends in, it is final
    if exc.ends_early:
        return N_("it ends early")
    if incoming.current is not None and incoming.current() != incoming.fingerprint:
        return N_("it changed while it was read")
    if not incoming.name.lower().endswith(".zip") and _ends_in_nul(incoming):
        return N_("it ends in NUL bytes, as a file being filled does")  # (a zip: its end record)
    return None


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by us only, in full or not at all."""
    replace_with(path, lambda f: f.write(data), 0o600)


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
        self._settle = {name: datetime.timedelta(minutes=base.transport.settle_minutes)
                        for name, base in config.bases.items()
                        if isinstance(base.transport, (DirectoryConfig, FtpConfig))}

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
            size = _size(incoming)
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
        now = _now()
        if due(_parse_time(data.get("reported_at")), now, REMIND_AFTER):
            data["reported_at"] = now.isoformat()
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
                why = _unfinished(incoming, exc)
            except OSError:
                why = None
            if why is not None:
                self._wait(peer, incoming, exc, why)
            self._keep(peer, incoming, exc)
            raise
        except OSError as exc:  # the share went away in the middle of the file
            raise TemporaryError(f"{incoming.name}: reading failed: {exc.strerror or exc}") \
                from None
        else:
            self._forget_wait(peer)

    # -- not finished yet ----------------------------------------------------------------
    def _pending(self, peer: str) -> Path:
        return self.folder / f"{peer}.pending"

    def _wait(self, peer: str, incoming: Incoming, exc: MessageRejected, why: str) -> None:
        """Raise NotYet unless this very file has looked unfinished for the settle time."""
        settle = self._settle[peer]
        now = _now()
        try:
            fp = incoming.current() if incoming.current is not None else incoming.fingerprint
        except OSError:
            fp = incoming.fingerprint
        data: object = {}
        with contextlib.suppress(OSError, ValueError):  # unreadable: the wait begins again
            data = json.loads(self._pending(peer).read_text(encoding="utf-8"))
        data = data if isinstance(data, dict) else {}
        first = _parse_time(data.get("first_seen")) if data.get("fingerprint") == fp else None
        # Since when this name has looked unfinished, however it changed meanwhile.
        same = data.get("file") == incoming.name
        times = [_parse_time(data.get(k)) for k in ("since", "first_seen") if same]
        since = min([t for t in times if t is not None and t <= now], default=now)
        if first is None or first > now:  # a new file, or a clock set back: the wait begins
            first = now
            if settle and not self.dry_run:
                try:
                    self._ensure_folder()
                    _write_private(self._pending(peer), json_bytes(
                        {"file": incoming.name, "fingerprint": fp, "first_seen": now.isoformat(),
                         "since": since.isoformat(), "reason": _problem(exc)}))
                except OSError as err:
                    log.warning("cannot update %s: %s", self._pending(peer), err.strerror or err)
        if now - first >= settle:
            if settle:
                log.info("%s: %s has stayed unfinished since %s: judged as it is", peer,
                         incoming.name, first.isoformat())
            return
        if now - since >= GROWING_FOR * settle:  # (settle 0 has returned above)
            log.info("%s: %s has kept changing without completing since %s: judged as it is",
                     peer, incoming.name, since.isoformat())
            return
        minutes = f"{settle.total_seconds() / 60:g}"
        log.warning("%s: %s is not complete yet (%s: %s); the base may still be writing it. It is "
                    "read again on the next run, and rejected if it stays so for %s minutes "
                    "(since %s)", peer, incoming.name, why, _problem(exc), minutes,
                    first.isoformat())
        raise NotYet({"incomplete": True, "since": first.isoformat(), "why": why,
                      "reason": _problem(exc), "settle_minutes": float(minutes)})

    def _forget_wait(self, peer: str) -> None:
        if not self.dry_run:
            with contextlib.suppress(OSError):
                self._pending(peer).unlink()

    # -- keeping -------------------------------------------------------------------------
    def _keep(self, peer: str, incoming: Incoming, exc: MessageRejected) -> None:
        if self.dry_run:
            return
        self._forget_wait(peer)
        try:
            head, size, sha = _identity(incoming)
            self._ensure_folder()
            now = _now().isoformat()
            old = next((e for e in self._entries(peer) if e.same_file(size, sha)), None)
            if old is not None:
                entry = old
            else:
                stem = f"{now[:19].replace(':', '').replace('-', '')}-{peer}-{sha[:12]}"
                suffix = Path(incoming.name).suffix
                suffix = suffix.lower() if _SUFFIX.match(suffix) else ".bin"
                copy = self.folder / (stem + suffix + (".head" if size > len(head) else ""))
                _write_private(copy, head)
                entry = _Entry(self.folder / f"{stem}.json",
                               {"peer": peer, "file": incoming.name, "size": size, "sha256": sha,
                                "sha256_of": "the file" if size <= MAX_FILE else
                                "its size and first and last MiB", "copy": copy.name, "first_seen": now})
            entry.data.update(reason=_problem(exc), fingerprint=incoming.fingerprint,
                              context=self._contexts[peer], reported_at=now)
            self._save(entry)
            self._prune(peer)
        except (OSError, OnecsyncError) as err:
            log.warning("%s: could not keep a copy of the rejected %s in %s: %s; it will be "
                        "reported again on the next run", peer, incoming.name, self.folder,
                        getattr(err, "strerror", None) or err)
            return
        log.info("%s: the rejected message is kept in %s", peer, entry.path)

    def _ensure_folder(self) -> None:
        self.folder.mkdir(mode=0o700, exist_ok=True)
        if self.folder.stat().st_mode & 0o077:
            os.chmod(self.folder, 0o700)

    def _save(self, entry: _Entry) -> None:
        if self.dry_run:
            return
        try:
            _write_private(entry.path, json_bytes(entry.data, indent=1))
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
