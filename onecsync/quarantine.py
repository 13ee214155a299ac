"""Keep what we refused: a private copy of each rejected message with its reason, and the memory
that reports the same file once instead of on every run.

Public API: `Quarantine(config, dry_run)` with `known(peer, incoming)` and `guard(peer, incoming)`,
`quarantine_dir(state_path)`, `HEAD_LIMIT`, `REMIND_AFTER`, `MAX_ENTRIES`.

Layout: `quarantine/` beside the state file (0700) holds, per rejected file, `<stem>.json` (the
reason, where the file was, its size and identity) and the file as the transport delivered it
(`<stem>.xml` or `.zip`), or only its first MiB (`<stem>.xml.head`) when it is larger; all 0600.

Identity: a file is remembered by its size and the sha256 of its first MiB (for a file of at most
1 MiB, its plain sha256), plus the transport fingerprint as a fast path. Hashing all of a 2 GB
file just to remember it would read all of it; the first MiB of a 1C message holds its header
(number, creation date), so two different messages do not share it. The memory also records a
digest of what judged the file (our code, the base's code, the versions we offer, where the
archive password comes from — never the password —, onecsync's version): after such a change (say,
the version the base writes was added to `node.formats`) the file is examined again. Deleting its
`.json` does the same.

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
from onecsync.config import Config
from onecsync.errors import MessageRejected
from onecsync.errors import TemporaryError
from onecsync.transport.base import Incoming

log = logging.getLogger("onecsync")

HEAD_LIMIT = 1 << 20
REMIND_AFTER = datetime.timedelta(hours=24)
# A base that writes a new broken message every few minutes must not fill the disk: only the
# newest entries are kept (the base's folder holds one current message anyway).
MAX_ENTRIES = 50
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,5}$")


def quarantine_dir(state_path: Path) -> Path:
    return state_path.parent / "quarantine"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _parse_time(text: str | None) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(text or "")
    except ValueError:
        return None


def _problem(exc: MessageRejected) -> str:
    text = str(exc)
    prefix = f"{exc.source}: " if exc.source else ""
    return text[len(prefix):] if prefix and text.startswith(prefix) else text


def _read_head(incoming: Incoming) -> tuple[bytes, int]:
    """The first HEAD_LIMIT bytes of the file as delivered, and its whole size."""
    with (incoming.raw or incoming.open)() as src:
        head = src.read(HEAD_LIMIT)
        try:
            size = os.fstat(src.fileno()).st_size
        except (AttributeError, OSError, ValueError):
            size = len(head)
            while chunk := src.read(HEAD_LIMIT):  # a stream of unknown size: count, keep nothing
                size += len(chunk)
    return head, size


def _write_private(path: Path, data: bytes) -> None:
    """Write a new file readable by us only, in full or not at all."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)


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
            name: hashlib.sha256(json.dumps(
                [__version__, config.node.code, base.code, list(config.node.formats),
                 config.node.exchange_plan, repr(base.transport.archive_password)]
            ).encode()).hexdigest()[:16]
            for name, base in config.bases.items()}

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

    def known(self, peer: str, incoming: Incoming) -> dict | None:
        """If this very file was rejected before, under the same settings: what to report.

        Returns None for a file to examine; a report (and a warning) for a file to skip; raises
        the rejection again once every REMIND_AFTER.
        """
        entries = [e for e in self._entries(peer) if e.data.get("context") == self._contexts[peer]]
        if not entries:
            return None
        match = next((e for e in entries if e.data.get("fingerprint") == incoming.fingerprint),
                     None)
        if match is None:
            try:
                head, size = _read_head(incoming)
            except OSError:
                return None  # the parse that follows names the problem
            sha = hashlib.sha256(head).hexdigest()
            match = next((e for e in entries if e.same_file(size, sha)), None)
            if match is None:
                return None
            match.data["fingerprint"] = incoming.fingerprint  # touched, same bytes
            self._save(match)
        data = match.data
        now = _now()
        last = _parse_time(data.get("reported_at"))
        if last is None or now - last >= REMIND_AFTER:
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
        """Around the reading of a message: a rejection is kept; a failed read is temporary."""
        try:
            yield
        except MessageRejected as exc:
            self._keep(peer, incoming, exc)
            raise
        except OSError as exc:  # the share went away in the middle of the file
            raise TemporaryError(f"{incoming.name}: reading failed: {exc.strerror or exc}") \
                from None

    def _keep(self, peer: str, incoming: Incoming, exc: MessageRejected) -> None:
        if self.dry_run:
            return
        try:
            head, size = _read_head(incoming)
            sha = hashlib.sha256(head).hexdigest()
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
                                "sha256_of": "the file" if size <= len(head)
                                else f"its first {len(head)} bytes (kept)",
                                "copy": copy.name, "first_seen": now})
            entry.data.update(reason=_problem(exc), fingerprint=incoming.fingerprint,
                              context=self._contexts[peer], reported_at=now)
            self._save(entry)
            self._prune(peer)
        except OSError as err:
            log.warning("%s: could not keep a copy of the rejected %s in %s: %s; it will be "
                        "reported again on the next run", peer, incoming.name, self.folder,
                        err.strerror or err)
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
            _write_private(entry.path, json.dumps(entry.data, ensure_ascii=False,
                                                  indent=1).encode("utf-8"))
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
