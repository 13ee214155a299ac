"""Transports move message files between onecsync and a base; one module per kind.

Public API: `build_transport(base, node_code, ...)`, `SPOOL_FOLDER`.
"""

from __future__ import annotations

from pathlib import Path

from onecsync.config import DEFAULT_PLAN
from onecsync.config import Base
from onecsync.config import DirectoryConfig
from onecsync.config import FtpConfig
from onecsync.places import SPOOL_FOLDER
from onecsync.transport.base import Transport
from onecsync.transport.directory import DirectoryTransport
from onecsync.transport.spool import Spool

__all__ = ["SPOOL_FOLDER", "build_transport"]  # SPOOL_FOLDER (onecsync.places): beside the state


def build_transport(base: Base, node_code: str, *, exchange_plan: str = DEFAULT_PLAN,
                    state_dir: Path | None = None, dry_run: bool = False) -> Transport:
    """`node_code` as the config spells it: a file name carries the codes as the admin typed
    them into the base too (messagefiles.py), the HTTP service gets them in lower case."""
    t = base.transport
    if isinstance(t, DirectoryConfig):
        # A folder's transport keeps only its notes there (transport/candidates.py).
        notes = Spool(state_dir / SPOOL_FOLDER / base.name, dry_run=dry_run) if state_dir else None
        return DirectoryTransport(t.path, node_code, base.senders, t.compress, t.archive_password,
                                  notes, max_file=t.max_message_mib << 20)
    spool = Spool(state_dir / SPOOL_FOLDER / base.name if state_dir else None, dry_run=dry_run)
    if isinstance(t, FtpConfig):
        from onecsync.transport.ftp import FtpTransport

        return FtpTransport(t, node_code, base.senders, spool)
    from onecsync.transport.http import HttpTransport

    return HttpTransport(t, node_code.lower(), base.code, exchange_plan, spool)
