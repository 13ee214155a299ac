"""What each emulated base must hold once the exchange has converged: the business scenario.

Public API: `Expectations(acc, crm)` with `in_crm(obj)`, `in_accounting(obj)`, `is_crm_order`,
`linked`, `sent_to_crm`; `key(base, obj_or_ref)`; `comparable(base, obj, versions, fields)`;
`check_converged(acc, crm, versions, lost)`; `contents(base, versions)`; `CRM_SENDS`,
`SETTLEMENTS`.

The whole scenario of the three flows, from the two bases alone (a god's-eye view: onecsync's
state is never consulted, so that the model cannot share onecsync's mistakes):
- in the CRM: its own objects; every accounting catalog object (pull-catalogs); every CRM order
  or invoice as it now stands in accounting; every accounting settlement document that is linked
  to a CRM order — a sale or a return naming it (`Заказ`, `СчетПокупателю`), a bank or cash
  receipt with a row naming it (`РасшифровкаПлатежа/Заказ`), or a return or payment of a linked
  sale (`ДокументРеализации`, `РасшифровкаПлатежа/ДокументРасчетов`). Never an order made in
  accounting, never a settlement that names none, but for one that named one when the CRM got it
  and no longer does: the CRM holds that copy marked for deletion (1C's import of its deletion).
  A payment's row, a sale's or a return's header naming accounting's own order, or a sale not
  linked, comes without that reference (`sent_to_crm`): 1C would create that order or sale in
  the CRM from it.
- in accounting: its own objects and every order and invoice the CRM ever made.
An object is known across the bases by its *key*: its type and the Ссылка our node knows it by
(`Base.identity`). A physical deletion on one side leaves the other side's copy marked for
deletion; an object a restore took back (`lost`) is not compared, since nobody can tell.
"""

from __future__ import annotations

from tests.emulator.base import Base
from tests.emulator.spec import CATALOGS
from tests.emulator.spec import SPECS
from tests.emulator.spec import exists_in
from tests.emulator.store import Obj
from tests.emulator.store import Ref

# The CRM's exchange plan sends our node its own documents; catalogs only come to it.
CRM_SENDS = ("Документ.ЗаказКлиента", "Документ.СчетПокупателю")
SALE = "Документ.РеализацияТоваровУслуг"
RETURN = "Документ.ВозвратТоваровОтПокупателя"
PAYMENTS = ("Документ.ПБДСРасчетыСКонтрагентами", "Документ.ПКОРасчетыСКонтрагентами")
SETTLEMENTS = (SALE, RETURN, *PAYMENTS)

Key = tuple[str, str]


def key(base: Base, item: Obj | Ref) -> Key:
    r = item.ref if isinstance(item, Obj) else item
    return (r.type, base.store.public_id(r).lower())


class Expectations:
    def __init__(self, acc: Base, crm: Base, lost: frozenset[Key] = frozenset()) -> None:
        self.acc = acc
        self.crm = crm
        self.lost = lost
        # Every order and invoice a CRM manager ever made, restored away or not: its Ссылка
        # is the CRM's own UUID, and accounting keeps it as the public id of its copy.
        self.crm_orders = {(r.type, r.id.lower()) for r in crm.created if r.type in CRM_SENDS}
        self._linked: dict[Ref, bool | None] = {}

    def is_crm_order(self, base: Base, obj: Obj | Ref) -> bool:
        return key(base, obj) in self.crm_orders

    def in_accounting(self, obj: Obj) -> bool:
        """Must this CRM object be in accounting?"""
        return self.is_crm_order(self.crm, obj)

    def in_crm(self, obj: Obj) -> bool | None:
        """Must this accounting object be in the CRM? None: nobody can tell (see `linked`)."""
        if obj.type in CATALOGS:
            return True
        if obj.type in CRM_SENDS:
            return self.is_crm_order(self.acc, obj)
        return obj.type in SETTLEMENTS and self.linked(obj.ref)

    def linked(self, r: Ref) -> bool | None:
        """Does this accounting settlement document name a CRM order, or a linked sale?

        None when it is linked only through an order a restore of the CRM took back: if that
        order reached accounting another way before onecsync ever saw it, nobody can tell
        onecsync it was the CRM's, so the document may rightly stay in accounting alone."""
        if r not in self._linked:
            self._linked[r] = False  # a cycle links nothing
            self._linked[r] = self._names_an_order_or_linked_sale(r)
        return self._linked[r]

    def _names_an_order_or_linked_sale(self, r: Ref) -> bool | None:
        obj = self.acc.store.objects.get(r)
        if obj is None:
            return False
        f = obj.fields
        if r.type == SALE:
            named = [f.get("Заказ"), f.get("СчетПокупателю")]
        elif r.type == RETURN:
            named = [f.get("Заказ"), f.get("ДокументРеализации")]
        elif r.type in PAYMENTS:
            named = [v for row in f.get("РасшифровкаПлатежа", [])
                     for v in (row.get("Заказ"), row.get("ДокументРасчетов"))]
        else:
            return False
        unsure = False
        for target in named:
            if not isinstance(target, Ref):
                continue
            if target.type in CRM_SENDS and self.is_crm_order(self.acc, target):
                if key(self.acc, target) not in self.lost:
                    return True
                unsure = True
            if target.type == SALE:
                linked = self.linked(target)
                if linked:
                    return True
                unsure = unsure or linked is None
        return None if unsure else False

    def sent_to_crm(self, obj: Obj) -> dict:
        """The fields of an accounting object as the CRM must hold them: a reference to what is
        surely not the CRM's (accounting's own order, a sale not linked) goes without it, in a
        payment's row (settled automatically then) as in a sale's or return's header, or 1C
        would make a stub of it there."""
        if obj.type in (SALE, RETURN):
            return {name: value for name, value in obj.fields.items()
                    if name not in ("Заказ", "СчетПокупателю", "ДокументРеализации")
                    or not self._surely_not_crms(value)}
        if obj.type not in PAYMENTS:
            return obj.fields
        rows = []
        for row in obj.fields.get("РасшифровкаПлатежа", []):
            row = dict(row)
            if self._surely_not_crms(row.get("Заказ")):
                del row["Заказ"]
            if self._surely_not_crms(row.get("ДокументРасчетов")):
                del row["ДокументРасчетов"]
                if row.get("СпособПогашенияЗадолженности") == "ПоДокументу":
                    row["СпособПогашенияЗадолженности"] = "Автоматически"
            rows.append(row)
        return {**obj.fields, "РасшифровкаПлатежа": rows} if rows else obj.fields

    def _surely_not_crms(self, value) -> bool:
        """Is `value` a reference to accounting's own order or to a sale not linked?"""
        if not isinstance(value, Ref):
            return False
        if value.type in CRM_SENDS:
            return not self.is_crm_order(self.acc, value)
        return value.type == SALE and self.linked(value) is False


# -- comparing content ------------------------------------------------------------------------
def _canonical(base: Base, value):
    if isinstance(value, Ref):
        return (value.type, base.identity(value).lower())
    if isinstance(value, dict):
        return {k: _canonical(base, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(base, v) for v in value]
    return value


def _project(fields, values: dict, versions) -> dict:
    out = {}
    for f in fields:
        if f.name in out or f.name not in values:
            continue
        if not all(any(exists_in(g, v) for g in fields if g.name == f.name) for v in versions):
            continue
        value = values[f.name]
        if f.kind == "struct":
            value = _project(f.children, value, versions)
        elif f.kind == "table":
            value = [_project(f.children, row, versions) for row in value]
        out[f.name] = value
    return out


def comparable(base: Base, obj: Obj, versions, fields: dict | None = None) -> dict:
    """The object's content as the other side can know it: the fields every one of `versions`
    carries, references by the id our node knows them by (`fields`: instead of its own)."""
    spec = SPECS[obj.type]
    return _canonical(base, _project(spec.keys + spec.fields,
                                     obj.fields if fields is None else fields, versions))


def contents(base: Base, versions) -> dict:
    """Everything the base holds, by key: for comparing worlds run over different transports."""
    return {key(base, o): (comparable(base, o, versions), o.deletion_mark, o.from_keys, o.origin)
            for o in base.objects()}


# -- converged ------------------------------------------------------------------------------
def _gone(base: Base) -> set[Key]:
    """Keys of what a user of the base deleted physically (and nothing has brought back)."""
    return {key(base, r) for r in base.deleted if r not in base.store.objects}


def _one_way(src: Base, dst: Base, expected, versions, lost: frozenset[Key],
             src_name: str, dst_name: str, sent=lambda obj: obj.fields) -> set[Key]:
    """Every object of `src` that `expected` says must be in `dst` is there, once, the same
    (as `sent` says `dst` gets it).

    Returns the keys `dst` may hold copies of.
    """
    held: dict[Key, list[Obj]] = {}
    for o in dst.objects():
        held.setdefault(key(dst, o), []).append(o)
    dst_gone = _gone(dst)
    wanted = set(lost)
    for obj in src.objects():
        must = expected(obj)
        if must is False:
            continue
        k = key(src, obj)
        wanted.add(k)
        if k in lost or must is None:
            continue
        copies = held.get(k, [])
        if not copies and k in dst_gone:
            assert obj.deletion_mark, \
                f"{obj.ref!r}: {dst_name} deleted it, {src_name} has not marked it for deletion"
            continue
        assert len(copies) == 1, f"{dst_name} holds {len(copies)} copies of {src_name}'s {obj.ref!r}"
        assert not copies[0].from_keys, \
            f"{dst_name} knows {src_name}'s {obj.ref!r} only from references to it"
        assert comparable(dst, copies[0], versions) == comparable(src, obj, versions, sent(obj)), \
            f"{obj.ref!r} differs between {src_name} and {dst_name}"
        # 1C imports a deletion as a mark, and no version it imports after clears it: a copy
        # it must hold, marked by a deletion we sent while the original is not, is being lost.
        assert not (copies[0].marked_by_exchange and copies[0].deletion_mark and not obj.deletion_mark), \
            f"{dst_name} holds {src_name}'s {obj.ref!r} marked for deletion by one we sent; " \
            f"{src_name}'s is not"
    for k in _gone(src) - lost:
        wanted.add(k)
        for o in held.get(k, []):
            assert o.deletion_mark, \
                f"{k}: deleted in {src_name}, not marked for deletion in {dst_name}"
    return wanted


def check_converged(acc: Base, crm: Base, versions, lost: frozenset[Key] = frozenset()) -> None:
    """Both bases hold exactly what the scenario says (see the module docstring)."""
    exp = Expectations(acc, crm, lost)
    to_crm = _one_way(acc, crm, exp.in_crm, versions, lost, "accounting", "the CRM", exp.sent_to_crm)
    to_acc = _one_way(crm, acc, exp.in_accounting, versions, lost, "the CRM", "accounting")
    for base, wanted, name in ((crm, to_crm, "the CRM"), (acc, to_acc, "accounting")):
        for o in base.objects():
            if o.origin == "user" or key(base, o) in wanted:
                continue
            # A settlement document the CRM got while it was linked, and that accounting has
            # re-assigned since (it names nothing of the CRM's now): withdrawn, its copy marked.
            assert base is crm and o.type in SETTLEMENTS and o.deletion_mark and not o.from_keys, \
                f"{name} holds {o.ref!r} ({key(base, o)}), which it should not"
