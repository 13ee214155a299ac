"""The settings-only message we give each base before any data flows (protocol §1.4, §2).

Public API: `settings_header(config, peer, kept=True)`, `default_file_name(config, peer)`,
`write_to(fp, config, peer)`, `is_settings_only(path)`,
`write_settings_message(config, peer, target, force=False, kept=True)`, `SettingsMessageReport`.

It is an EnterpriseData message with the bare format URI, Confirmation numbered 0/0, our
versions, declared object types and prefix, and no Body: 1C only records what it says (the
versions, object types and prefix of its "onecsync" node) and changes no number. An admin loads
it in the base's setup wizard or drops it in the exchange folder under its exchange name
`Message_<our code>_<base code>.xml`. It declares what our next data message would: the flows'
types, and those a message we wrote declared before (`declared_to`: 1C would stop registering
a type for us that a settings message dropped), read from the state without the run lock.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from onecsync import formats
from onecsync.config import Config
from onecsync.errors import MessageRejected
from onecsync.errors import Refused
from onecsync.files import FdReader
from onecsync.files import open_regular
from onecsync.files import write_atomically
from onecsync.flows.declared import declared_to
from onecsync.protocol.envelope import Header
from onecsync.protocol.reader import MessageReader
from onecsync.protocol.writer import utc_now_text
from onecsync.protocol.writer import write_message
from onecsync.state import open_readonly


@dataclass(frozen=True)
class SettingsMessageReport:
    """What `settings-message` wrote (or, dry, would write); `to_json` is the --json contract."""

    dry_run: bool
    peer: str
    file: str
    to: str
    sender: str  # `from` in JSON
    versions: tuple[str, ...]

    def to_json(self) -> dict:
        return {"command": "settings-message", "exit_code": 0, "dry_run": self.dry_run,
                "peer": self.peer, "file": self.file, "to": self.to, "from": self.sender,
                "versions": list(self.versions)}


def settings_header(config: Config, peer: str, kept: bool = True) -> Header:
    """`kept` False: the state is not this node's (init gave the node a new code, which needs
    a new state), so nothing in it is kept declared."""
    state = open_readonly(config.state) if kept else None  # a run may be going: its last commit
    try:
        declared = declared_to(config, peer, state)
    finally:
        if state is not None:
            state.close()
    return Header(
        format=formats.BASE_URI, creation_date=utc_now_text(),
        exchange_plan=config.node.exchange_plan, to=config.bases[peer].as_typed,
        sender=config.node.as_typed, message_no=0, received_no=0,
        available_versions=config.node.formats, object_types=declared,
        prefix=config.node.prefix)


def default_file_name(config: Config, peer: str) -> str:
    """The name 1C's "Каталог" transport looks for: the file works in the folder as it is."""
    return f"Message_{config.node.as_typed}_{config.bases[peer].as_typed}.xml"


def write_to(fp: IO[bytes], config: Config, peer: str) -> None:
    write_message(fp, settings_header(config, peer), None, None)


def is_settings_only(path: Path) -> bool:
    """Is the file at `path` a settings-only message (safe to replace with a newer one)? Read
    as any file of an exchange folder: never through a link, never blocking on a FIFO."""
    try:
        fd, _ = open_regular(path)
    except OSError:
        return False
    try:
        with io.BufferedReader(FdReader(fd)) as f:
            return MessageReader(f, source=str(path)).header.settings_only
    except (OSError, MessageRejected):
        return False
    finally:
        os.close(fd)


def write_settings_message(config: Config, peer: str, target: Path, force: bool = False,
                           kept: bool = True) -> Path:
    """Write the message to `target` (a file, or a folder for the default name), atomically.

    An existing file is replaced only if it is itself a settings-only message (or with
    `force`): the same name in an exchange folder may hold our last data message, which the
    base has not confirmed yet.
    """
    if target.is_dir():
        target = target / default_file_name(config, peer)
    if os.path.lexists(target) and not force and not is_settings_only(target):
        raise Refused(f"{target} exists and is not a settings-only message (it may be a data "
                      "message the base has not read yet)",
                      remedy="choose another file with -o, or pass --force to replace it")
    header = settings_header(config, peer, kept)
    # the base's service account must be able to read it
    return write_atomically(target, lambda f: write_message(f, header, None, None), 0o644,
                            suffix=".xml")
