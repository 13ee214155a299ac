"""The object store of one emulated base, with 1C's public ids and its matching of incoming objects.

Public API: `Ref`, `Obj`, `Store`, `InRef`, `get_path(values, dotted)`.

Glossary. A *local ref* is the base's own reference (type + UUID). A *public id* is the Ссылка the
peer node knows an object by (1C's register SynchronizedObjectPublicIDs, one per object and node):
an object the peer sent is bound to the Ссылка it came with; an object this base sent is bound to
its own UUID once the peer confirmed the message. Field values are plain strings (the XML text),
`Ref`s, dicts (structures) and lists of dicts (table rows).
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from dataclasses import field

from tests.emulator.spec import SPECS


@dataclass(frozen=True, order=True)
class Ref:
    type: str
    id: str

    def __repr__(self) -> str:
        return f"{self.type.split('.')[-1]}:{self.id[:8]}"


@dataclass
class Obj:
    ref: Ref
    fields: dict
    deletion_mark: bool = False
    marked_by_exchange: bool = False  # the mark came with a deletion it imported, not a user
    from_keys: bool = False      # created from the key properties of a reference only
    origin: str = "user"         # user | import
    posted: bool = True          # a document's Проведен (OData's Posted); EnterpriseData has none

    @property
    def type(self) -> str:
        return self.ref.type


@dataclass(frozen=True)
class InRef:
    """A reference as it arrived: the target type and its key properties (Ссылка among them)."""

    type: str
    keys: dict = field(hash=False)


def get_path(values: dict, dotted: str):
    cur = values
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def refs_in(value):
    """Every Ref inside a field value, however deep."""
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from refs_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from refs_in(v)


class Store:
    def __init__(self, rng) -> None:
        self.objects: dict[Ref, Obj] = {}
        self.public_ids: dict[Ref, str] = {}   # local ref -> public id for our node
        self.rng = rng

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def clone(self) -> Store:
        twin = Store(self.rng)
        twin.objects = copy.deepcopy(self.objects)
        twin.public_ids = dict(self.public_ids)
        return twin

    # -- what a peer sees ----------------------------------------------------------------
    def public_id(self, r: Ref) -> str:
        """The Ссылка written for `r` (ConvertRefToXDTO: the bound public id, else the UUID)."""
        return self.public_ids.get(r, r.id)

    def by_public_id(self, type_name: str, pid: str) -> Ref | None:
        """The object bound to `pid`; an object deleted since is not found (its record stays in
        1C's register, but the reference it holds is broken: the object is created anew)."""
        for r, p in self.public_ids.items():
            if p == pid and r.type == type_name and r in self.objects:
                return r
        return None

    def referencing(self, target: Ref) -> list[Ref]:
        return [o.ref for o in self.objects.values()
                if o.ref != target and any(r == target for r in refs_in(o.fields))]

    # -- matching (XS ObjectRefByXDTODataObjectUUID, ObjectRefByXDTOObjectProperties) ----
    def find(self, type_name: str, keys: dict, resolve) -> Ref | None:
        """The local object the incoming key properties mean, or None.

        By public id first; then the object with the same UUID unless it is bound to another
        public id; then each search-field set in turn (a set with an empty field is skipped),
        among objects not bound to another public id of this node.
        """
        pid = keys.get("Ссылка")
        if pid:
            r = self.by_public_id(type_name, pid)
            if r is not None:
                return r
            same = Ref(type_name, pid)
            if same in self.objects and self.public_ids.get(same, pid) == pid:
                return same
        for fields in SPECS[type_name].search:
            wanted = [self._search_value(get_path(keys, f), resolve) for f in fields]
            if any(v in (None, "") for v in wanted):
                continue
            for obj in self.objects.values():
                if obj.type != type_name:
                    continue
                bound = self.public_ids.get(obj.ref)
                if pid and bound is not None and bound != pid:
                    continue
                if all(get_path(obj.fields, f) == v for f, v in zip(fields, wanted, strict=True)):
                    return obj.ref
        return None

    @staticmethod
    def _search_value(value, resolve):
        if isinstance(value, InRef):
            return resolve(value, create=False)
        return value
