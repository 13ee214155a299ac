"""The one place a server's answer is parsed: bounded, then checked against its small schema.

Public API: `Malformed`, `DuplicateKey`, `parse_json(body, where, schema)`, `loads(body)`, `too_deep(body)`,
`parse_int(text, where, what)`, `Obj`, `ListOf`, `GUID`, `AMOUNT`, and the schemas of the answers onecsync
reads (`UPLOAD_DATA`, …,
`ODATA_PAGE`).

Every JSON answer goes through `parse_json` with the schema of its request (HttpClient.json
requires one), so a new request cannot forget to check what it gets: a value of the wrong type,
a row that is not an object, a key that is missing, `NaN`/`Infinity`, nesting deeper than any
real answer, text that is not UTF-8, an object naming one key twice (a lying server could hide
a value behind the one Python keeps). Each is a `Malformed` answer: one line naming the server,
the request and what was wrong, exit 4 (a server that lies now may answer well on the next
run), never a traceback. Extra keys are allowed: 1C adds fields between versions.
"""

from __future__ import annotations

import json
import re
from typing import Any

from onecsync.errors import TemporaryError

DEPTH = 32  # real answers nest 3 deep (OData rows with a table); Python's parser stops at ~1000
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")


class Malformed(TemporaryError):
    """An answer that is not what the protocol says: not retried within the run."""

    remedy = "the server answered something the protocol does not allow; the next run retries"


class _Wrong(Exception):
    pass


class _Guid:
    """A string holding a GUID (1C's Ref_Key and *_Key fields)."""


GUID = _Guid()


class _Amount:
    """A sum of money, as 1C's OData writes an Edm.Double or Edm.Decimal: a JSON number, or
    decimal text (OData's JSON writes a Decimal so), within 1C's Число(15, 2) with room to spare.
    Anything else (null, true, an object, 10**27, "1e999999999") is no amount to compare."""


AMOUNT = _Amount()
AMOUNT_LIMIT = 10**15
_DECIMAL = re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,18})?\Z")
_NAMES = {str: "a string", int: "an integer", bool: "true/false", type(None): "null",
          float: "a number", list: "a list", dict: "an object"}


class Obj:
    """A JSON object: `required` and `optional` keys with the kinds their values may be."""

    def __init__(self, required: dict | None = None, optional: dict | None = None,
                 rest: Any = None, named_by: str | None = None) -> None:
        self.required = required or {}
        self.optional = optional or {}
        self.rest = rest  # rest(key): the kind of any other key's value, when it matters
        self.named_by = named_by  # a required key that names the object in a line (a row's)


class ListOf:
    def __init__(self, item: Any) -> None:
        self.item = item


def _kind_name(kind: Any) -> str:
    if isinstance(kind, tuple):
        return " or ".join(_kind_name(k) for k in kind)
    if isinstance(kind, Obj):
        return "an object"
    if isinstance(kind, ListOf):
        return "a list"
    if kind is GUID:
        return "a GUID string"
    if kind is AMOUNT:
        return "an amount"
    return _NAMES.get(kind, getattr(kind, "__name__", str(kind)))


def _got(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def check(value: Any, kind: Any, path: str = "the answer") -> Any:
    """`value` if it has the shape `kind`, else _Wrong naming where and what."""
    if isinstance(kind, tuple):
        for k in kind:
            try:
                return check(value, k, path)
            except _Wrong:
                pass
        raise _Wrong(f"{path} is {_got(value)}, not {_kind_name(kind)}")
    if isinstance(kind, Obj):
        if not isinstance(value, dict):
            raise _Wrong(f"{path} is {_got(value)}, not an object")
        for key, k in kind.required.items():
            if key not in value:
                raise _Wrong(f"{path} has no {key!r}")
            check(value[key], k, f"{path}.{key}")
        try:
            for key, k in kind.optional.items():
                if key in value:
                    check(value[key], k, f"{path}.{key}")
            if kind.rest is not None:
                for key, v in value.items():
                    if key not in kind.required and key not in kind.optional:
                        check(v, kind.rest(key), f"{path}.{key}")
        except _Wrong as exc:  # which row: its key, checked above, is what the admin looks up
            if kind.named_by is None:
                raise
            raise _Wrong(f"{exc} (in the row whose {kind.named_by} is {value[kind.named_by]})") from None
        return value
    if isinstance(kind, ListOf):
        if not isinstance(value, list):
            raise _Wrong(f"{path} is {_got(value)}, not a list")
        for i, item in enumerate(value):
            check(item, kind.item, f"{path}[{i}]")
        return value
    if kind is GUID:
        if not isinstance(value, str) or not _GUID.match(value):
            raise _Wrong(f"{path} is {_got(value)}, not a GUID")
        return value
    if kind is AMOUNT:
        if not _is_amount(value):
            raise _Wrong(f"{path} is {_got(value)}, not an amount")
        return value
    if kind is int and isinstance(value, bool):
        raise _Wrong(f"{path} is {_got(value)}, not an integer")
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if kind is Any or isinstance(value, kind):
        return value
    raise _Wrong(f"{path} is {_got(value)}, not {_kind_name(kind)}")


def _is_amount(value: Any) -> bool:
    if isinstance(value, str) and _DECIMAL.match(value):
        value = float(value)
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return abs(value) < AMOUNT_LIMIT  # an int of 400 digits is compared as an int


def _no_constant(name: str) -> Any:
    raise _Wrong(f"it holds {name}, which JSON does not allow")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Wrong(f"it holds {text[:40]}, a number out of any range")
    return value


def _depth(value: Any, limit: int = DEPTH) -> int:
    stack = [(value, 1)]
    deepest = 0
    while stack:
        v, d = stack.pop()
        deepest = max(deepest, d)
        if d > limit:
            return d
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return deepest


# A JSON string (its brackets are not structure), unrolled so that a long one is one match.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def too_deep(body: bytes, limit: int = DEPTH) -> bool:
    """Does the text nest its arrays and objects deeper than `limit`? Judged on the bytes,
    before any parser: Python's decoder recurses once per level, so how deep it may go depends
    on how deep its caller already is (and on the thread's stack), and a RecursionError then
    comes or not by chance. Bracket-free text and a shallow answer cost a count."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for c in _STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        depth += 1 if c in (0x5B, 0x7B) else -1
        if depth > limit:
            return True
    return False


class DuplicateKey(ValueError):
    """An object names one key twice: JSON leaves which value counts open (Python keeps the
    last), so a server could show one reader a value and hide it from another."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) < len(pairs):  # the rare case pays for naming the key
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(f"it names the key {key[:40]!r} twice in one object")
            seen.add(key)
    return out


def loads(body: bytes | str) -> Any:
    """json.loads of outside text that never recurses deep (text nested past DEPTH is a
    ValueError) and refuses an object naming a key twice (`DuplicateKey`, a ValueError)."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if too_deep(raw):
        raise ValueError(f"nested deeper than {DEPTH} levels")
    return json.loads(body, object_pairs_hook=_unique)


def parse_json(body: bytes, where: str, schema: Any) -> Any:
    """The JSON value of an answer body already bounded in size, checked against `schema`."""
    try:
        text = body.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise Malformed(f"{where}: the answer is not UTF-8 text (byte {exc.start})") from None
    if too_deep(body):
        raise Malformed(f"{where}: the answer is nested deeper than any real answer (over "
                        f"{DEPTH} levels)")
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite,
                           object_pairs_hook=_unique)
    except (_Wrong, DuplicateKey) as exc:
        raise Malformed(f"{where}: the answer is not valid JSON: {exc}") from None
    except ValueError:
        raise Malformed(f"{where}: expected JSON, got {' '.join(text.split())[:80]!r}") from None
    if _depth(value) > DEPTH:  # scalars inside the deepest brackets count as a level here
        raise Malformed(f"{where}: the answer is nested deeper than {DEPTH} levels")
    try:
        return check(value, schema)
    except _Wrong as exc:
        raise Malformed(f"{where}: {exc}") from None


def parse_int(text: str, where: str, what: str) -> int:
    """A non-negative decimal integer sent as text (FTP SIZE, MLSD size=, OData $count)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise Malformed(f"{where}: {what} is {text[:40]!r}, not a whole number of bytes"
                        if "size" in what.lower() else f"{where}: {what} is {text[:40]!r}, "
                        "not a whole number")
    return int(text)


# -- the answers onecsync reads ----------------------------------------------------------------
_ID = (str, int)  # 1C writes UUIDs as strings; a number is harmless as an id
_OPERATION = {"TimeConsumingOperation": bool, "OperationID": (str, type(None))}
UPLOAD_DATA = Obj(optional={"FileID": (str, type(None)), **_OPERATION})
DOWNLOAD_DATA = Obj(optional=_OPERATION)
OPERATION_STATUS = Obj({"ActionState": str}, {"Message": (str, type(None))})
PREPARE_GET_FILE = Obj({"SessionID": _ID, "PartCount": int})
SAVE_FILE = Obj({"FileID": _ID})
IB_PARAMETERS = Obj(optional={"ExchangePlanExists": bool, "NodeExists": bool,
                              "InfobaseDescription": (str, type(None)),
                              "ConfigurationVersion": (str, type(None)),
                              "ExchangeFormatVersions": (ListOf(str), type(None))})
ODATA_SERVICE = Obj()


def _odata_field(name: str) -> Any:
    # What onecsync decides on: references, the two flags whose truth it reads, and the sums it
    # compares (1C names them Сумма…: СуммаДокумента, СуммаПлатежа).
    if name.endswith("_Key"):
        return (GUID, type(None))
    if name in ("DeletionMark", "Posted"):
        return bool
    if name.startswith("Сумма"):
        return AMOUNT
    if name == "LineNumber":  # part of a table row's key: 1C writes an Edm.Int64 as text
        return (int, str)
    return Any


ODATA_ROW = Obj({"Ref_Key": GUID}, rest=_odata_field, named_by="Ref_Key")
ODATA_PAGE = Obj({"value": ListOf(ODATA_ROW)}, {"odata.nextLink": str})
