"""Transports move message files between onecsync and a base; one module per kind.

Public API: `build_transport(base, node_code)`.
"""

from __future__ import annotations

from onecsync.config import Base
from onecsync.transport.base import Transport
from onecsync.transport.directory import DirectoryTransport


def build_transport(base: Base, node_code: str) -> Transport:
    t = base.transport
    if t.kind == "directory":
        return DirectoryTransport(t.path, node_code, base.code, t.compress, t.archive_password)
    raise ValueError(f"unknown transport kind {t.kind!r}")  # config validation prevents this
