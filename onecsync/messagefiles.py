"""Message files as 1C names and packs them: `Message_<from>_<to>`, an .xml or a zip of one.

Public API: `message_stem(sender, to)`, `message_like(name)`, `MessageName`, `parse_name(name)`,
`addressed(name, sender, to)`, `unlisted_names(senders, to)`, `sender_code(name)`,
`open_message_file(path, password, source)`; `open_zip_entry(path or stream, source, password)`,
`outgoing_entry(...)` (the same, for the file under our own message's name),
`open_zip_writer(raw, entry, password)`, `MAX_RATIO`, `MAX_CENTRAL`, `MAX_FILE`. Neutral ground: the
transports and the protocol's message check both read message files through here, and it
imports neither of them.

The names, as SSL writes and reads them (ExchangeMessageTransport `ExchangeMessageFileName`,
`FillInDefaultMessageNames`; protocol doc §3.1): a base with an infobase prefix (the "Префикс"
of its synchronization settings; any base whose node code is a 36-character UUID, as in every
EnterpriseData exchange) writes `Message_<prefix>_<its code>_<our code>`, one without
`Message_<its code>_<our code>`; transliterated names carry the prefix in Latin letters. 1C
reads with the mask `Message*_<peer>_<own>.*`, prefix or none (on Windows in any letter case;
the peer's code or its predefined node alias). So do we (`addressed`), and the
codes are compared case-insensitively: they are UUIDs, which an admin may copy in either case
(macOS uuidgen prints upper case) and 1C keeps as typed. Our own files carry the codes as the
config spells them, the spelling the base was given.

A zip is judged by its end record (how many entries, how large the central directory) before
zipfile reads the central directory, which it does whole, into memory, whatever the count: a zip
listing 600,000 entries is refused after reading its last 64 KiB. The one entry is then checked
(a plain name, no bomb ratio) before a byte is inflated. A zip without an end record that starts
like one (a local header) is a zip cut short, or one the base is still writing.

Archive passwords (1C's "пароль архива сообщения обмена"): 1C writes protected zips with
ZipCrypto (ZipFileWriter's default) and its ZipFileReader also opens WinZip AES. The standard
library reads only ZipCrypto and writes neither, so protected zips go through pyzipper: we read
both and write AES-256, the stronger one 1C reads. Passwords are encoded as UTF-8.
"""

from __future__ import annotations

import io
import struct
import sys
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from typing import Callable

from onecsync.config.model import DEFAULT_MAX_MESSAGE_MIB
from onecsync.errors import ConfigError
from onecsync.errors import MessageRejected
from onecsync.files import open_named

PREFIX = "Message_"
# The largest message file read from a folder: a download's default cap. Past it a file (a
# sparse one of terabytes takes no disk) is refused by its size, and never read to its end.
MAX_FILE = DEFAULT_MAX_MESSAGE_MIB << 20


def message_like(name: str) -> bool:
    """Does `name` begin as 1C's mask `Message*` does, in any case (1C on Windows reads it)?"""
    return name[:len(PREFIX) - 1].lower() == PREFIX[:-1].lower()


def message_stem(sender: str, to: str) -> str:
    """The name of a message from the node `sender` to the node `to`, without .xml or .zip."""
    return f"{PREFIX}{sender}_{to}"


@dataclass(frozen=True)
class MessageName:
    """A file name of 1C's form: `Message[_<prefix>]_<sender>_<to>.xml|.zip`, codes as written."""

    prefix: str  # "" for none
    sender: str
    to: str


def parse_name(name: str) -> MessageName | None:
    """The parts of a message file's name; None for a name 1C never gives a message."""
    stem, dot, ext = name.rpartition(".")
    if not dot or ext.lower() not in ("xml", "zip") or not message_like(stem):
        return None
    parts = stem.split("_")  # a code has no "_"; a prefix might, so it takes what is left
    if len(parts) < 3 or not parts[-2] or not parts[-1] or len(parts[0]) != len(PREFIX) - 1:
        return None
    return MessageName("_".join(parts[1:-2]), parts[-2], parts[-1])


def addressed(name: str, sender: str, to: str) -> bool:
    """Is `name` a message from node `sender` to node `to`, as 1C's receiving side takes it
    (its mask `Message*_<sender>_<to>.*`, for .xml and .zip; codes in any case)?"""
    stem, dot, ext = name.rpartition(".")
    # NFC: an alias typed here and written by a base on macOS/SMB (NFD) is the same text.
    tail = unicodedata.normalize("NFC", f"_{sender}_{to}").lower()
    low = unicodedata.normalize("NFC", stem).lower()
    return bool(dot) and ext.lower() in ("xml", "zip") and message_like(stem) \
        and low.endswith(tail) and len(low) >= len(tail) + len(PREFIX) - 1


def unlisted_names(senders: tuple[str, ...], to: str) -> list[str]:
    """The names of the base's message to us that can be tried in a folder that cannot be
    listed: no prefix (it cannot be guessed), the codes as spelled, in lower and in upper case
    (1C keeps a code as typed; macOS uuidgen prints upper case)."""
    cases = (str, str.lower, str.upper)
    return sorted({message_stem(a(s), b(to)) + x for s in senders for a in cases for b in cases
                   for x in (".xml", ".zip")})


def sender_code(name: str) -> str:
    """The sender's code a message file's name gives (lower case; "" when it names none)."""
    parsed = parse_name(name)
    return parsed.sender.lower() if parsed else ""


def open_message_file(path: Path, password: str | None = None, source: str | None = None) -> IO[bytes]:
    """A message file of our own folders (or one named on the command line) as a binary
    stream, unzipping a .zip."""
    if path.suffix.lower() == ".zip":
        return open_zip_entry(path, source or str(path), password)
    return open_named(path)


# An XML message compresses about 10-50 times; far beyond that is a bomb, not a message.
MAX_RATIO = 1000


class _GuardedStream(io.RawIOBase):
    """Turns the errors of a broken compressed stream into a rejection of the message."""

    def __init__(self, inner: IO[bytes], source: str, closer: Callable[[], None],
                 encrypted: bool) -> None:
        self._inner = inner
        self._source = source
        self._closer = closer
        self._encrypted = encrypted

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        try:
            return self._inner.read(n)
        except _zip_errors() as exc:
            if self._encrypted:
                # ZipCrypto checks a password by one byte (AES by two): 1 wrong password in 256
                # passes and decrypts garbage, which fails to inflate or its CRC. Counted as
                # the password's fault, the message is not quarantined and every run says so.
                raise _wrong_password(self._source) from None
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


MAX_NAME = 255  # bytes: what a file name may take on the file systems 1C writes to


def _plain(name: str) -> bool:
    """A name a base's own zip gives its one entry: a file name, nothing a path could mean."""
    return (name not in ("", ".", "..") and len(name.encode("utf-8", "replace")) <= MAX_NAME
            and not any(c in name for c in "/\\\0") and ".." not in name)


def _wrong_password(source: str) -> ConfigError:
    return ConfigError(f"{source}: the archive password does not open the zip",
                       remedy="set the same archive password as in the base's exchange settings")


def _zip_errors() -> tuple[type[BaseException], ...]:
    """What a broken zip raises; pyzipper's own errors only if it is in use (it is imported
    only for protected zips, and every run pays for what it imports)."""
    errors: tuple[type[BaseException], ...] = (zipfile.BadZipFile, zlib.error, EOFError)
    pyzipper = sys.modules.get("pyzipper")
    return errors + (pyzipper.BadZipFile,) if pyzipper is not None else errors


# The zip end record (EOCD), its zip64 locator and zip64 record, as zipfile finds them.
_EOCD = struct.Struct("<4s4H2LH")
_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
# The central directory of one entry: its fixed part, and a name, extra field and comment of at
# most 64 KiB each. zipfile reads all of the directory into memory, whatever it says it holds.
MAX_CENTRAL = 46 + 3 * 0xFFFF


def _end_record(f: IO[bytes]) -> tuple[int, int, int, int] | None:
    """(entries on the disk, entries in all, central directory size, disks) from the end record
    that zipfile will use (the same search as `zipfile._EndRecData`), or None when there is
    none. Reads at most the last 64 KiB."""
    size = f.seek(0, 2)
    if size < _EOCD.size:
        return None
    f.seek(size - _EOCD.size)
    data = f.read(_EOCD.size)
    if data[:4] == b"PK\x05\x06" and data[-2:] == b"\0\0":
        pos = size - _EOCD.size
    else:
        start = max(size - (1 << 16) - _EOCD.size, 0)
        f.seek(start)
        tail = f.read(size - start)
        i = tail.rfind(b"PK\x05\x06")
        if i < 0 or len(tail) - i < _EOCD.size:
            return None
        pos, data = start + i, tail[i:i + _EOCD.size]
    _, disk, cd_disk, on_disk, total, cd_size, _, _ = _EOCD.unpack(data)
    disks = 1 if disk == cd_disk == 0 else 2
    if pos >= _LOCATOR.size:
        f.seek(pos - _LOCATOR.size)
        loc = f.read(_LOCATOR.size)
        if loc[:4] == b"PK\x06\x07":
            disks = max(disks, _LOCATOR.unpack(loc)[3])
            if pos >= _LOCATOR.size + _EOCD64.size:
                f.seek(pos - _LOCATOR.size - _EOCD64.size)
                rec = f.read(_EOCD64.size)
                if rec[:4] == b"PK\x06\x06":
                    _, _, _, _, disk, cd_disk, on_disk, total, cd_size, _ = _EOCD64.unpack(rec)
                    disks = max(disks, 1 if disk == cd_disk == 0 else 2)
    return on_disk, total, cd_size, disks


def _judge_end(f: IO[bytes], source: str) -> None:
    """Refuse, from the end record alone, a zip that is not one entry, before zipfile builds
    its list of entries (600,000 of them would take gigabytes)."""
    end = _end_record(f)
    if end is None:
        # Without its end record, a zip that starts like one, or ends in the NUL bytes a copy
        # sets aside before filling them, is one still being written (or cut short).
        f.seek(0)
        started = f.read(4) == b"PK\x03\x04"
        size = f.seek(0, 2)
        f.seek(max(size - 8, 0))
        unfilled = size >= 8 and f.read(8) == bytes(8)
        raise MessageRejected("not a readable zip: it has no end record" +
                              (" (cut short, or still being written)" if started else ""),
                              source=source, ends_early=started or unfilled)
    on_disk, total, cd_size, disks = end
    if disks != 1:
        raise MessageRejected("not a readable zip: it is split over several disks",
                              source=source)
    if total != 1 or on_disk != 1:
        raise MessageRejected(f"the zip holds {max(total, on_disk)} entries; a message zip "
                              "holds exactly one", source=source)
    if cd_size > MAX_CENTRAL:
        raise MessageRejected(f"the zip's central directory is {cd_size} bytes, more than one "
                              "entry can take; refused", source=source)
    f.seek(0)


def outgoing_entry(src: Path | IO[bytes], source: str, password: str | None) -> IO[bytes]:
    """`open_zip_entry` for the file under our own message's name: what is wrong with it (a
    broken zip, an archive password other than ours) is the file's, damage or another writer's,
    never the config's: always MessageRejected (flows/whose.py)."""
    try:
        return open_zip_entry(src, source, password)
    except ConfigError:  # of the password: the config's is not the one the file has
        raise MessageRejected("it is a zip under another archive password than ours",
                              source=source) from None


def open_zip_entry(src: Path | IO[bytes], source: str, password: str | None = None) -> IO[bytes]:
    """The single XML entry of a zipped message (a path, or a seekable binary stream that the
    returned stream then owns), checked before a byte is inflated."""
    try:
        f = open_named(src) if isinstance(src, Path) else src  # closed by the stream
    except OSError as exc:
        raise MessageRejected(f"not a readable zip: {exc.strerror or exc}", source=source) \
            from None
    zf = None

    def close() -> None:
        if zf is not None:
            zf.close()
        f.close()

    try:
        _judge_end(f, source)
        if password is not None:
            import pyzipper

            zf = pyzipper.AESZipFile(f)
            zf.setpassword(password.encode("utf-8"))
        else:
            zf = zipfile.ZipFile(f)
        infos = zf.infolist()
        if len(infos) != 1:
            raise MessageRejected(f"the zip holds {len(infos)} entries; a message zip holds "
                                  "exactly one", source=source)
        info = infos[0]
        name = info.orig_filename  # zipfile cuts its `filename` at a NUL
        if not _plain(name):
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
        close()
        raise
    except RuntimeError as exc:
        close()
        if "password" in str(exc).lower():
            raise _wrong_password(source) from None
        raise MessageRejected(f"cannot read the zip: {exc}", source=source) from None
    except _zip_errors() + (NotImplementedError, OSError) as exc:
        close()
        what = "not a readable zip" if zf is None else "cannot read the zip"
        raise MessageRejected(f"{what}: {exc}", source=source) from None
    except BaseException:
        close()
        raise
    return io.BufferedReader(_GuardedStream(inner, source, close, bool(info.flag_bits & 0x1)),
                             buffer_size=1 << 20)


def open_zip_writer(raw: IO[bytes], entry_name: str,
                    password: str | None = None) -> tuple[zipfile.ZipFile, IO[bytes]]:
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


