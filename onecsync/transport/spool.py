"""The local working folder of a transport: downloads, uploads being made, receipts, notes.

Public API: `Spool(folder, dry_run)` (`note`, `write_note`, `receipt`, ...), `Capped`,
`too_big`, `local_failure`, `MARGIN`, `KEPT`.

A download goes through `Spool.download(cap, where)`: a file that never holds more than
`cap` bytes (transport.max_message_mib: a server that lies about the size or streams forever
is cut there) and never fills the spool's filesystem past `MARGIN` (the state lives on that disk
too). Either ends in exit 4 with the remedy; the transport removes the partial file.

A remote transport keeps here, per base: the base's last message as it was downloaded (so that
a rejected message can be looked at; it is replaced by the next download, `Spool.keep`), our
message while it is written and uploaded, its notes (`note`; a folder's transport keeps only
those), and the *receipt*: the fingerprint of our last message that the base
verifiably got. The receipt is what `in_place()` answers from, since nothing on the remote side
says "this exact file was delivered". It is written only after a successful delivery, so a
crash at any point leaves, at worst, a delivered message without its receipt: the next run sends
again, which the numbering makes harmless.

A dry run reads the real receipt but works in a private temporary folder, so it writes nothing
next to the state.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO

from onecsync.errors import ConfigError
from onecsync.errors import OnecsyncError
from onecsync.errors import TemporaryError
from onecsync.files import TEMP_PREFIX
from onecsync.files import create_new
from onecsync.files import is_ours
from onecsync.files import replace_with
from onecsync.i18n import N_
from onecsync.transport.base import os_failure

RECEIPT = "delivered.json"
# The spool names every file itself, never after what a server calls it: a server's name may hold
# "/" or "..", or be too long for this disk, and a base whose names change would leave a file per
# name for ever. One last download per base, by its kind (a .zip is opened as an archive).
KEPT = {False: "received.xml", True: "received.zip"}
MARGIN = 256 * 1024 * 1024      # left free on the spool's filesystem, whatever a download needs
CHECK_EVERY = 16 * 1024 * 1024  # free space is looked at again after this many bytes


def free_bytes(folder: Path) -> int | None:
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):
        return None  # no statvfs: the cap alone bounds the download
    return st.f_bavail * st.f_frsize


def too_big(where: str, size: int, cap: int) -> TemporaryError:
    return TemporaryError(f"{where}: the message is {size} bytes or more, over the cap of "
                          f"{cap} bytes (transport.max_message_mib)",
                          remedy="raise transport.max_message_mib if the base's message really "
                                 "is that big, else the server lies about it; nothing was "
                                 "received")


def local_failure(exc: OSError, where: str, folder: Path) -> OnecsyncError:
    """A download could not be written to the spool: this host's disk (a full disk, a quota),
    not the server, is what the admin must look at, so the local folder is named."""
    return os_failure(exc, N_(f"{where}: writing the download to this host's disk at {folder}"))


class Capped:
    """A download's file: at most `cap` bytes, and never past the disk's MARGIN."""

    def __init__(self, f: IO[bytes], folder: Path, cap: int, where: str) -> None:
        self.f, self.folder, self.cap, self.where = f, folder, cap, where
        self._checked = 0

    def too_big(self, size: int) -> TemporaryError:
        return too_big(self.where, size, self.cap)

    def room_for(self, size: int) -> None:
        """Refuse before (and while) a download when `size` more bytes would leave less than
        MARGIN free."""
        free = free_bytes(self.folder)
        if free is not None and free - size < MARGIN:
            raise TemporaryError(f"{self.where}: {size} more bytes would leave less than "
                                 f"{MARGIN >> 20} MiB free on the disk of {self.folder} "
                                 f"({free >> 20} MiB free)",
                                 remedy="free space on that disk (it holds the state too); "
                                        "nothing was received, the next run retries")

    def local(self, exc: OSError) -> OnecsyncError:
        return local_failure(exc, self.where, self.folder)

    def write(self, chunk: bytes) -> int:
        end = self.f.tell() + len(chunk)
        if end > self.cap:
            raise self.too_big(end)
        if end - self._checked >= CHECK_EVERY:
            self._checked = end
            self.room_for(CHECK_EVERY)
        try:
            return self.f.write(chunk)
        except OSError as exc:
            raise self.local(exc) from None

    def tell(self) -> int:
        return self.f.tell()

    def seek(self, pos: int) -> int:
        try:
            return self.f.seek(pos)
        except OSError as exc:
            raise self.local(exc) from None

    def truncate(self) -> int:
        try:
            return self.f.truncate()
        except OSError as exc:
            raise self.local(exc) from None

    def __enter__(self) -> Capped:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.f.close()  # writes what the buffer still holds: the disk may be full now
        except OSError as err:
            if exc[0] is None:
                raise self.local(err) from None  # else the first failure is the one to tell


class Spool:
    def __init__(self, folder: Path | None, dry_run: bool = False) -> None:
        self.receipts = folder
        self._scratch: tempfile.TemporaryDirectory | None = None
        if dry_run or folder is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="onecsync-spool-")
            self.folder = Path(self._scratch.name)
        else:
            self.folder = folder

    def ready(self) -> Path:
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(f"cannot create the transfer folder {self.folder}: "
                              f"{exc.strerror or exc}") from None
        return self.folder

    def path(self, name: str) -> Path:
        """The spool's file `name`: one onecsync names itself, never one a server sent."""
        return self.ready() / name

    def keep(self, temp: Path, zipped: bool) -> Path:
        """The finished download `temp` put in place of the last one (KEPT), and the spool rid
        of every other download it holds (the other kind, or one an older version named after
        the server's file): at most one file per base."""
        final = self.ready() / KEPT[zipped]
        os.replace(temp, final)
        for entry in self._entries():
            if entry.name.startswith("Message") or entry.name == KEPT[not zipped]:
                self._remove_ours(entry)
        return final

    def temp(self) -> tuple[IO[bytes], Path]:
        """A new, empty file of ours (files.create_new), open for a download to fill: the
        descriptor create_new made, never the name opened again (it could be a link by then)."""
        fd, path = create_new(self.ready(), ".tmp-", ".part")
        return os.fdopen(fd, "wb"), path

    def download(self, cap: int, where: str, expected: int = 0) -> tuple[Capped, Path]:
        """A temp file for a download of at most `cap` bytes; `expected`: what the server
        announces, refused at once if over the cap or the disk's room."""
        try:
            out, path = self.temp()
        except OSError as exc:
            raise local_failure(exc, where, self.folder) from None
        capped = Capped(out, self.folder, cap, where)
        try:
            if expected > cap:
                raise capped.too_big(expected)
            capped.room_for(expected)
        except BaseException:
            out.close()
            os.unlink(path)
            raise
        return capped, path

    def clear_temps(self) -> None:
        """Leftovers of a killed run (we hold the run lock, so none is in use): only regular
        files of ours, never through a link."""
        for entry in self._entries():
            if entry.name.startswith((".tmp-", TEMP_PREFIX)):
                self._remove_ours(entry)

    def _entries(self) -> list[os.DirEntry]:
        try:
            return list(os.scandir(self.folder))
        except OSError:
            return []

    @staticmethod
    def _remove_ours(entry: os.DirEntry) -> None:
        try:
            if is_ours(entry.stat(follow_symlinks=False)):
                os.unlink(entry.path)
        except OSError:
            pass

    def receipt(self) -> dict | None:
        return self.note(RECEIPT)

    def write_receipt(self, data: dict) -> None:
        # The message did reach the base; without the receipt the next run sends again.
        self.write_note(RECEIPT, data)

    def note(self, name: str) -> dict | None:
        """A note of ours kept beside the state (the receipt; the base's files said to be left
        beside its message, transport/candidates.py); None when there is none or it is torn."""
        if self.receipts is None:
            return None
        try:
            data = json.loads((self.receipts / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # none, or a torn one: taken as never written
        return data if isinstance(data, dict) else None

    def write_note(self, name: str, data: dict) -> None:
        """Kept by a run, never by a dry run (it reads the real notes, writes none)."""
        if self.receipts is None or self._scratch is not None:
            return
        target = self.receipts / name
        try:
            self.ready()
            replace_with(target, lambda f: f.write(json.dumps(data).encode("utf-8")), 0o600)
        except OSError as exc:
            raise TemporaryError(f"cannot write {target}: {exc.strerror or exc}") from None
