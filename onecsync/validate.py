"""`onecsync validate` as one call: a message file checked as the config's exchange sees it.

Public API: `validate_message(path, config=None, max_problems=100, progress=None)` →
`protocol.check.MessageCheck`. The check itself knows nothing of configs: this derives what it
needs (the codes, the versions offered, the archive password of the sending base) from one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from onecsync.config import Config
from onecsync.messagefiles import sender_code
from onecsync.progress import Task

if TYPE_CHECKING:  # lxml and the formats load with the check, when a file is checked
    from onecsync.protocol.check import Expected
    from onecsync.protocol.check import MessageCheck


def validate_message(path: Path, config: Config | None = None, max_problems: int = 100,
                     progress: Task | None = None) -> MessageCheck:
    from onecsync.protocol import check

    return check.check_message(path, expected(config) if config else None,
                               archive_password(config, path), max_problems, progress)


def expected(config: Config) -> Expected:
    """What the config says a message of its exchange carries."""
    from onecsync.protocol.check import Expected

    return Expected(config=config.path, node=config.node.code,
                    bases={b.code: name for name, b in config.bases.items()},
                    formats=config.node.formats)


def archive_password(config: Config | None, path: Path) -> str | None:
    """The archive password a run would use for this file: that of the base whose code names
    it as the sender (Message_<from>_<to>), else the one password all bases share."""
    if config is None:
        return None
    sender = sender_code(path.name)
    secrets = {b.code.lower(): b.transport.archive_password for b in config.bases.values()}
    if sender in secrets:
        chosen = secrets[sender]
    else:
        distinct = {repr(s): s for s in secrets.values() if s is not None}
        chosen = next(iter(distinct.values())) if len(distinct) == 1 else None
    return chosen.reveal() if chosen is not None else None
