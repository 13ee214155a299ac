"""A `values` rule on an element that is a structure in the version used (onecsync/mapping.py).

Review 7 M1: README's own example, `values: Услуги/Строка/СтавкаНДС: {БезНДС: НДС20}`, did
nothing from 1.17 on, where a VAT rate is a structure, and said nothing. A VAT rate is now
renamed by its code in either shape; a rule on any other structure parks the object with the
reason. Between the emulated bases (tests/emulator) on 1.17, onecsync run in-process.
"""

from __future__ import annotations

from tests.emulator import data as d
from tests.emulator.users import Users
from tests.emulator.world import World

RULE = "mapping:\n  accounting:\n    Документ.ЗаказКлиента:\n      values:\n        {path}: {table}\n"


def an_order(world: World, path: str, table: str):
    world.config.write_text(world.config.read_text(encoding="utf-8")
                            + RULE.format(path=path, table=table), encoding="utf-8")
    users = Users(world, d.seed_accounting(world.acc))
    world.settle(2)
    order = users.add_order()
    for _ in range(3):
        world.round()
    assert world.acc.negotiated() == world.crm.negotiated() == "1.17"
    return order


def test_a_values_rule_renames_a_vat_rate_that_is_a_structure(world):
    order = an_order(world, "Услуги/Строка/СтавкаНДС", "{БезНДС: НДС20}")
    copy = world.acc.get(world.copy_in("accounting", order).ref)
    rates = [row.get("СтавкаНДС") for row in copy.fields.get("Услуги", [])]
    assert rates and set(rates) == {"НДС20"}, rates
    assert all(r.code == 0 for r in world.runs)


def test_a_values_rule_on_another_structure_parks_the_object_saying_why(world):
    order = an_order(world, "Контрагент", "{a: b}")
    assert not world.copies("accounting", order)
    assert world.runs[-1].code != 0  # parked, and said so: no silent exit 0
    reasons = [r for (r,) in world.db().execute(
        "SELECT reason FROM inbox WHERE status = 'parked'")]
    assert any("Контрагент: is a structure; values only applies" in (r or "")
               for r in reasons), reasons
