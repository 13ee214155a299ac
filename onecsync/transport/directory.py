"""1C's "Каталог" (FILE) transport, seen from the other side of the shared folder.

Public API: `DirectoryTransport`, `PROBE_PREFIX`.

From the peer we read what 1C's own receiving side reads, `Message*_<peer>_<node>.xml|.zip`
(any infobase prefix, the codes in any case: messagefiles.py), the newest by modification time
(empty files ignored, as 1C ignores them; the folder listed once, and judged by candidates.py),
and never change or delete it. To the peer we write `Message_<node>_<peer>.xml|.zip`, the codes spelled as in the
config, through a hidden temporary file in the same folder, renamed into place only after the
state has recorded the message: a crash before the rename leaves the peer with our previous,
complete message.

The folder is writable by others (the base's users, whoever mounts the share), so: the base's
message is opened without following a link (a link is followed only to a regular file in the same
folder) and without blocking (theirs.py), and is judged, fingerprinted and read from that one
descriptor; anything but a regular file under a name of the base's message, or a directory where ours goes, is a
`StrayEntry` (exit 3: a human removes it). Our temporary and probe files are created new under
unpredictable names (files.create_new). A run (holding the run lock) removes the temporary files
a killed run left, but only regular files of this user; whatever else sits under a name of ours
is left alone, and reported after the message was sent (it never blocks sending).
"""

from __future__ import annotations

import errno
import functools
import io
import logging
import os
import re
import secrets
import stat
import time
from pathlib import Path
from typing import IO

from onecsync.errors import ConfigError
from onecsync.errors import MessageRejected
from onecsync.errors import StrayEntry
from onecsync.files import FdReader
from onecsync.files import create_new
from onecsync.files import entry_kind
from onecsync.files import fsync_folder
from onecsync.files import is_ours
from onecsync.files import open_regular
from onecsync.i18n import N_
from onecsync.messagefiles import MAX_FILE
from onecsync.messagefiles import message_like
from onecsync.messagefiles import message_stem
from onecsync.messagefiles import open_zip_entry
from onecsync.messagefiles import outgoing_entry
from onecsync.secret import Secret
from onecsync.text import one_line
from onecsync.transport.base import Incoming
from onecsync.transport.base import OutgoingFile
from onecsync.transport.base import fingerprint
from onecsync.transport.base import fingerprint_fd
from onecsync.transport.base import os_failure
from onecsync.transport.base import remove_quietly
from onecsync.transport.base import same_bytes
from onecsync.transport.candidates import judge_beside
from onecsync.transport.candidates import judge_shadows
from onecsync.transport.spool import Spool
from onecsync.transport.theirs import Listing
from onecsync.transport.theirs import Newest
from onecsync.transport.theirs import folder_names
from onecsync.transport.theirs import heads
from onecsync.transport.theirs import list_folder
from onecsync.transport.theirs import newest
from onecsync.transport.theirs import shadowing
from onecsync.transport.whereabouts import moved
from onecsync.transport.whereabouts import remember

PROBE_PREFIX = ".onecsync-probe-"
_PROBE_AGE = 60  # seconds: a check that is still going has its probe for milliseconds
# The names onecsync gives its own files in a folder (pids before 0.x, random hex now).
_OURS = re.compile(r"^\.onecsync-(?:tmp-[0-9a-f]+-(?P<name>.+)|probe-[0-9a-f]+)$")
log = logging.getLogger("onecsync")


def _blocked(final: Path) -> StrayEntry:
    return StrayEntry(f"{final} is a directory, where onecsync puts its message to the base",
                      remedy="remove it: onecsync cannot write its message while it is there")


class _Owning(FdReader):
    """An FdReader that closes its descriptor with it."""

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


def _remove_ours(path: str) -> None:
    """Remove a file of ours from the folder; one the folder will not let go is a lasting
    condition (an append-only folder, a share without "delete"), named for a human."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise _undeletable(Path(path), exc) from None


def _undeletable(path: Path, exc: OSError, what: str = "removed") -> ConfigError:
    return ConfigError(
        f"{path.parent}: onecsync's file {path.name} can be created there but not {what} "
        f"({exc.strerror or exc}), so no run can put its message in place; it is left there",
        remedy="let this user rename and delete files in the folder (an append-only attribute: "
               "chattr -a; a share: the 'delete' right), then remove that file")


class _TempFile(OutgoingFile):
    """Our message in a hidden file of the folder; `publish()` renames it into place (a
    rename replaces a link or a FIFO under the name, it never writes through it). Its mode is
    the umask's: the base's user must read it (README, "The shared folder and the rights")."""

    def __init__(self, folder: Path, final: Path, compress: bool,
                 password: str | None = None) -> None:
        self.final = final
        super().__init__(folder, final.name,
                         final.with_suffix(".xml").name if compress else None, password,
                         durable=True, mode=None, where=f"folder {folder}")

    def _deliver(self, fp: str) -> None:
        try:
            os.replace(self.temp, self.final)
        except OSError as exc:
            if exc.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
                raise _blocked(self.final) from None
            if exc.errno in (errno.EPERM, errno.EACCES):
                remove_quietly(self.temp)
                if os.path.lexists(self.temp):  # the next run must not add one more of its size
                    raise _undeletable(self.temp, exc, "renamed") from None
            raise
        fsync_folder(self.final.parent)


class DirectoryTransport:
    def __init__(self, folder: Path, node_code: str, senders: tuple[str, ...], compress: bool,
                 archive_password: Secret | None = None, spool: Spool | None = None,
                 max_file: int = MAX_FILE) -> None:
        self.folder = folder
        self.max_file = max_file  # transport.max_message_mib
        self.spool = spool  # where a run keeps its notes (candidates.say_left)
        self._seen: list[str] | None = None
        # The peer's code first (our file goes to it), then its alias (models.Base.senders).
        self.node_code, self.senders = node_code, senders
        peer_code = senders[0]
        self.outgoing_name = message_stem(node_code, peer_code) + (".zip" if compress else ".xml")
        self.compress = compress
        self.archive_password = archive_password
        self.description = f"folder {folder}"

    def _password(self) -> str | None:
        return self.archive_password.reveal() if self.archive_password else None

    # -- the base's message --------------------------------------------------------------
    def _must_be_a_folder(self, doing: str) -> None:
        """transport.path is a folder (a link to one will do): else one line saying what it is
        (a file there was called "the folder does not exist")."""
        try:
            mode = os.stat(self.folder).st_mode
        except OSError as exc:
            raise os_failure(exc, f"{doing} {self.folder}", self.folder) from None
        if not stat.S_ISDIR(mode):
            raise ConfigError(f"{doing} {self.folder}: it is a {entry_kind(mode)}, not a folder",
                              remedy="fix transport.path")

    def fetch(self) -> Incoming | None:
        self._must_be_a_folder("reading")
        try:
            if (found := self._newest()) is None:
                return None
            try:  # a tie may make another file the one to read (theirs.heads)
                judged = heads(self.folder, found, self._open, self.senders, self.node_code,
                               self.spool)
                fd, st, path = found.fd, found.st, found.path
                fp = fingerprint_fd(fd)
            except BaseException:
                os.close(found.fd)
                raise
        except OSError as exc:
            raise os_failure(exc, f"reading {exc.filename or self.folder}") from None
        zipped = path.suffix.lower() == ".zip"
        return Incoming(name=str(path), fingerprint=fp, open=lambda: self._open(fd, path),
                        size=None if zipped else st.st_size,
                        raw=lambda: io.BufferedReader(FdReader(fd), 1 << 20), settles=True,
                        current=lambda: fingerprint_fd(fd), close=lambda: os.close(fd),
                        beside=functools.partial(judge_beside, str(self.folder), judged,
                                                 str(path), found.left, self.spool))

    def _newest(self) -> Newest | None:
        """The folder listed once (theirs.py), what 1C takes for our message judged, and the
        base's newest message in that listing, open."""
        listing = list_folder(self.folder, self.senders, self.node_code)
        self._seen = [n for n in listing.names if message_like(n)] if listing.listed else []
        self._shadowed(listing)
        return newest(self.folder, self.senders, self.node_code, listing)

    def _open(self, fd: int, path: Path) -> IO[bytes]:
        if (size := os.fstat(fd).st_size) > (cap := self.max_file):  # refused unread
            raise MessageRejected(f"the file is {size} bytes, over the cap of {cap} bytes for a "
                                  "message file (transport.max_message_mib); refused unread",
                                  source=str(path), oversize=True)
        stream = io.BufferedReader(FdReader(fd), 1 << 20)
        if path.suffix.lower() == ".zip":
            return open_zip_entry(stream, str(path), self._password())
        return stream

    def message_names(self) -> list[str]:
        """The names of the folder's message files at its last listing (a fetch or a probe made
        it: the one listing of a receive), for telling a wrong code (addressing.py)."""
        if self._seen is None:
            try:
                self._seen = [n for n in folder_names(self.folder) if message_like(n)]
            except OSError:
                return []
        return list(self._seen)

    def _shadowed(self, listing: Listing) -> None:
        judge_shadows(str(self.folder), self.outgoing_name,
                      *shadowing(self.folder, listing, self.outgoing_name, self.node_code,
                                 self.senders))

    # -- our message ---------------------------------------------------------------------
    def _leftovers(self, remove: bool) -> list[str]:
        """Entries under names of ours. Regular files of this user are what a killed run (or
        check) left: removed when `remove` (a run holds the lock, so none is in use); one that
        cannot be removed is exit 3, before another of its size is written. The others are not
        ours to touch: named, for the admin."""
        try:
            entries = list(os.scandir(self.folder))
        except PermissionError:
            return []  # a share we may use but not list: nothing to tidy either
        strays = []
        for entry in entries:
            m = _OURS.match(entry.name)
            if not m or m.group("name") not in (None, self.outgoing_name):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if is_ours(st):
                if remove:
                    _remove_ours(entry.path)
            else:
                whose = f" of user {st.st_uid}" if stat.S_ISREG(st.st_mode) else ""
                strays.append(f"{entry.path} (a {entry_kind(st.st_mode)}{whose})")
        return strays

    def strays(self) -> list[str]:
        """Entries under names of ours that are not ours (never blocking; see the docstring)."""
        try:
            return self._leftovers(remove=False)
        except OSError:
            return []  # the send names the folder's problem itself

    def _check_final(self) -> Path:
        final = self.folder / self.outgoing_name
        try:
            if stat.S_ISDIR(os.lstat(final).st_mode):
                raise _blocked(final)
        except FileNotFoundError:
            pass
        return final

    def prepare(self) -> _TempFile:
        self._must_be_a_folder("writing to")
        try:
            final = self._check_final()
            self._leftovers(remove=True)
            remember(self.spool, self.folder)
            return _TempFile(self.folder, final, self.compress,
                             self._password() if self.compress else None)
        except OSError as exc:
            raise os_failure(exc, f"writing to {self.folder}") from None

    def probe(self, write: bool = True) -> str:
        """Can a run use the folder? Raises what a run would raise; else says what is there.

        `write`: prove it by writing and removing a probe file (hidden, never a name 1C reads),
        as 1C's own connection test does; False (for --dry-run) only asks the OS.
        """
        theirs = []
        self._must_be_a_folder("checking")
        try:
            os.listdir(self.folder)  # readable: what a run needs first
            if (found := self._newest()) is not None:
                try:  # as a run judges it, said on every check
                    judge_beside(str(self.folder), heads(self.folder, found, self._open,
                                                         self.senders, self.node_code),
                                 str(found.path), found.left)
                finally:
                    os.close(found.fd)
                theirs.append(one_line(found.path.name))
            self._check_final()
            if strays := self._leftovers(remove=False):
                raise StrayEntry(f"{strays[0]} is named like onecsync's own files but is not "
                                 "one of them; it is left alone"
                                 + (f" (and {len(strays) - 1} more)" if len(strays) > 1 else ""))
            if write:
                self._probe_file()
            elif not os.access(self.folder, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, "not writable", str(self.folder))
        except OSError as exc:
            raise os_failure(exc, f"checking {self.folder}") from None
        seen = N_(f"the base's message {theirs[0]} is there") if theirs else \
            N_("no message from the base in it yet")
        return N_(f"{self.description}: readable and writable; {seen}")

    def _probe_file(self) -> None:
        """What a run does with its message, done with a small file: create, rename, remove. A
        folder that lets a file be created but not renamed or removed (append-only, a share
        whose ACL grants "create" without "delete") fails every run, and is said now."""
        self._old_probes()
        fd, probe = create_new(self.folder, PROBE_PREFIX)
        try:
            os.write(fd, b"onecsync check\n")
        except BaseException:
            remove_quietly(probe)
            raise
        finally:
            os.close(fd)
        moved = probe.with_name(PROBE_PREFIX + secrets.token_hex(8))
        try:
            os.rename(probe, moved)
        except OSError as exc:
            remove_quietly(probe)
            if os.path.lexists(probe):
                raise _undeletable(probe, exc, "renamed") from None
            raise
        try:
            os.unlink(moved)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _undeletable(moved, exc) from None

    def open_outgoing(self) -> IO[bytes] | None:
        """The file under our message's name now, as a stream of its XML (None: none there, or
        not a regular file): for telling whose message it is when it is not ours. Closed by
        the caller."""
        path = self.folder / self.outgoing_name
        try:
            fd, _ = open_regular(path)
        except OSError:
            return None
        try:
            raw = io.BufferedReader(_Owning(fd), 1 << 16)
        except BaseException:
            os.close(fd)
            raise
        return outgoing_entry(raw, str(path), self._password()) if self.compress else raw

    def _old_probes(self) -> None:
        """A probe of ours older than any check takes is one a folder would not let go: tried
        again, and named if it still will not go (one check after another adds none)."""
        for entry in os.scandir(self.folder):
            if not entry.name.startswith(PROBE_PREFIX) or not _OURS.match(entry.name):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # gone meanwhile (another check's probe)
            # Dated in the future (a clock stepped back): as old as one from long ago.
            if is_ours(st) and abs(time.time() - st.st_mtime) > _PROBE_AGE:
                _remove_ours(entry.path)

    def in_place(self, fp: str | None) -> bool:
        """Is our last message still there, the bytes we wrote (a regular file, not a link
        someone put in its place)? Its times may have changed (base.py: same_bytes). Where it
        is, the folder is remembered (whereabouts.py)."""
        if fp is None:
            return False
        try:
            placed = same_bytes(fingerprint(self.folder / self.outgoing_name), fp)
        except OSError:
            return False
        if placed:
            remember(self.spool, self.folder)
        return placed

    def moved(self) -> bool:
        """Is the folder not the one our message was last in (whereabouts.py)?"""
        return moved(self.spool, self.folder)
