"""The base's message waiting in its folder now, by its header, read without changing anything.

Public API: `Waiting`, `waiting_message(config, peer)`, `rejected_waiting(config, peer)`.

For the admin's commands that must not contradict it: `state set-numbers --received` refuses a
number at or above it (that message, and the base's next ones, would be skipped as received
earlier), and `check` and `status` tell when the quarantine holds it as rejected. Only a
directory is read: over FTP the header comes only with a download of the whole message, and over
HTTP asking for it makes the base export a new one (UploadData). Those say nothing here (None),
but `check`, which reaches the FTP server anyway, finds a rejected message there too by the
fingerprint of its listing, which the quarantine keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

from onecsync.config import Config
from onecsync.config import DirectoryConfig
from onecsync.config import FtpConfig
from onecsync.errors import OnecsyncError
from onecsync.quarantine import Quarantine
from onecsync.state.status_report import Rejected
from onecsync.transport import build_transport
from onecsync.transport.base import Incoming


@dataclass(frozen=True)
class Waiting:
    """The file (`name`) and its MessageNo (`number`, None when its header cannot be read:
    not complete yet, or no message at all)."""

    name: str
    number: int | None


def fetched(config: Config, peer: str, ftp: bool = False) -> Incoming | None:
    """The base's message as a run would fetch it (dry: nothing is written), or None."""
    base = config.bases[peer]
    if not isinstance(base.transport, (DirectoryConfig, FtpConfig) if ftp else DirectoryConfig):
        return None
    transport = build_transport(base, config.node.as_typed,
                                exchange_plan=config.node.exchange_plan,
                                state_dir=config.state_dir, dry_run=True)
    try:
        return transport.fetch()
    except OnecsyncError:
        return None  # a run (or check) says why; the admin's command does without it


def waiting_message(config: Config, peer: str) -> Waiting | None:
    from onecsync.protocol.reader import MessageReader  # here: status imports this, and no lxml

    incoming = fetched(config, peer)
    if incoming is None:
        return None
    try:
        with incoming.open() as stream:
            number = MessageReader(stream, incoming.name).header.message_no
    except (OnecsyncError, OSError, ValueError):
        number = None
    finally:
        incoming.close()
    return Waiting(incoming.name, number if number is not None and number > 0 else None)


def rejected_waiting(config: Config, peer: str, ftp: bool = False) -> Rejected | None:
    """The quarantine's entry for the base's message in its folder now, if a run rejected it
    (`ftp`: a listing over FTP too). Judged by its fingerprint alone, never by reading it
    whole (a message of gigabytes): the run that finds the same bytes touched records the new
    fingerprint, and meanwhile this says nothing."""
    incoming = fetched(config, peer, ftp)
    if incoming is None:
        return None
    try:
        entry = Quarantine(config, dry_run=True).rejected(peer, incoming, read=False)
    finally:
        incoming.close()
    if entry is None:
        return None
    data = entry.data
    return Rejected(incoming.name, data.get("first_seen"), data.get("reason"), str(entry.path))
