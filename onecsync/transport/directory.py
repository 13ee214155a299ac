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
from pathlib import Path
from typing import BinaryIO

from onecsync.config import Secret
from onecsync.errors import ConfigError
from onecsync.errors import TemporaryError
from onecsync.transport.base import Incoming
from onecsync.transport.base import OutgoingFile
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


class _TempFile(OutgoingFile):
    """Our message in a hidden file of the folder; `publish()` renames it into place."""

    def __init__(self, folder: Path, final: Path, compress: bool,
                 password: str | None = None) -> None:
        self.final = final
        super().__init__(folder / f"{TEMP_PREFIX}{os.getpid()}-{final.name}",
                         final.with_suffix(".xml").name if compress else None, password,
                         durable=True)

    def _deliver(self, fp: str) -> None:
        os.replace(self.temp, self.final)
        _fsync_folder(self.final.parent)


class DirectoryTransport:
    def __init__(self, folder: Path, node_code: str, peer_code: str, compress: bool,
                 archive_password: Secret | None = None) -> None:
        self.folder = folder
        self.incoming_stem = f"Message_{peer_code}_{node_code}"
        self.outgoing_name = f"Message_{node_code}_{peer_code}" + (".zip" if compress else ".xml")
        self.compress = compress
        self.archive_password = archive_password
        self.description = f"folder {folder}"

    def _password(self) -> str | None:
        return self.archive_password.reveal() if self.archive_password else None

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
                (found if st.st_size > 0 else empty).append((st.st_mtime_ns, path, st.st_size))
            if not found:
                for _, path, _ in empty:
                    log.warning("%s is empty: ignored, as 1C ignores it (the base may still be "
                                "writing it)", path)
                return None
            _, path, size = max(found)
            fp = fingerprint(path)
        except OSError as exc:
            raise _os_error(exc, f"reading {exc.filename or self.folder}") from None
        return Incoming(name=str(path), fingerprint=fp, open=lambda: self._open(path),
                        size=size if path.suffix == ".xml" else None, raw=lambda: open(path, "rb"))

    def _open(self, path: Path) -> BinaryIO:
        try:
            return open_message_file(path, self._password())
        except OSError as exc:
            raise _os_error(exc, f"reading {path}") from None

    def prepare(self) -> _TempFile:
        try:
            for stale in self.folder.glob(f"{TEMP_PREFIX}*-{self.outgoing_name}"):
                remove_quietly(stale)  # we hold the run lock: any such file is a crash's leftover
            return _TempFile(self.folder, self.folder / self.outgoing_name, self.compress,
                             self._password() if self.compress else None)
        except OSError as exc:
            raise _os_error(exc, f"writing to {self.folder}") from None

    def probe(self, write: bool = True) -> str:
        """Can a run use the folder? Raises what a run would raise; else says what is there.

        `write`: prove it by writing and removing a probe file (hidden, never a name 1C reads),
        as 1C's own connection test does; False (for --dry-run) only asks the OS.
        """
        try:
            if not self.folder.exists():
                raise FileNotFoundError(errno.ENOENT, "missing", str(self.folder))
            if not self.folder.is_dir():
                raise ConfigError(f"{self.folder} is not a folder", remedy="fix transport.path")
            names = set(os.listdir(self.folder))
            if write:
                probe = self.folder / f".onecsync-probe-{os.getpid()}"
                fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                try:
                    os.write(fd, b"onecsync check\n")
                finally:
                    os.close(fd)
                os.unlink(probe)
            elif not os.access(self.folder, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, "not writable", str(self.folder))
        except OSError as exc:
            raise _os_error(exc, f"checking {self.folder}") from None
        theirs = [n for n in (self.incoming_stem + ".xml", self.incoming_stem + ".zip")
                  if n in names]
        seen = f"the base's message {theirs[0]} is there" if theirs else \
            "no message from the base in it yet"
        return f"{self.description}: readable and writable; {seen}"

    def in_place(self, fp: str | None) -> bool:
        """Is our last message still there, exactly as we wrote it?"""
        if fp is None:
            return False
        try:
            return fingerprint(self.folder / self.outgoing_name) == fp
        except OSError:
            return False
