"""What every transport offers the flows: fetch the peer's message, publish ours.

Public API: `Incoming`, `Outgoing`, `Transport` (protocol), `OutgoingFile`, `fingerprint(path)`,
`fingerprint_fd(fd)`, `same_bytes(a, b)`, `os_failure(exc, what, folder)`, `spelled_apart(path)`,
`remove_quietly(path)`, `delivered_size(incoming)`.

Terminology: the *fingerprint* of a message file is its size, modification time and a hash of its
first and last 64 KiB. It tells "the same file as last time" in microseconds, even for a file of
gigabytes, and is used two ways, each erring on the harmless side:
- the base's message "unchanged since the last run" (skipped unread) needs the whole fingerprint
  equal: a touch or a copy makes it read again, and the MessageNo inside decides; a new message
  always differs in its first 64 KiB, which hold its header (MessageNo, CreationDate).
- our message "still in place, as we wrote it" needs only the same bytes (`same_bytes`: size and
  hash): a touch, `cp -p`, rsync or a backup restoring it byte for byte leave it ours, and only
  other content is evidence that someone else wrote there.
- a file that looks unfinished waits while its whole fingerprint stays (quarantine.py): a base
  filling a file it reserved changes its time before its sampled bytes, so any change is taken
  for writing going on, which only delays a verdict.
Message files' names and zips are onecsync/messagefiles.py's.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import logging
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from typing import Callable
from typing import Protocol

from onecsync.errors import ConfigError
from onecsync.errors import OnecsyncError
from onecsync.errors import TemporaryError
from onecsync.files import TEMP_PREFIX
from onecsync.files import FdWriter
from onecsync.files import create_new
from onecsync.files import open_regular
from onecsync.i18n import N_
from onecsync.messagefiles import open_zip_writer
from onecsync.text import one_line

log = logging.getLogger("onecsync")
SAMPLE = 64 * 1024
# Errors of a disk (or quota) that is full: the next run retries once space is freed.
FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def fingerprint_fd(fd: int) -> str:
    """The fingerprint of an open file (see the module docstring), read with pread."""
    st = os.fstat(fd)
    h = hashlib.sha256(os.pread(fd, SAMPLE, 0))
    if st.st_size > 2 * SAMPLE:
        h.update(os.pread(fd, SAMPLE, st.st_size - SAMPLE))
    return f"{st.st_size}:{st.st_mtime_ns}:{h.hexdigest()[:32]}"


def same_bytes(a: str | None, b: str | None) -> bool:
    """Do two fingerprints describe the same content, whatever the file's times say?"""
    if a is None or b is None:
        return False

    def content(fp: str) -> tuple[str, str]:  # "size:mtime:hash" without the time
        return fp.partition(":")[0], fp.rpartition(":")[2]
    return content(a) == content(b)


def fingerprint(path: Path) -> str:
    """The fingerprint of the regular file at `path` (never through a link)."""
    fd, _ = open_regular(path)
    try:
        return fingerprint_fd(fd)
    finally:
        os.close(fd)


def spelled_apart(path: Path) -> Path | None:
    """The entry that exists where `path` does not, differing from it only in case or Unicode
    normalization (a folder made over SMB or on macOS is NFD, a config typed here NFC): the
    first missing part of the path is looked for among its parent's entries."""
    def key(name: str) -> str:
        return unicodedata.normalize("NFC", name).casefold()
    parts = path.parts
    for i in range(1, len(parts)):
        parent, part = Path(*parts[:i]), parts[i]
        if os.path.lexists(parent / part):
            continue
        try:
            twins = [n for n in os.listdir(parent) if key(n) == key(part)]
        except OSError:
            return None
        return Path(parent, twins[0], *parts[i + 1:]) if twins else None
    return None


def os_failure(exc: OSError, what: str, folder: Path | None = None) -> OnecsyncError:
    """An OSError met while using a folder, classified by what the admin must do (`folder`:
    the folder configured, for telling one that is there under another spelling)."""
    if isinstance(exc, FileNotFoundError):
        if folder is not None and (twin := spelled_apart(folder)) is not None:
            return ConfigError(
                f"{what}: the folder does not exist, but {one_line(str(twin))} does: the "
                "names differ only in letter case or in Unicode normalization (NFC/NFD)",
                remedy="make transport.path name that folder exactly (copy its name from "
                       "the listing), or rename the folder")
        return ConfigError(f"{what}: the folder does not exist",
                           remedy="create it, mount the share, or fix transport.path")
    if isinstance(exc, NotADirectoryError):
        return ConfigError(f"{what}: a part of the path is a file, not a folder",
                           remedy="fix transport.path")
    if isinstance(exc, PermissionError):
        return ConfigError(f"{what}: permission denied",
                           remedy="give this user read and write access to the folder")
    if exc.errno == errno.ENAMETOOLONG:
        return ConfigError(f"{what}: a name is too long for the system ({exc.strerror})",
                           remedy="shorten transport.path")
    if exc.errno in FULL:
        why = {errno.EDQUOT: N_("the disk quota is exceeded"),
               errno.EFBIG: N_("the file is larger than the device allows")}.get(
            exc.errno, N_("no space left on the device"))
        return TemporaryError(f"{what}: {why} ({exc.strerror})",
                              remedy="free disk space there; the next run retries, "
                                     "nothing was lost")
    return TemporaryError(f"{what}: {exc.strerror or exc}")


def _nothing() -> None:
    pass


def _alone(received_no: int) -> None:
    pass


@dataclass(frozen=True)
class Incoming:
    """A peer's message found by a transport; `open()` gives the XML as a binary stream,
    `raw()` the file as delivered (a .zip stays zipped), for the quarantine.

    `settles`: the base writes the file in place, so a file that ends early may still be being
    written (see quarantine.py); `current()` is its fingerprint now, to tell a file that changed
    while it was read; `close()` releases what `fetch()` opened; `beside(received_no)`, called
    before it is read, judges the base's other files beside it (candidates.judge_beside): exit
    3 when one holds a message after `received_no` that it hides from 1C's rule, else named.
    """

    name: str
    fingerprint: str
    open: Callable[[], IO[bytes]]
    size: int | None = None  # bytes `open()` will yield, when known (for a progress bar)
    raw: Callable[[], IO[bytes]] | None = None  # the file as delivered (for the quarantine)
    settles: bool = False
    current: Callable[[], str] | None = None
    close: Callable[[], None] = _nothing
    beside: Callable[[int], None] = _alone


def delivered_size(incoming: Incoming) -> int | None:
    """The size of the file as delivered, when it can be had without reading it."""
    if incoming.raw is None:
        return None
    with incoming.raw() as src:
        try:
            return os.fstat(src.fileno()).st_size
        except (AttributeError, OSError, ValueError):
            return None


class Outgoing(Protocol):
    file: IO[bytes]
    where: str  # where the file is being written, for an error writing it

    def fingerprint(self) -> str: ...
    def publish(self) -> None: ...
    def discard(self) -> None: ...


class Transport(Protocol):
    description: str

    def fetch(self) -> Incoming | None: ...
    def prepare(self) -> Outgoing: ...
    def in_place(self, fingerprint: str | None) -> bool: ...
    # For `check`: can a run use it? Raises what a run would raise, else says what is there;
    # write=False (--dry-run) proves it without writing anything.
    def probe(self, write: bool = True) -> str: ...


class OutgoingFile:
    """Our message being written to a new file in `folder` (a hidden, unpredictable name ending
    in `-<name>`), zipped when asked; `publish()` hands it on.

    The file is finished (and, with `durable`, on disk) before its fingerprint is taken, from
    the same descriptor, since the state records that fingerprint as what was sent.
    Subclasses say where the file goes, with `mode` who may read it (files.create_new), and
    with `where` how an error writing it names the place (by default, this host's disk).
    """

    def __init__(self, folder: Path, name: str, zip_entry: str | None = None,
                 password: str | None = None, durable: bool = False,
                 mode: int | None = 0o600, where: str | None = None) -> None:
        # A remote transport writes it to its spool first: a full disk there is this host's.
        self.where = where if where is not None else N_(f"this host's disk at {folder}")
        try:
            fd, self.temp = create_new(folder, TEMP_PREFIX, "-" + name, mode)
        except OSError as exc:
            raise os_failure(exc, f"writing to {self.where}") from None
        self._durable = durable
        self._raw = io.BufferedWriter(FdWriter(fd), buffer_size=1 << 20)
        self._zip = None
        self.file: IO[bytes] = self._raw
        self._fp: str | None = None
        if zip_entry is not None:
            try:
                self._zip, self.file = open_zip_writer(self._raw, zip_entry, password)
            except BaseException:
                self.discard()
                raise

    def _finish(self) -> str:
        if self._fp is None:
            if self._zip is not None:
                self.file.close()
                self._zip.close()
                self._zip = None
            self._raw.flush()
            if self._durable:
                os.fsync(self._raw.fileno())
            self._fp = fingerprint_fd(self._raw.fileno())
            self._raw.close()
        return self._fp

    def fingerprint(self) -> str:
        return self._finish()

    def publish(self) -> None:
        self._deliver(self._finish())

    def _deliver(self, fp: str) -> None:
        raise NotImplementedError

    def discard(self) -> None:
        """Close and remove the file; never raises (on a full disk every close fails again,
        and the error worth reporting is the first one)."""
        closers = [self.file.close, self._zip.close] if self._zip is not None else []
        for close in [*closers, self._raw.close]:
            with contextlib.suppress(Exception):
                close()
        self._zip = None
        remove_quietly(self.temp)


def remove_quietly(path: Path) -> None:
    """Remove a file of ours if it is there (unlink never follows a link)."""
    with contextlib.suppress(OSError):
        os.unlink(path)
