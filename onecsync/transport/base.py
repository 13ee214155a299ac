"""What every transport offers the flows: fetch the peer's message, publish ours.

Public API: `Incoming`, `Outgoing`, `Transport` (protocol), `fingerprint(path)`,
`open_zip_entry(path, source, password)`, `open_zip_writer(raw, entry, password)`.

Terminology: the *fingerprint* of a message file is its size, modification time and a hash of its
first and last 64 KiB. It tells "the same file as last time" in microseconds, even for a file of
gigabytes; the MessageNo inside still decides whether its content is new.

Archive passwords (1C's "пароль архива сообщения обмена"): 1C writes protected zips with
ZipCrypto (ZipFileWriter's default) and its ZipFileReader also opens WinZip AES. The standard
library reads only ZipCrypto and writes neither, so protected zips go through pyzipper: we read
both and write AES-256, the stronger one 1C reads. Passwords are encoded as UTF-8.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from typing import Callable
from typing import Protocol

from onecsync.errors import ConfigError
from onecsync.errors import MessageRejected

SAMPLE = 64 * 1024
# An XML message compresses about 10-50 times; far beyond that is a bomb, not a message.
MAX_RATIO = 1000


def fingerprint(path: Path) -> str:
    st = path.stat()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(SAMPLE))
        if st.st_size > 2 * SAMPLE:
            f.seek(st.st_size - SAMPLE)
            h.update(f.read(SAMPLE))
    return f"{st.st_size}:{st.st_mtime_ns}:{h.hexdigest()[:32]}"


@dataclass(frozen=True)
class Incoming:
    """A peer's message found by a transport; `open()` gives the XML as a binary stream,
    `raw()` the file as delivered (a .zip stays zipped), for the quarantine."""

    name: str
    fingerprint: str
    open: Callable[[], BinaryIO]
    size: int | None = None  # bytes `open()` will yield, when known (for a progress bar)
    raw: Callable[[], BinaryIO] | None = None  # the file as delivered (for the quarantine)


class Outgoing(Protocol):
    file: BinaryIO

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


class _GuardedStream(io.RawIOBase):
    """Turns the errors of a broken compressed stream into a rejection of the message."""

    def __init__(self, inner: BinaryIO, source: str, closer: Callable[[], None]) -> None:
        self._inner = inner
        self._source = source
        self._closer = closer

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        try:
            return self._inner.read(n)
        except _zip_errors() as exc:
            raise MessageRejected(f"the zip is broken: {exc}", source=self._source) from None

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
            self._closer()
        super().close()


def _zip_errors() -> tuple[type[BaseException], ...]:
    """What a broken zip raises; pyzipper's own errors only if it is in use (it is imported
    only for protected zips, and every run pays for what it imports)."""
    errors: tuple[type[BaseException], ...] = (zipfile.BadZipFile, zlib.error, EOFError)
    pyzipper = sys.modules.get("pyzipper")
    return errors + (pyzipper.BadZipFile,) if pyzipper is not None else errors


def open_zip_entry(path: Path, source: str, password: str | None = None) -> BinaryIO:
    """The single XML entry of a zipped message, checked before a byte is inflated."""
    try:
        if password is not None:
            import pyzipper

            zf = pyzipper.AESZipFile(path)
            zf.setpassword(password.encode("utf-8"))
        else:
            zf = zipfile.ZipFile(path)
    except (*_zip_errors(), OSError) as exc:
        raise MessageRejected(f"not a readable zip: {exc}", source=source) from None
    try:
        infos = zf.infolist()
        if len(infos) != 1:
            raise MessageRejected(f"the zip holds {len(infos)} entries; a message zip holds "
                                  "exactly one", source=source)
        info = infos[0]
        name = info.filename
        if info.is_dir() or "/" in name or "\\" in name or ".." in name:
            raise MessageRejected(f"the zip entry {name[:80]!r} is not a plain file name",
                                  source=source)
        if info.flag_bits & 0x1 and password is None:
            raise ConfigError(f"{source}: the base protects its zips with an archive password "
                              "and none is configured",
                              remedy="set archive_password_env or archive_password_file on the "
                                     "transport, as in the base's exchange settings")
        if info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise MessageRejected(
                f"the zip entry inflates {info.file_size // max(info.compress_size, 1)} times; "
                "refused as a zip bomb", source=source)
        inner = zf.open(info)
    except (MessageRejected, ConfigError):
        zf.close()
        raise
    except RuntimeError as exc:
        zf.close()
        if "password" in str(exc).lower():
            raise ConfigError(f"{source}: the archive password does not open the zip",
                              remedy="set the same archive password as in the base's exchange "
                                     "settings") from None
        raise MessageRejected(f"cannot read the zip: {exc}", source=source) from None
    except (*_zip_errors(), NotImplementedError, OSError) as exc:
        zf.close()
        raise MessageRejected(f"cannot read the zip: {exc}", source=source) from None
    return io.BufferedReader(_GuardedStream(inner, source, zf.close), buffer_size=1 << 20)


def open_zip_writer(raw: BinaryIO, entry_name: str,
                    password: str | None = None) -> tuple[zipfile.ZipFile, BinaryIO]:
    """A zip with one deflated entry being written to `raw`; AES-256 when a password is set."""
    if password is None:
        zf = zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        entry = zipfile.ZipInfo(entry_name)
    else:
        import pyzipper

        zf = pyzipper.AESZipFile(raw, "w", compression=pyzipper.ZIP_DEFLATED, compresslevel=6,
                                 encryption=pyzipper.WZ_AES)
        zf.setpassword(password.encode("utf-8"))
        entry = zf.zipinfo_cls(entry_name)
    entry.compress_type = zipfile.ZIP_DEFLATED
    return zf, zf.open(entry, "w", force_zip64=True)


class OutgoingFile:
    """Our message being written to a local file, zipped when asked; `publish()` hands it on.

    The file is closed (and, with `durable`, on disk) before its fingerprint is taken, since the
    state records that fingerprint as what was sent. Subclasses say where the file goes.
    """

    def __init__(self, temp: Path, zip_entry: str | None = None, password: str | None = None,
                 durable: bool = False) -> None:
        self.temp = temp
        self._durable = durable
        self._raw = open(temp, "wb")
        self._zip = None
        self.file: BinaryIO = self._raw
        if zip_entry is not None:
            self._zip, self.file = open_zip_writer(self._raw, zip_entry, password)
        self._fp: str | None = None

    def _close(self) -> None:
        if self._zip is not None:
            self.file.close()
            self._zip.close()
            self._zip = None
        if not self._raw.closed:
            self._raw.flush()
            if self._durable:
                os.fsync(self._raw.fileno())
            self._raw.close()

    def fingerprint(self) -> str:
        self._close()
        self._fp = fingerprint(self.temp)
        return self._fp

    def publish(self) -> None:
        self._close()
        self._deliver(self._fp or fingerprint(self.temp))

    def _deliver(self, fp: str) -> None:
        raise NotImplementedError

    def discard(self) -> None:
        try:
            self._zip = None
            self._raw.close()
        finally:
            remove_quietly(self.temp)


def open_message_file(path: Path, password: str | None = None, source: str | None = None) -> BinaryIO:
    """A message file as a binary stream, unzipping a .zip."""
    if path.suffix.lower() == ".zip":
        return open_zip_entry(path, source or str(path), password)
    return open(path, "rb", buffering=1 << 20)


def remove_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
