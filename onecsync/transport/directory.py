"""1C's "Каталог" (FILE) transport, seen from the other side of the shared folder.

Public API: `DirectoryTransport`.

From the peer we read `Message_<peer>_<node>.xml` or `.zip` (the newer by modification time when
both exist; empty files are ignored, as 1C ignores them) and never change or delete it. To the
peer we write `Message_<node>_<peer>.xml|.zip` through a hidden temporary file in the same
folder, renamed into place only after the state has recorded the message: a crash before the
rename leaves the peer with our previous, complete message.
"""

from __future__ import annotations

import errno
import logging
import os
import zipfile
from pathlib import Path
from typing import BinaryIO

from onecsync.config import Secret
from onecsync.errors import ConfigError
from onecsync.errors import TemporaryError
from onecsync.transport.base import Incoming
from onecsync.transport.base import fingerprint
from onecsync.transport.base import open_message_file
from onecsync.transport.base import remove_quietly

TEMP_PREFIX = ".onecsync-tmp-"
log = logging.getLogger("onecsync")


def _os_error(exc: OSError, what: str) -> Exception:
    if isinstance(exc, FileNotFoundError):
        return ConfigError(f"{what}: the folder does not exist",
                           remedy="create it, mount the share, or fix transport.path")
    if isinstance(exc, PermissionError):
        return ConfigError(f"{what}: permission denied",
                           remedy="give this user read and write access to the folder")
    if exc.errno == errno.ENOSPC:
        return TemporaryError(f"{what}: no space left on the device",
                              remedy="free disk space; the next run retries")
    return TemporaryError(f"{what}: {exc.strerror or exc}")


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself survive a power cut, where the folder lets us: a share we may
    write but not list (mode 0300), or one whose server refuses fsync on a folder, has the
    message in place all the same, and failing the send then would be a lie."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _TempFile:
    """Our message being written; `publish()` renames it into place atomically."""

    def __init__(self, folder: Path, final: Path, compress: bool) -> None:
        self.final = final
        self.temp = folder / f"{TEMP_PREFIX}{os.getpid()}-{final.name}"
        self._raw = open(self.temp, "wb")
        self._zip = None
        if compress:
            self._zip = zipfile.ZipFile(self._raw, "w", compression=zipfile.ZIP_DEFLATED,
                                        compresslevel=6)
            entry = zipfile.ZipInfo(final.with_suffix(".xml").name)
            entry.compress_type = zipfile.ZIP_DEFLATED
            self.file: BinaryIO = self._zip.open(entry, "w", force_zip64=True)
        else:
            self.file = self._raw

    def _close(self) -> None:
        if self._zip is not None:
            self.file.close()
            self._zip.close()
            self._zip = None
        if not self._raw.closed:
            self._raw.flush()
            os.fsync(self._raw.fileno())
            self._raw.close()

    def fingerprint(self) -> str:
        self._close()
        return fingerprint(self.temp)

    def publish(self) -> None:
        self._close()
        os.replace(self.temp, self.final)
        _fsync_folder(self.final.parent)

    def discard(self) -> None:
        try:
            if self._zip is not None:
                self._zip = None
            self._raw.close()
        finally:
            remove_quietly(self.temp)


class DirectoryTransport:
    def __init__(self, folder: Path, node_code: str, peer_code: str, compress: bool,
                 password: Secret | None = None) -> None:
        self.folder = folder
        self.password = password
        self.incoming_stem = f"Message_{peer_code}_{node_code}"
        self.outgoing_name = f"Message_{node_code}_{peer_code}" + (".zip" if compress else ".xml")
        self.compress = compress
        self.description = f"folder {folder}"

    def fetch(self) -> Incoming | None:
        try:
            if not self.folder.is_dir():
                raise FileNotFoundError(errno.ENOENT, "missing", str(self.folder))
            found, empty = [], []
            for suffix in (".xml", ".zip"):
                path = self.folder / (self.incoming_stem + suffix)
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                (found if st.st_size > 0 else empty).append((st.st_mtime_ns, path))
            if not found:
                for _, path in empty:
                    log.warning("%s is empty: ignored, as 1C ignores it (the base may still be "
                                "writing it)", path)
                return None
            _, path = max(found)
            fp = fingerprint(path)
        except OSError as exc:
            raise _os_error(exc, f"reading {exc.filename or self.folder}") from None
        return Incoming(name=str(path), fingerprint=fp,
                        open=lambda: self._open(path), raw=lambda: open(path, "rb"))

    def _open(self, path: Path) -> BinaryIO:
        try:
            return open_message_file(path, self.password)
        except OSError as exc:
            raise _os_error(exc, f"reading {path}") from None

    def prepare(self) -> _TempFile:
        try:
            for stale in self.folder.glob(f"{TEMP_PREFIX}*-{self.outgoing_name}"):
                remove_quietly(stale)  # we hold the run lock: any such file is a crash's leftover
            return _TempFile(self.folder, self.folder / self.outgoing_name, self.compress)
        except OSError as exc:
            raise _os_error(exc, f"writing to {self.folder}") from None

    def in_place(self, fp: str | None) -> bool:
        """Is our last message still there, exactly as we wrote it?"""
        if fp is None:
            return False
        try:
            return fingerprint(self.folder / self.outgoing_name) == fp
        except OSError:
            return False
