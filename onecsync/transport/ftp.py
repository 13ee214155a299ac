"""1C's "FTP" transport, seen from the other side of the FTP folder.

Public API: `FtpTransport`.

The same names and rules as the directory transport (SSL `DataProcessors/
ExchangeMessageTransportFTP`, `GetMessage`: the newest of the base's files by modification time,
empty files ignored): from the base we read `Message*_<peer>_<node>.xml|.zip` (any prefix, the
codes in any case: messagefiles.py; the others are named in a warning) and never change or
delete it; to the base we upload `Message_<node>_<peer>.xml|.zip` under a temporary
name in the same folder and rename it into place, so the base never sees half a message.

The fingerprint of the base's file is its name, size and modification time from the listing
(MLSD, else SIZE and MDTM), so an unchanged file costs one listing and no download (a new
message of the same size uploaded within the same second of the last one would be taken for it:
it is read with the base's next message, which carries all it carried, as 1C sends everything
not yet confirmed); the file is
downloaded only when `open()` is called, into the spool, and checked to have the listed size (a
connection drop or a short transfer is a temporary failure, the next run reads it again).
`in_place()` answers from the receipt written after the rename, checked against the listing:
our message is in place while the file we renamed is still there with its bytes (only when its
listed time alone changed is it downloaded to compare: times are not content, base.py).

Bounds: a session (log in, list) ends within `timeout`, a transfer within `timeout` plus its
size at MIN_RATE (onecsync.deadline); listings are read line by line, keeping only message files'
names (for telling a wrong code, flows/addressing.py), up to LISTING_LINES; a download past its
listed size by a small margin is cut; sizes must be whole numbers (onecsync.answers).
Unreachable, timeouts, drops, 4xx, malformed or oversized answers → TemporaryError (exit 4);
login refused, a missing folder, permission denied → ConfigError (3).
"""

from __future__ import annotations

import ftplib
import io
import logging
import secrets
import ssl
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from typing import Callable
from typing import Iterator

from onecsync import deadline
from onecsync.answers import Malformed
from onecsync.answers import parse_int
from onecsync.config import FtpConfig
from onecsync.errors import OnecsyncError
from onecsync.errors import TemporaryError
from onecsync.i18n import N_
from onecsync.messagefiles import addressed
from onecsync.messagefiles import message_like
from onecsync.messagefiles import message_stem
from onecsync.messagefiles import open_message_file
from onecsync.text import one_line
from onecsync.transport.base import Incoming
from onecsync.transport.base import OutgoingFile
from onecsync.transport.base import fingerprint
from onecsync.transport.base import remove_quietly
from onecsync.transport.base import same_bytes
from onecsync.transport.base import warn_left
from onecsync.transport.ftpconn import FTP
from onecsync.transport.ftpconn import FTPS
from onecsync.transport.ftpconn import Listed
from onecsync.transport.ftpconn import classify
from onecsync.transport.ftpconn import listing
from onecsync.transport.ftpconn import margin
from onecsync.transport.ftpconn import not_a_file
from onecsync.transport.ftpconn import watched
from onecsync.transport.spool import Capped
from onecsync.transport.spool import Spool

TEMP_PREFIX = ".onecsync-tmp-"
MIN_RATE = 64 * 1024     # bytes a second a transfer may not fall below, on average
CHUNK = 1 << 16
log = logging.getLogger("onecsync")


class _Upload(OutgoingFile):
    """Our message written to the spool; `publish()` uploads it (temporary name, then rename)."""

    def __init__(self, transport: FtpTransport, folder: Path, compress: bool,
                 password: str | None) -> None:
        self._transport = transport
        super().__init__(folder, transport.outgoing_name,
                         transport.outgoing_name.replace(".zip", ".xml") if compress else None,
                         password)

    def _deliver(self, fp: str) -> None:
        try:
            self._transport.upload(self.temp, fp)
        finally:
            remove_quietly(self.temp)


class FtpTransport:
    def __init__(self, t: FtpConfig, node_code: str, senders: tuple[str, ...], spool: Spool) -> None:
        self.t = t
        self.folder = t.folder
        host = f"[{t.host}]" if ":" in t.host else t.host  # an IPv6 address, as in a URL
        self.description = f"ftp://{host}:{t.port}{'' if t.folder.startswith('/') else '/'}" \
                           f"{t.folder}"
        # The peer's code first (our file goes to it), then its alias (models.Base.senders).
        self.node_code, self.senders = node_code, senders
        peer_code = senders[0]
        self.outgoing_name = message_stem(node_code, peer_code) + (".zip" if t.compress else ".xml")
        self.spool = spool
        self._seen: list[str] | None = None

    def _archive_password(self) -> str | None:
        return self.t.archive_password.reveal() if self.t.archive_password else None

    # -- connection ------------------------------------------------------------------------
    def _connect(self) -> ftplib.FTP:
        t = self.t
        if t.tls:
            context = ssl.create_default_context(cafile=str(t.ca_file) if t.ca_file else None)
            ftp: FTP = FTPS(context=context, timeout=t.timeout)
        else:
            ftp = FTP(timeout=t.timeout)
        d = deadline.current()
        if d is not None:
            watched(ftp, d)
        try:
            ftp.connect(t.host, t.port)
            ftp.login(t.user, t.password.reveal() if t.password else "")
            if isinstance(ftp, FTPS):
                ftp.prot_p()  # the data connections are protected too, not only the login
            ftp.set_pasv(t.passive)
            ftp.cwd(self.folder)
        except BaseException:
            ftp.close()
            raise
        return ftp

    @contextmanager
    def _session(self, what: str, size: int = 0) -> Iterator[ftplib.FTP]:
        """A logged-in connection in the folder, for one job that must end within `timeout`
        (plus `size` bytes at MIN_RATE)."""
        failures = (ftplib.Error, OSError, EOFError, UnicodeDecodeError)
        # bounded by the cap, not by what the server claims
        limit = self.t.timeout + min(size, self._cap) / MIN_RATE
        with deadline.Deadline(limit) as dl:
            try:
                ftp = self._connect()
            except OnecsyncError:
                raise
            except failures as exc:
                raise self._failed(exc, what, limit, dl) from None
            try:
                yield ftp
            except failures as exc:
                ftp.close()
                raise self._failed(exc, what, limit, dl) from None
            except BaseException:
                ftp.close()  # a listing or download left unfinished: no QUIT after it
                raise
            if dl.expired:
                ftp.close()
                raise self._overdue(what, limit)
            try:
                ftp.quit()
            except (*failures, ValueError):
                ftp.close()

    def _failed(self, exc: BaseException, what: str, limit: float,
                dl: deadline.Deadline) -> OnecsyncError:
        return self._overdue(what, limit) if dl.expired \
            else classify(exc, f"{self.description}: {what}", self.t)

    def _overdue(self, what: str, limit: float) -> TemporaryError:
        return TemporaryError(f"{self.description}: {what}: not done within {limit:.0f} s",
                              remedy="the server is too slow or stalls; the next run retries "
                                     "(raise transport.timeout if it is just slow)")

    def _lines(self, ftp: ftplib.FTP, cmd: str) -> Iterator[str]:
        return listing(ftp, cmd, self.description)

    def _theirs(self, name: str) -> bool:
        """Is `name` one 1C's receiving side takes for the base's message to us?"""
        return any(addressed(name, s, self.node_code) for s in self.senders)

    def _list(self, ftp: ftplib.FTP, names: list[str] | Callable[[str], bool]) -> dict[str, Listed]:
        """Size and modification time of these files in the folder (those that exist; `names`
        may be a test of a name instead)."""
        wanted = names if callable(names) else names.__contains__
        found: dict[str, Listed] = {}
        try:
            ftp.sendcmd("OPTS MLST type;size;modify;")
        except ftplib.error_perm:
            pass  # the facts a server gives by default include these
        entries: dict[str, dict[str, str]] = {}
        seen: list[str] = []  # every message file's name, for telling a wrong code
        odd: list[str] = []
        try:
            for line in self._lines(ftp, "MLSD"):
                facts, _, name = line.partition(" ")
                if not_a_file(name):
                    odd = odd or [name]
                    continue
                seen += [name] if message_like(name) else []
                if wanted(name):
                    entries[name] = dict(f.partition("=")[::2] for f in facts.lower().split(";") if f)
        except ftplib.error_perm as exc:
            if not str(exc).startswith(("500", "501", "502", "504")):
                raise
            listed = list(self._names(ftp))
            odd = [n for n in listed if not_a_file(n)][:1]
            seen = [n for n in listed if message_like(n) and not not_a_file(n)]
            entries = {n: {} for n in seen if wanted(n)}  # no MLSD: ask each file
        if odd and callable(names):  # one line a run (the scan for the base's message)
            log.warning("%s: the server lists names no file can have (as %s): ignored",
                        self.description, one_line(odd[0][:100]))
        self._seen = seen
        for name, entry in entries.items():
            if entry.get("type", "file") == "file":  # RFC 3659: every fact optional, so ask
                found[name] = Listed(name, self._size(ftp, name, entry.get("size")),
                                      entry.get("modify") or ftp.sendcmd(f"MDTM {name}")[4:].strip())
        return found

    def _size(self, ftp: ftplib.FTP, name: str, listed: str | None) -> int:
        if listed:
            return parse_int(listed, f"{self.description}: MLSD {name}", "its size")
        ftp.voidcmd("TYPE I")  # many servers answer SIZE only in binary mode (550 in ASCII)
        reply = ftp.sendcmd(f"SIZE {name}")
        return parse_int(reply[3:] if reply.startswith("213") else reply,
                         f"{self.description}: SIZE {name}", "the size")

    def _names(self, ftp: ftplib.FTP) -> Iterator[str]:
        """NLST, streamed."""
        return self._lines(ftp, "NLST")

    # -- Transport -------------------------------------------------------------------------
    def message_names(self) -> list[str]:
        """The folder's message files at its last listing (fetch or probe made it), for
        telling a wrong code as the directory transport does (flows/addressing.py)."""
        if self._seen is None:
            with self._session("listing the folder") as ftp:
                self._list(ftp, [])
        return list(self._seen or [])

    def probe(self, write: bool = True) -> str:
        """Log in, enter the folder, list it; with `write`, store and delete a probe file (a
        hidden name 1C never reads), as 1C's own FTP connection test does."""
        with self._session("checking the folder") as ftp:
            listed = self._list(ftp, self._theirs)
            if write:
                probe = f".onecsync-probe-{secrets.token_hex(8)}"
                ftp.storbinary(f"STOR {probe}", io.BytesIO(b"onecsync check\n"))
                ftp.delete(probe)
        theirs = [one_line(n.name) for n in [self._newest(listed)] if n is not None]
        seen = N_(f"the base's message {theirs[0]} is there") if theirs else \
            N_("no message from the base in it yet")
        if write:
            return N_(f"{self.description}: readable and writable; {seen}")
        return N_(f"{self.description}: readable; {seen}")

    def fetch(self) -> Incoming | None:
        with self._session("listing the folder") as ftp:
            listed = self._list(ftp, self._theirs)
        if (newest := self._newest(listed)) is None:
            for item in listed.values():
                log.warning("%s/%s is empty: ignored, as 1C ignores it (the base may still be "
                            "writing it)", self.description, item.name)
            return None
        return Incoming(name=f"{self.description}/{newest.name}", fingerprint=newest.key,
                        open=lambda: self._download(newest), settles=True)

    def _newest(self, listed: dict[str, Listed]) -> Listed | None:
        """The newest of the base's non-empty messages, the one 1C takes; the others named."""
        found = sorted((item for item in listed.values() if item.size > 0), reverse=True,
                       key=lambda item: (item.modify, item.name.lower().endswith(".zip"), item.name))
        if found:
            warn_left(f"{self.description}/{found[0].name}", [item.name for item in found[1:]])
        return found[0] if found else None

    def _retrieved(self, item: Listed) -> Path:
        """The file downloaded whole into a new file of the spool (none left on a failure)."""
        self.spool.clear_temps()
        out, temp = self.spool.download(self._cap, f"{self.description}/{item.name}", item.size)
        try:
            with out, self._session(f"downloading {item.name}", item.size) as ftp:
                self._retrieve(ftp, item, out)
            got = temp.stat().st_size
            if got != item.size:
                raise TemporaryError(f"{self.description}/{item.name}: the download was cut "
                                     f"or the file changed: got {got} of {item.size} bytes")
        except BaseException:
            remove_quietly(temp)
            raise
        return temp

    def _download(self, item: Listed) -> IO[bytes]:
        temp = self._retrieved(item)
        try:
            final = self.spool.keep(temp, item.name.lower().endswith(".zip"))
        except BaseException:
            remove_quietly(temp)
            raise
        return open_message_file(final, self._archive_password())

    @property
    def _cap(self) -> int:
        return self.t.max_message_mib << 20

    def _retrieve(self, ftp: ftplib.FTP, item: Listed, out: Capped) -> None:
        """RETR into `out`, cut at once when it runs past the listed size and its margin."""
        most = item.size + margin(item.size)
        got = 0
        ftp.voidcmd("TYPE I")
        with ftp.transfercmd(f"RETR {item.name}") as conn:
            while chunk := conn.recv(CHUNK):
                got += len(chunk)
                if got > most:
                    raise Malformed(f"{self.description}/{item.name}: the download runs past "
                                    f"{most} bytes, but the listing said {item.size}")
                out.write(chunk)
            if isinstance(conn, ssl.SSLSocket):
                conn.unwrap()
        ftp.voidresp()

    def prepare(self) -> _Upload:
        self.spool.clear_temps()
        return _Upload(self, self.spool.ready(), self.t.compress,
                       self._archive_password() if self.t.compress else None)

    def upload(self, path: Path, fp: str) -> None:
        """Upload under a temporary name, check the size, rename into place, then the receipt."""
        size = path.stat().st_size
        temp = f"{TEMP_PREFIX}{secrets.token_hex(8)}-{self.outgoing_name}"
        with self._session(f"uploading {self.outgoing_name}", size) as ftp:
            leftovers = [n for n in self._names(ftp)
                         if n.startswith(TEMP_PREFIX) and n.endswith("-" + self.outgoing_name)]
            for name in leftovers:
                if name != temp:
                    self._delete_quietly(ftp, name)  # a killed run's leftover (we hold the lock)
            try:
                with open(path, "rb") as f:
                    ftp.storbinary(f"STOR {temp}", f)
                stored = self._list(ftp, [temp]).get(temp)
                if stored is None or stored.size != size:
                    raise TemporaryError(f"{self.description}: the upload was cut: the server "
                                         f"holds {stored.size if stored else 0} of {size} bytes")
                try:
                    ftp.rename(temp, self.outgoing_name)
                except ftplib.error_perm:
                    # Some servers (IIS) refuse to rename over an existing file.
                    self._delete_quietly(ftp, self.outgoing_name)
                    ftp.rename(temp, self.outgoing_name)
            except BaseException:
                self._delete_quietly(ftp, temp)
                raise
            placed = self._list(ftp, [self.outgoing_name]).get(self.outgoing_name)
        if placed is None:
            raise TemporaryError(f"{self.description}: {self.outgoing_name} is not there after "
                                 "the rename")
        self.spool.write_receipt({"fingerprint": fp, "remote": placed.key})

    @staticmethod
    def _delete_quietly(ftp: ftplib.FTP, name: str) -> None:
        try:
            ftp.delete(name)
        except (ftplib.Error, OSError, EOFError):
            pass

    def in_place(self, fp: str | None) -> bool:
        """Is our last message still in the folder, exactly as we renamed it there?"""
        receipt = self.spool.receipt()
        if fp is None or receipt is None or receipt.get("fingerprint") != fp:
            return False
        with self._session("listing the folder") as ftp:
            placed = self._list(ftp, [self.outgoing_name]).get(self.outgoing_name)
        if placed is None or placed.key == receipt.get("remote"):
            return placed is not None
        if str(placed.size) != fp.partition(":")[0]:
            return False  # other bytes, certainly
        # The same size, another time (a touch, a copy, a restore on the server): ours while
        # its bytes are ours (base.same_bytes), read once; the receipt then notes its new time.
        temp = self._retrieved(placed)
        try:
            ours = same_bytes(fingerprint(temp), fp)
        finally:
            remove_quietly(temp)
        if ours:
            self.spool.write_receipt({"fingerprint": fp, "remote": placed.key})
        return ours
