"""The config's text in Unicode NFC, as 1C writes its names: one spelling for what looks alike.

Public API: `composed(data)`, `composed_sources(sources)`.

A config edited on macOS, or pasted from a PDF, may hold "й" as "и" + U+0306 (NFD): a type
name, a field path, a mapping key or value, or an ИНН filter that looks right would match
nothing 1C sends, or be refused with a line that shows the very name the schema has (review R4
#5). So every key and text value is composed at load, but for those that name a place or hold a
secret, taken byte for byte as typed: a file name in NFD is another file on Linux, and a
password is the base's to compare.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from onecsync.config.yamlsafe import Sources

_AS_TYPED = frozenset({"state", "path", "url", "healthcheck_url", "host", "password"})


def _as_typed(key: object) -> bool:
    return isinstance(key, str) and (key in _AS_TYPED or key.endswith(("_file", "_env")))


def _nfc(value: Any) -> Any:
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def composed(data: Any) -> Any:
    """`data` (the YAML as read) with its keys and text values in NFC, places and secrets kept."""
    if isinstance(data, dict):
        return {_nfc(k): v if _as_typed(k) and isinstance(v, str) else composed(v)
                for k, v in data.items()}
    if isinstance(data, list):
        return [composed(v) for v in data]
    return _nfc(data)


def composed_sources(sources: Sources) -> Sources:
    """yamlsafe's sources keyed by the dotted paths of the composed keys."""
    return {(_nfc(k) if isinstance(k, str) else (_nfc(k[0]), k[1])): v
            for k, v in sources.items()}
