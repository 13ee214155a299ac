"""Property: whatever happens, in whatever order, onecsync loses nothing and applies nothing twice,
and once the faults stop the two bases converge.

A hypothesis state machine drives the accounting base's users (create, edit, mark and delete
catalog objects; edit CRM orders; record payments in part or in full, sales, returns, payments
of sales; make orders of their own and pay them; pay an order that reached accounting before
onecsync brought it; delete documents), CRM managers (add, edit, mark or delete orders and
invoices), either of them setting an order back to a version it had (an undo), the bases'
exchange sessions, onecsync's cron runs, onecsync killed at a random I/O boundary (tests/emulator/
crashing.py: a wrapper, no hook in onecsync), lost and re-delivered message files, broken files,
unreachable folders, failing imports and bases restored from backups.

After every step: onecsync's numbers never go backwards (received_no only when onecsync itself
says the base was restored), each base sees our message numbers only grow, the CRM never holds
two copies of one object, and whatever accounting dropped because onecsync confirmed it is in
onecsync's state. At the end (and whenever the machine chooses to) the faults stop, a few clean
rounds pass and `assert_converged` must hold: the whole business scenario of
tests/emulator/expect.py (catalogs and linked settlements in the CRM, CRM orders in accounting,
edits either way, nothing else).

Profiles (tests/conftest.py): `ci` by default (25 histories of 20 steps); HYPOTHESIS_PROFILE=long
for a soak run (500 of 50). Clean runs
of onecsync go in-process (`onecsync.cli.main`, the same code cron runs, ten times faster);
ONECSYNC_E2E_SUBPROCESS=1 runs every one as a subprocess. Killed runs always are subprocesses.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck
from hypothesis import event
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine
from hypothesis.stateful import initialize
from hypothesis.stateful import invariant
from hypothesis.stateful import precondition
from hypothesis.stateful import rule

from tests.emulator import data as d
from tests.emulator.base import Faults
from tests.emulator.crashing import POINTS
from tests.emulator.expect import key
from tests.emulator.spec import CATALOGS
from tests.emulator.store import Ref
from tests.emulator.users import ORDER
from tests.emulator.users import Users
from tests.emulator.world import CRM_SENDS
from tests.emulator.world import World
from tests.emulator.world import assert_converged

BASES = st.sampled_from(["accounting", "crm"])
PICK = st.integers(min_value=0, max_value=10**6)
# What an accountant edits, per catalog: a field and values it takes.
EDITS = {
    "Справочник.Контрагенты": ("ОКПО", ["45872134", "45872135", "60258399"]),
    "Справочник.Номенклатура": ("СтавкаНДС", ["БезНДС", "НДС20", "НДС10", "НДС0"]),
    "Справочник.Банки": ("Телефоны", ["+7 (495) 777-14-20", "+7 (495) 777-14-29"]),
    "Справочник.Договоры": ("СрокДействия", ["2026-12-31", "2027-06-30"]),
    "Справочник.Пользователи": ("Наименование", ["Смирнова Е. П.", "Смирнова Елена"]),
    "Справочник.Подразделения": ("Наименование", ["Отдел продаж", "Продажи"]),
    "Справочник.ТипыЦен": ("ТочностьОкругления", ["0.01", "1"]),
    "Справочник.Организации": ("ОГРН", ["1127746123450", "1127746123451"]),
}


def _scratch() -> str:
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    return tempfile.mkdtemp(prefix="onecsync-prop-", dir=shm)


def step(method):
    """Marks the machine dirty while a step runs: teardown only judges runs that got to the end."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        self.clean = False
        result = method(self, *args, **kwargs)
        self.clean = True
        return result

    return wrapper


class Sync(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = _scratch()
        self.world = World(Path(self.dir))  # in-process unless ONECSYNC_E2E_SUBPROCESS=1
        self.clean = True
        self.n = 0
        self.backups: dict[str, list] = {"accounting": [], "crm": []}
        self.lost: set[tuple[str, str]] = set()   # keys (type, Ссылка) a restore took back
        self.early: set[Ref] = set()  # CRM orders that reached accounting before onecsync
        self.last = {"accounting": (0, 0, 0), "crm": (0, 0, 0)}
        self.restored: set[str] = set()   # restored, and onecsync has not yet seen it
        # A restored base trusts our ReceivedNo blindly (1C does not check it on this path):
        # until it has taken a message we wrote after seeing its new numbers, our ReceivedNo
        # may confirm messages of its new life that never reached us (see README, "known
        # hazard"). name -> [our received_no at the restore, our sent_no once we moved on]
        self.blind: dict[str, list] = {}
        self.checked_confirmed = {"accounting": 0, "crm": 0}
        self.said: dict[str, list[str]] = {}  # an order's Ссылка -> the comments it has had
        self.runs_seen = 0

    @initialize(loaded=st.booleans())
    @step
    def seed(self, loaded: bool) -> None:
        self.s = d.seed_accounting(self.world.acc)
        self.users = Users(self.world, self.s)
        if loaded:  # half the histories start after the initial load, to get to the documents
            self.world.settle(2)

    # -- users ----------------------------------------------------------------------------
    def _touch(self, r: Ref, base: str = "accounting") -> None:
        # entered again after a restore: it must converge again
        self.lost.discard(key(self.world.bases[base], r))

    @rule()
    @step
    def accountant_adds_a_customer(self) -> None:
        self.n += 1
        r = self.world.acc.create("Справочник.Контрагенты", d.counterparty_fields(
            f"Клиент {self.n} ООО", d.inn10(1000 + self.n), self.s.customers))
        self._touch(r)

    @rule(vat=st.sampled_from(["БезНДС", "НДС20", "НДС10"]))
    @step
    def accountant_adds_an_item(self, vat: str) -> None:
        self.n += 1
        r = self.world.acc.create("Справочник.Номенклатура", d.item_fields(
            f"Товар {self.n}", f"ART-{self.n:04d}", self.s.pcs, self.s.goods_group, vat_code=vat))
        self._touch(r)

    def _editable(self) -> list[Ref]:
        return sorted(o.ref for o in self.world.acc.objects() if o.type in EDITS)

    @rule(pick=PICK, value=PICK)
    @step
    def accountant_edits(self, pick: int, value: int) -> None:
        refs = self._editable()
        r = refs[pick % len(refs)]
        field, values = EDITS[r.type]
        self.world.acc.edit(r, **{field: values[value % len(values)]})
        self._touch(r)

    def _deletable(self) -> list[Ref]:
        acc = self.world.acc
        keep = set(self.s.catalog_refs())
        return sorted(o.ref for o in acc.objects() if o.type in CATALOGS and o.ref not in keep
                      and not [u for u in acc.store.referencing(o.ref)])

    @rule(pick=PICK)
    @step
    def accountant_deletes(self, pick: int) -> None:
        refs = self._deletable()
        if refs:
            r = refs[pick % len(refs)]
            self.world.acc.delete(r)
            self._touch(r)

    @rule(pick=PICK)
    @step
    def accountant_marks_for_deletion(self, pick: int) -> None:
        refs = self._editable()
        r = refs[pick % len(refs)]
        self.world.acc.mark_deleted(r, not self.world.acc.get(r).deletion_mark)
        self._touch(r)

    def _crm_knows_the_seed(self) -> bool:
        crm = self.world.crm
        ids = {(o.type, crm.identity(o.ref)) for o in crm.objects() if not o.from_keys}
        return all((r.type, r.id) in ids for r in self.s.catalog_refs())

    @precondition(lambda self: self._crm_knows_the_seed())
    @rule(kind=st.sampled_from(CRM_SENDS))
    @step
    def manager_adds_an_order(self, kind: str) -> None:
        self.users.add_order(kind)

    @rule(pick=PICK)
    @step
    def manager_edits_an_order(self, pick: int) -> None:
        orders = self.users.crm_orders()
        if orders:
            r = orders[pick % len(orders)].ref
            self._remember("crm", r)
            self.users.edit_order(r)
            self._touch(r, "crm")

    def _remember(self, name: str, r: Ref) -> list[str]:
        """Every Комментарий the order has had in either base, by its Ссылка, this one too."""
        base = self.world.bases[name]
        had = self.said.setdefault(base.identity(r), [])
        text = base.get(r).fields.get("Комментарий")
        if text is not None and text not in had:
            had.append(text)
        return had

    @rule(pick=PICK, back=PICK, name=BASES)
    @step
    def someone_undoes_an_order_edit(self, pick: int, back: int, name: str) -> None:
        """A manager or an accountant sets an order's comment back to one it had (an undo, a
        correction back): often the very version one of the bases last sent us."""
        orders = self._orders_in(name)
        if not orders:
            return
        r = orders[pick % len(orders)].ref
        now = self.world.bases[name].get(r).fields.get("Комментарий")
        earlier = [t for t in self._remember(name, r) if t != now]
        if earlier:
            self.world.bases[name].edit(r, Комментарий=earlier[back % len(earlier)])
            event("an edit undone")
            self._touch(r, name)

    def _orders_in(self, name: str) -> list:
        return (self.users.crm_orders() if name == "crm"
                else self.users.crm_orders_in_accounting())

    @precondition(lambda self: self._crm_knows_the_seed())
    @rule(pick=PICK, name=BASES, rounds=st.integers(min_value=2, max_value=3))
    @step
    def someone_edits_an_order_and_undoes_it_rounds_later(self, pick: int, name: str,
                                                           rounds: int) -> None:
        """The same, sure to happen in a short history (with an order of its own if there is
        none yet): the edit has had `rounds` rounds to reach the other base (two take it
        there) when it is undone."""
        if not self._orders_in(name):
            self.users.add_order()
            self.a_round()
            self.a_round()
        orders = self._orders_in(name)
        if not orders:
            return
        r = orders[pick % len(orders)].ref
        self._remember(name, r)
        before = self.world.bases[name].get(r).fields.get("Комментарий")
        (self.users.edit_order if name == "crm" else self.users.edit_in_accounting)(r)
        self._remember(name, r)
        for _ in range(rounds):
            self.a_round()
        if r in self.world.bases[name].store.objects:  # a restore may have taken it back
            self.world.bases[name].edit(r, Комментарий=before)
            event(f"an edit undone {rounds} rounds later")
        self._touch(r, name)

    @precondition(lambda self: self._crm_knows_the_seed())
    @rule(pick=PICK, first=BASES)
    @step
    def ping_pong(self, pick: int, first: str) -> None:
        """X in one base, Y in the other, X again in the first, each given two rounds to reach
        the other: the last X is byte for byte the last version the first base sent (review 7
        #1). With an order of its own if there is none yet, so that a short history has it."""
        if not self.users.crm_orders():
            self.users.add_order()
            self.a_round()
            self.a_round()
        orders = self.users.crm_orders()
        if not orders:
            return
        r = orders[pick % len(orders)].ref
        copies = self.world.copies("accounting", r)
        if len(copies) != 1:
            return
        refs = {"crm": r, "accounting": copies[0].ref}
        other = "crm" if first == "accounting" else "accounting"
        for name, text in ((first, "X"), (other, "Y"), (first, "X")):
            if refs[name] not in self.world.bases[name].store.objects:
                return  # a restore took it back
            self._remember(name, refs[name])
            self.world.bases[name].edit(refs[name], Комментарий=f"пинг-понг {text}")
            self._touch(refs[name], name)
            self.a_round()
            self.a_round()
        event("ping-pong")

    def _paid_or_shipped(self, crm_order: Ref) -> bool:
        """Anything in accounting that names accounting's copy of the order."""
        return any(self.world.acc.store.referencing(c.ref)
                   for c in self.world.copies("accounting", crm_order))

    @rule(pick=PICK, physically=st.booleans())
    @step
    def manager_deletes_an_order(self, pick: int, physically: bool) -> None:
        crm = self.world.crm
        orders = self.users.crm_orders()
        if not physically:
            if orders:
                crm.mark_deleted(orders[pick % len(orders)].ref)
            return
        # A manager deletes an order nobody has paid or shipped (and whose copy did not reach
        # accounting by another road, which onecsync cannot tell about the deletion).
        free = [o.ref for o in orders if not crm.store.referencing(o.ref)
                and o.ref not in self.early and not self._paid_or_shipped(o.ref)]
        if free:
            r = free[pick % len(free)]
            crm.mark_deleted(r)
            crm.delete(r)
            self._touch(r, "crm")

    def _crm_order_in_accounting(self, pick: int, kind: str | None = None) -> Ref | None:
        orders = [o for o in self.users.crm_orders_in_accounting() if kind in (None, o.type)]
        return orders[pick % len(orders)].ref if orders else None

    @rule(pick=PICK)
    @step
    def accountant_edits_a_crm_order(self, pick: int) -> None:
        r = self._crm_order_in_accounting(pick)
        if r is not None:
            self._remember("accounting", r)
            self.users.edit_in_accounting(r)
            self._touch(r)

    @rule(pick=PICK, part=st.sampled_from(["full", "half", "rest"]), cash=st.booleans())
    @step
    def accountant_records_a_payment(self, pick: int, part: str, cash: bool) -> None:
        r = self._crm_order_in_accounting(pick, ORDER)
        if r is not None:
            self.users.pay(r, part, cash)

    @rule(pick=PICK)
    @step
    def accountant_ships_an_order(self, pick: int) -> None:
        r = self._crm_order_in_accounting(pick)
        if r is not None:
            self.users.ship(r)

    @rule(pick=PICK, returns=st.booleans())
    @step
    def accountant_settles_a_shipment(self, pick: int, returns: bool) -> None:
        """A return of a linked sale, or a payment of it."""
        sales = self.users.linked_sales()
        if sales:
            sale = sales[pick % len(sales)]
            if returns:
                self.users.take_back(sale)
            else:
                self.users.pay_for_shipment(sale)

    @rule()
    @step
    def accountant_makes_an_order_of_their_own_and_is_paid(self) -> None:
        self.users.own_order_and_payment()

    @rule(pick=PICK)
    @step
    def an_order_reaches_accounting_before_onecsync_brings_it(self, pick: int) -> None:
        waiting = [o.ref for o in self.users.crm_orders()
                   if not self.world.copies("accounting", o.ref)]
        if waiting and self._crm_knows_the_seed():
            r = waiting[pick % len(waiting)]
            self.users.order_arrives_first(r)
            self.early.add(r)

    @rule(pick=PICK)
    @step
    def accountant_deletes_a_document(self, pick: int) -> None:
        docs = self.users.unreferenced_documents()
        if docs:
            r = docs[pick % len(docs)]
            self.world.acc.mark_deleted(r)
            self.world.acc.delete(r)
            self._touch(r)

    # -- exchanges and onecsync -----------------------------------------------------------
    @rule(name=BASES)
    @step
    def base_exchanges(self, name: str) -> None:
        self.world.exchange(name)

    @rule()
    @step
    def a_round(self) -> None:
        """Both bases' scheduled sessions, then cron's run of onecsync."""
        self.base_exchanges("accounting")
        self.base_exchanges("crm")
        self.onecsync_runs()

    @rule()
    @step
    def onecsync_runs(self) -> None:
        run = self.world.run()
        assert run.code in (0, 5), (run.code, run.stderr)  # 5: a broken file was rejected
        if run.code == 5:
            event("onecsync rejected a broken file")

    @rule(point=st.sampled_from(sorted(POINTS)), nth=st.integers(min_value=1, max_value=2),
          rerun=st.booleans())
    @step
    def a_round_in_which_onecsync_is_killed(self, point: str, nth: int, rerun: bool) -> None:
        self.world.exchange("accounting")  # fresh messages: every boundary has work to reach
        self.world.exchange("crm")
        run = self.world.run(crash=point, nth=nth)
        assert run.code in (0, 5, 137), (run.code, run.stderr)
        if rerun:  # cron comes back before the bases' next sessions
            again = self.world.run()
            assert again.code in (0, 5), (again.code, again.stderr)
        event(f"onecsync killed at {run.crashed_at}" if run.crashed_at else
              f"onecsync not killed: {point}:{nth} not reached")

    # -- faults ---------------------------------------------------------------------------
    @rule(name=BASES, fault=st.sampled_from(["drop_next", "unreachable_next", "truncate",
                                             "garbage", "fail_next_import"]))
    @step
    def a_fault_is_armed(self, name: str, fault: str) -> None:
        faults = self.world.bases[name].faults
        if fault in ("truncate", "garbage"):
            faults.corrupt_next = fault
        elif fault == "fail_next_import":
            faults.fail_next_import = self.n % 3
        else:
            setattr(faults, fault, True)

    @rule(name=BASES, back=st.integers(min_value=1, max_value=3), ours=st.booleans())
    @step
    def an_old_file_reappears(self, name: str, back: int, ours: bool) -> None:
        if ours:
            self.world.redeliver_ours(name, back)
        else:
            self.world.redeliver(name, back)

    @rule(name=BASES)
    @step
    def a_backup_is_taken(self, name: str) -> None:
        base = self.world.bases[name]
        self.backups[name].append(base.backup())

    @precondition(lambda self: self.backups["accounting"] or self.backups["crm"])
    @rule(name=BASES, pick=PICK)
    @step
    def a_base_is_restored(self, name: str, pick: int) -> None:
        saved = self.backups[name]
        if not saved:
            return
        backup = saved[pick % len(saved)]
        # An administrator restores a backup of the base's present life: the backups taken
        # after this one belong to a life that now never happened. (Jumping to such a backup
        # later can lose data unseen: see tests/emulator/README.md, known hazards.)
        del saved[pick % len(saved) + 1:]
        base = self.world.bases[name]
        # What changed since the backup is gone from the base but not from the other one.
        # (The CRM gets again what onecsync brought it: only its own work can be lost.)
        old, now = backup.store.objects, base.store.objects
        for r in set(old) | set(now) | (base.deleted - backup.deleted):
            if name == "crm" and r not in base.created:
                continue
            if r not in old or r not in now or old[r].fields != now[r].fields:
                self.lost.add((r.type, (backup.store if r in old else base.store)
                               .public_id(r).lower()))
        base.restore(backup)
        self.restored.add(name)
        self.blind[name] = [self.world.numbers(name)[1], None]
        event(f"{name} restored")

    # -- quiescence -----------------------------------------------------------------------
    @rule()
    @step
    def faults_stop_and_the_bases_converge(self) -> None:
        self.quiesce()

    def quiesce(self) -> None:
        w = self.world
        for base in w.bases.values():
            base.faults = Faults()
        w.settle(4)
        assert_converged(w, frozenset(self.lost))
        self.numbers_and_copies_hold()

    # -- invariants -----------------------------------------------------------------------
    @invariant()
    def numbers_and_copies_hold(self) -> None:
        self.clean = False
        w = self.world
        for name in w.bases:
            now = w.numbers(name)
            before = self.last[name]
            assert now[0] >= before[0], f"our sent_no to {name} went back: {before} -> {now}"
            if now[1] < before[1]:
                assert name in self.restored, \
                    f"received_no from {name} went back, yet it was not restored: {before} -> {now}"
                assert any("restored from a backup" in r.stderr
                           for r in w.runs[self.runs_seen:]), \
                    f"received_no from {name} went back and onecsync did not say why"
                self.restored.discard(name)
            self.last[name] = now
            # A base takes our messages in increasing order, between two restores of it.
            taken: list[int] = []
            for e in w.bases[name].log:
                if e.kind == "restored":
                    taken = []
                elif e.kind == "imported" and e.message_no:
                    assert not taken or e.message_no > taken[-1], \
                        f"{name} took our message {e.message_no} after {taken[-1]}"
                    taken.append(e.message_no)
        for run in w.runs[self.runs_seen:]:
            for name, peer in ((run.report or {}).get("peers") or {}).items():
                if (peer.get("received") or {}).get("restored"):
                    event(f"onecsync saw {name} restored")
        self.runs_seen = len(w.runs)
        # The CRM never holds two copies of one object.
        seen: set = set()
        for o in w.crm.objects():
            k = key(w.crm, o)
            assert k not in seen, f"the CRM holds {o.ref!r} twice"
            seen.add(k)
        # Whatever a base dropped because we confirmed it is in our hands.
        for name, base in w.bases.items():
            fresh = base.confirmed[self.checked_confirmed[name]:]
            self.checked_confirmed[name] = len(base.confirmed)
            if name in self.blind and fresh:
                self.lost.update(key(base, r) for r in fresh)
                event("a restored base took a confirmation blindly")
                fresh = []
            if fresh:
                staged = w.staged_refs(name)
                for r in fresh:
                    assert key(base, r) in staged, \
                        f"{name} dropped {r!r} on our confirmation, but we do not hold it"
            blind = self.blind.get(name)
            if blind is not None:
                ours, theirs = w.numbers(name)[:2]
                if blind[1] is None and theirs != blind[0]:
                    blind[1] = ours               # we now confirm numbers of its new life
                if blind[1] is not None and base.received_no >= blind[1]:
                    del self.blind[name]          # ... and it has taken such a message
        self.clean = True

    def teardown(self) -> None:
        try:
            if self.clean:
                self.quiesce()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


TestConvergence = Sync.TestCase
# The test sizes itself, whatever the `ci` profile of other property tests asks for: a few
# dozen short histories on every push, hundreds of long ones with HYPOTHESIS_PROFILE=long.
TestConvergence.settings = settings(
    settings.default, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    **({"max_examples": 500, "stateful_step_count": 50}
       if os.environ.get("HYPOTHESIS_PROFILE") == "long"
       else {"max_examples": 25, "stateful_step_count": 20}))
