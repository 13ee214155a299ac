"""1C's "FTP" transport, seen from the other side of the FTP folder.

Public API: `FtpTransport`.

The same names and rules as the directory transport (SSL `DataProcessors/
ExchangeMessageTransportFTP`, `GetMessage`: the newest of the base's files by modification time,
empty files ignored): from the base we read `Message*_<peer>_<node>.xml|.zip` (any prefix, the
codes in any case: messagefiles.py), one listing judged as a folder's (candidates.py: what 1C
takes for our message, empty files, the files beside the newest), and never change or delete
it; to the base we upload `Message_<node>_<peer>.xml|.zip` under a temporary name in the same
folder and rename it into place, so the base never sees half a message, then prove the file
under our name the one we uploaded (ftpupload.py: a server's "250" is only its word; the
receipt is written for a proved file only); a message From our code that we did not write
there is another onecsync's (`open_outgoing`, flows/exchange.py).

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
import functools
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
from onecsync.config import FtpConfig
from onecsync.errors import OnecsyncError
from onecsync.errors import TemporaryError
from onecsync.files import open_named
from onecsync.i18n import N_
from onecsync.messagefiles import addressed
from onecsync.messagefiles import message_stem
from onecsync.messagefiles import open_message_file
from onecsync.messagefiles import open_zip_entry
from onecsync.messagefiles import outgoing_entry
from onecsync.text import one_line
from onecsync.transport import ftpupload
from onecsync.transport.base import Incoming
from onecsync.transport.base import OutgoingFile
from onecsync.transport.base import fingerprint
from onecsync.transport.base import remove_quietly
from onecsync.transport.base import same_bytes
from onecsync.transport.candidates import PEEKED
from onecsync.transport.candidates import judge_beside
from onecsync.transport.candidates import judge_shadows
from onecsync.transport.candidates import shadows
from onecsync.transport.candidates import warn_empty
from onecsync.transport.ftpconn import FTP
from onecsync.transport.ftpconn import FTPS
from onecsync.transport.ftpconn import Listed
from onecsync.transport.ftpconn import classify
from onecsync.transport.ftpconn import margin
from onecsync.transport.ftpconn import watched
from onecsync.transport.ftpfolder import heads
from onecsync.transport.ftpfolder import list_files
from onecsync.transport.spool import Capped
from onecsync.transport.spool import Spool

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

    def _theirs(self, name: str) -> bool:
        """Is `name` one 1C's receiving side takes for the base's message to us?"""
        return any(addressed(name, s, self.node_code) for s in self.senders)

    def _judged(self, name: str) -> bool:
        """Is `name` one a receive looks at: the base's message to us, ours, or one 1C's
        receiving side takes for ours (candidates.shadows)?"""
        return self._theirs(name) or name == self.outgoing_name \
            or any(addressed(name, self.node_code, s) for s in self.senders)

    def _list(self, ftp: ftplib.FTP, names: list[str] | Callable[[str], bool]) -> dict[str, Listed]:
        """Size and modification time of these files in the folder (those that exist; `names`
        may be a test of a name instead: the scan for the base's message, which says once a
        run a name no file can have)."""
        def odd(name: str) -> None:
            log.warning("%s: the server lists names no file can have (as %s): ignored",
                        self.description, one_line(name[:100]))
        found, self._seen = list_files(ftp, self.description, names if callable(names)
                                       else names.__contains__, odd if callable(names) else None)
        return found

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
            listed = self._list(ftp, self._judged)
            if write:
                probe = f".onecsync-probe-{secrets.token_hex(8)}"
                ftp.storbinary(f"STOR {probe}", io.BytesIO(b"onecsync check\n"))
                ftp.delete(probe)
        if (newest := self._newest(listed, None)) is not None:
            newest[1](None)  # as a run judges those beside it, said on every check
        theirs = [one_line(newest[0].name)] if newest is not None else []
        seen = N_(f"the base's message {theirs[0]} is there") if theirs else \
            N_("no message from the base in it yet")
        if write:
            return N_(f"{self.description}: readable and writable; {seen}")
        return N_(f"{self.description}: readable; {seen}")

    def fetch(self) -> Incoming | None:
        with self._session("listing the folder") as ftp:
            listed = self._list(ftp, self._judged)
        if (newest := self._newest(listed, self.spool)) is None:
            return None
        item, judge = newest
        return Incoming(name=f"{self.description}/{item.name}", fingerprint=item.key,
                        open=lambda: self._download(item), settles=True, beside=judge)

    def _newest(self, listed: dict[str, Listed],
                notes: Spool | None) -> tuple[Listed, Callable[[int | None], None]] | None:
        """Of one listing, as the directory transport judges its own (candidates.py): what 1C
        takes for our message, then the newest of the base's non-empty messages, the one 1C
        takes, and the judgement of those beside it (candidates.judge_beside; `notes`: a
        run's, to name them once per change)."""
        others = {n: item.modify for n, item in listed.items()
                  if n != self.outgoing_name and not self._theirs(n)}
        ours = listed.get(self.outgoing_name)
        judge_shadows(self.description, self.outgoing_name,
                      *shadows(self.outgoing_name, others, ours.modify if ours else None))
        theirs = [item for item in listed.values() if self._theirs(item.name)]
        found = sorted((item for item in theirs if item.size > 0), reverse=True,
                       key=lambda item: (item.modify, item.name.lower().endswith(".zip"), item.name))
        if not found:
            warn_empty(self.description, sorted(item.name for item in theirs))
            return None
        judged = heads(found[0], found[1:PEEKED + 1], self.spool, self._retrieved, self._opened,
                       self.senders, self.node_code)
        return found[0], functools.partial(
            judge_beside, self.description, judged, f"{self.description}/{found[0].name}",
            [item.name for item in found[1:]], notes)

    def _opened(self, path: Path, name: str) -> IO[bytes]:
        """A download of `name`, whatever the spool calls it, as a stream of its XML."""
        if name.lower().endswith(".zip"):
            return open_zip_entry(path, f"{self.description}/{name}", self._archive_password())
        return open_named(path)

    def open_outgoing(self) -> IO[bytes] | None:
        """The file under our message's name now, as a stream of its XML (None: none there, or
        no message), for telling whose message it is when it is not ours (flows/exchange.py:
        another onecsync writing there), as the directory transport tells it."""
        with self._session("listing the folder") as ftp:
            placed = self._list(ftp, [self.outgoing_name]).get(self.outgoing_name)
        if placed is None:
            return None
        temp = self._retrieved(placed)
        try:  # open: it is read after the name is gone; a broken one is MessageRejected
            if placed.name.lower().endswith(".zip"):
                return outgoing_entry(temp, f"{self.description}/{placed.name}",
                                      self._archive_password())
            return open_named(temp)
        finally:
            remove_quietly(temp)

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
        """Put the file in place (ftpupload.py), proved ours, then the receipt."""
        with self._session(f"uploading {self.outgoing_name}", path.stat().st_size) as ftp:
            placed, proved = ftpupload.put(ftp, self.description, path, self.outgoing_name,
                                           self._list)
        if not proved and not self._holds(placed, fp):
            raise ftpupload.not_ours(self.description, self.outgoing_name,
                                     N_("the file there has other bytes than ours"))
        self.spool.write_receipt({"fingerprint": fp, "remote": placed.key})

    def in_place(self, fp: str | None) -> bool:
        """Is our last message still in the folder, the bytes we wrote (base.same_bytes)? Said
        by the receipt while the listing shows the file we renamed there; else, when the size is
        ours (a touch or a restore on the server; a crash between the rename and the receipt),
        by its bytes, read once: the receipt then notes it. So "not in place" always means other
        bytes, which tell another writer's message from ours (flows/exchange.py)."""
        if fp is None:
            return False
        receipt = self.spool.receipt() or {}
        with self._session("listing the folder") as ftp:
            placed = self._list(ftp, [self.outgoing_name]).get(self.outgoing_name)
        if placed is None or str(placed.size) != fp.partition(":")[0]:
            return False  # none, or other bytes, certainly
        if receipt.get("fingerprint") == fp and placed.key == receipt.get("remote"):
            return True
        if ours := self._holds(placed, fp):
            self.spool.write_receipt({"fingerprint": fp, "remote": placed.key})
        return ours

    def _holds(self, placed: Listed, fp: str) -> bool:
        """Does the file hold the bytes `fp` describes? It is read (the bytes decide)."""
        temp = self._retrieved(placed)
        try:
            return same_bytes(fingerprint(temp), fp)
        finally:
            remove_quietly(temp)
