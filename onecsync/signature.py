"""The one fingerprint of a value onecsync compares with what it kept: a config input routing
was judged by (flows/rejudge.py), the context a rejected file was judged in (quarantine.py).

Public API: `signature(value)`.
"""

from __future__ import annotations

import hashlib

from onecsync.text import json_bytes


def signature(value: object) -> str:
    """The sha256 (hex) of `value` as JSON: equal for equal values, a mapping's keys in any
    order, Cyrillic as UTF-8 (the signatures states keep were made so: none changes)."""
    return hashlib.sha256(json_bytes(value, sort_keys=True)).hexdigest()
