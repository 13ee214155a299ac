"""What every transport offers the flows: fetch the peer's message, publish ours.

Public API: `Incoming`, `Outgoing`, `Transport` (protocol), `fingerprint(path)`,
`open_zip_entry(path, source)`.

Terminology: the *fingerprint* of a message file is its size, modification time and a hash of its
first and last 64 KiB. It tells "the same file as last time" in microseconds, even for a file of
gigabytes; the MessageNo inside still decides whether its content is new.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from typing import Callable
from typing import Protocol

from onecsync.config import Secret
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
    raw: Callable[[], BinaryIO] | None = None


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
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
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


def open_zip_entry(path: Path, source: str, password: Secret | None = None) -> BinaryIO:
    """The single XML entry of a zipped message, checked before a byte is inflated.

    An encrypted entry ("ZIP 2.0" encryption, what 1C's archive password writes) is opened with
    the configured password; a password that does not open it is a config problem (exit 3), not
    a bad message: the file must be read again once the password is fixed.
    """
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
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
        pwd = None
        if info.flag_bits & 0x1:
            if password is None:
                raise MessageRejected("the zip entry is encrypted and no archive password is "
                                      "configured", source=source,
                                      remedy="set transport.archive_password_env (or _file)")
            pwd = password.reveal().encode("utf-8")
        if info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise MessageRejected(
                f"the zip entry inflates {info.file_size // max(info.compress_size, 1)} times; "
                "refused as a zip bomb", source=source)
        try:
            inner = zf.open(info, pwd=pwd)
        except RuntimeError as exc:
            if pwd is None or "password" not in str(exc).lower():
                raise
            raise ConfigError(f"{source}: the configured archive password ({password!r}) does "
                              "not open this zip",
                              remedy="set the archive password the base uses") from None
    except (MessageRejected, ConfigError):
        zf.close()
        raise
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
        zf.close()
        raise MessageRejected(f"cannot read the zip: {exc}", source=source) from None
    return io.BufferedReader(_GuardedStream(inner, source, zf.close), buffer_size=1 << 20)


def open_message_file(path: Path, password: Secret | None = None) -> BinaryIO:
    """A message file as a binary stream, unzipping a .zip."""
    if path.suffix.lower() == ".zip":
        return open_zip_entry(path, str(path), password)
    return open(path, "rb", buffering=1 << 20)


def remove_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
