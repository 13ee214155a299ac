"""1C's directory ("Каталог", FILE) transport as an emulated base uses it, with its faults.

Public API: `exchange(base, folder, compress=False)` → `Exchanged`, `incoming_name(base)`,
`outgoing_name(base, compress)`, `put_back(path, data)`, `read_message_file(path)`.

As SSL 3.1.12 does it (protocol doc §3.1): the base reads the newest non-empty file of the mask
`Message*_<node>_<base>.xml|.zip` by modification time (a .zip: its first entry) and never
deletes or changes it; then it writes `Message_<prefix>_<base>_<node>.xml` (or .zip; without a
prefix `Message_<base>_<node>`, as ExchangeMessageFileName names it) by deleting its previous
file and copying the new one in place — not atomically, which is why a reader may see it half-written.
The base's `faults` make one exchange go wrong: the folder unreachable, the message lost on the
way, or the file left truncated or garbled.
"""

from __future__ import annotations

import io
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tests.emulator.base import Base
from tests.emulator.base import ExchangeError

_last_mtime = 0


@dataclass
class Exchanged:
    read: str | None = None        # the file imported
    error: str | None = None       # why the import failed
    written: str | None = None     # the file written (None: nothing reached the folder)
    unreachable: bool = False
    dropped: bool = False
    corrupted: str | None = None
    data: bytes | None = None      # the message as the base produced it


def incoming_name(base: Base) -> str:
    return f"Message_{base.node_code}_{base.code}"


def outgoing_name(base: Base, compress: bool = False) -> str:
    # SSL: the infobase prefix goes into the name when the sender's code is a 36-char UUID.
    prefix = f"{base.prefix}_" if base.prefix and len(base.code) == 36 else ""
    return f"Message_{prefix}{base.code}_{base.node_code}" + (".zip" if compress else ".xml")


def _touch(path: Path) -> None:
    """Each file the emulator writes is newer than the last one, whatever the clock's grain."""
    global _last_mtime
    t = max(time.time_ns(), _last_mtime + 1_000_000)
    _last_mtime = t
    os.utime(path, ns=(t, t))


def put_back(path: Path, data: bytes) -> None:
    """An older copy of a file appears again (a sync tool, a restored share, a retry)."""
    path.write_bytes(data)
    _touch(path)


def read_message_file(path: Path) -> bytes:
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as zf:
            return zf.read(zf.infolist()[0])
    return path.read_bytes()


def _newest(folder: Path, stem: str) -> Path | None:
    """The newest non-empty file of 1C's receive mask `Message*_<node>_<base>.*`."""
    found = []
    tail = stem.removeprefix("Message")
    for p in folder.glob(f"Message*{tail}.*"):
        if p.suffix not in (".xml", ".zip"):
            continue
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        if st.st_size > 0:
            found.append((st.st_mtime_ns, p))
    return max(found)[1] if found else None


def _zipped(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, data)
    return buf.getvalue()


def exchange(base: Base, folder: Path, compress: bool = False, receive: bool = True,
             entered=()) -> Exchanged:
    """One exchange session of the base: import the newest message from us, then export.
    `receive=False`: send only (1C's «Только отправка»), our message is left unread. `entered`:
    what a user enters between the two (EnterpriseData elements, see `Base.enter`)."""
    faults = base.faults
    out = Exchanged()
    if faults.unreachable_next or not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
        faults.unreachable_next = False
        out.unreachable = True
        return out
    found = _newest(folder, incoming_name(base)) if receive else None
    if found is not None:
        out.read = found.name
        try:
            base.import_message(read_message_file(found))
        except ExchangeError as exc:
            out.error = str(exc)
        except zipfile.BadZipFile as exc:
            base.errors.append(f"{found.name}: {exc}")
            out.error = str(exc)
    for element in entered:
        base.enter(element)
    data = base.export_message()
    out.data = data
    if data is None:
        return out
    if faults.drop_next:
        faults.drop_next = False
        out.dropped = True
        return out
    name = outgoing_name(base, compress)
    payload = _zipped(name[:-4] + ".xml", data) if compress else data
    if faults.corrupt_next == "truncate":
        payload = payload[: len(payload) // 2]
    elif faults.corrupt_next == "garbage":
        payload = payload[:200] + b"\x00\xff garbage \x00" + payload[200:][::-1][:500]
    out.corrupted, faults.corrupt_next = faults.corrupt_next, None
    path = folder / name
    path.unlink(missing_ok=True)  # 1C deletes its previous file, then copies the new one
    path.write_bytes(payload)
    _touch(path)
    out.written = name
    return out
