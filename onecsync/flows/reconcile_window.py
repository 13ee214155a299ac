"""Which part of the history one reconcile with OData compares: bounded, whatever the history.

Public API: `Window(state, by_hand)` with `pick(name, items)`, `drifted(name, key)`, `compared`,
`save()`, `report()`; `SLICE`, `AGAIN`, `BY_HAND`.

Every invoice ever exchanged stays in the registry, so comparing them all on every run would
make an idle run's OData reads grow with the history until they pass what one reconcile may read
(odata.ROW_LIMIT) and the run timeout. Of each list reconcile compares (the invoices, the
documents the CRM confirmed, the deletions the bases imported), a scheduled run takes:
- what drifted when it was last compared (at most AGAIN), so that drift stays reported, run
  after run, until it is put right;
- the next SLICE after where the last run stopped, in Ссылка order, rotating: every item is
  compared at least once in ceil(n / SLICE) runs.
`onecsync reconcile` by hand takes up to BY_HAND from the same place (all of a smaller list)
and says so when that was not all; the next runs go on from where it stopped. Where each list
stopped is kept in the state's meta, written only when the whole reconcile went through: a
reconcile that failed on the way compares the same slice again.
"""

from __future__ import annotations

import json
import logging
from bisect import bisect_right
from typing import Callable
from typing import Sequence
from typing import TypeVar

from onecsync.state import State
from onecsync.stored import BadValue
from onecsync.stored import Damaged
from onecsync.stored import stored_json
from onecsync.stored import typed

KEY = "reconcile.window"   # list name -> {"after": key, "drifted": [keys]}
SLICE = 300                # of each list per scheduled run: ~80 OData requests for the invoices
AGAIN = 300                # drifted items compared again on top of the slice
BY_HAND = 50_000           # per list in one `onecsync reconcile`: ~200,000 rows, inside ROW_LIMIT

T = TypeVar("T")
log = logging.getLogger("onecsync")


def pair_key(item: tuple[str, str]) -> str:
    """A (type, Ссылка) item's place in the rotation: by its Ссылка first."""
    return f"{item[1]} {item[0]}"


class Window:
    def __init__(self, state: State, by_hand: bool) -> None:
        self.state, self.by_hand = state, by_hand
        self._lists = _stored(state)
        self._next: dict[str, dict] = {}
        self._counts: dict[str, tuple[int, int]] = {}   # name -> (compared, in the list)
        self.compared: set[str] = set()  # the Ссылки compared in this reconcile

    def pick(self, name: str, items: Sequence[T], key: Callable[[T], str]) -> list[T]:
        """What of `items` this reconcile compares: the next slice after where the last one
        stopped (wrapping round), and what drifted when last compared."""
        size = BY_HAND if self.by_hand else SLICE
        keyed = sorted(((key(i), i) for i in items), key=lambda p: p[0])
        entry = self._lists.get(name, {})
        start = bisect_right([k for k, _ in keyed], entry.get("after", ""))
        taken = (keyed[start:] + keyed[:start])[:size]
        chosen = {k for k, _ in taken}
        again = set(entry.get("drifted", [])[:AGAIN]) - chosen
        taken += [p for p in keyed if p[0] in again]
        # A list that fits in one slice starts from its beginning again: nothing to rotate.
        after = taken[min(size, len(taken)) - 1][0] if len(keyed) > size else ""
        self._next[name] = {"after": after, "drifted": []}
        self._counts[name] = (len(chosen), len(keyed))
        return [i for _, i in taken]

    def drifted(self, name: str, key: str) -> None:
        """An item of `name` drifted: the next runs compare it again, until it does not."""
        kept = self._next[name]["drifted"]
        if len(kept) < AGAIN and key not in kept:
            kept.append(key)

    def report(self) -> None:
        """One line per list this reconcile compared only a part of: by hand, a warning that
        says how to go on; in a run, how many runs compare all of it."""
        for name, (n, total) in self._counts.items():
            if n == total:
                continue
            if self.by_hand:
                log.warning("reconcile: compared %d of the %d %s (at most %d in one reconcile); "
                            "run `onecsync reconcile` again to compare the next ones", n, total,
                            name, BY_HAND)
            else:
                log.info("reconcile: compared %d of the %d %s; each is compared at least once "
                         "in %d runs", n, total, name, -(-total // SLICE))

    def save(self) -> None:
        with self.state.atomic():
            self.state.meta.set(KEY, json.dumps({**self._lists, **self._next}, sort_keys=True,
                                                ensure_ascii=False))


def _stored(state: State) -> dict[str, dict]:
    try:
        lists = typed(stored_json(state.meta.get(KEY) or "{}", "its value"), dict, "it")
        for entry in lists.values():
            typed(entry, dict, "a list's place")
            typed(entry.get("after", ""), str, "where a list stopped")
            for k in typed(entry.get("drifted", []), list, "a list's drifted items"):
                typed(k, str, "a drifted item")
    except BadValue as exc:
        raise Damaged(state.path, "meta", repr(KEY), str(exc)) from None
    return lists
