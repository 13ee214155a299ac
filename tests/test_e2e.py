"""End to end: the real CLI, run as cron runs it, between two emulated 1C bases.

Each test drives an accounting base and a CRM (tests/emulator) through their exchange folders,
with onecsync in between (in-process, the same `cli.main` cron runs; killed runs are
subprocesses, see tests/emulator/world.py), and ends with `assert_converged`: every
accounting catalog object is in the CRM exactly once (bound to the same Ссылка, same content),
nothing else reached either base, and every registration on every side is confirmed.
Today onecsync runs pull-catalogs; the invoice and settlement flows plug in through
`world.expected_in_crm` / `expected_in_accounting`.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.emulator import data as d
from tests.emulator.store import Ref
from tests.emulator.world import World
from tests.emulator.world import assert_converged
from tests.emulator.world import scratch_dir


@pytest.fixture
def world(tmp_path):
    with scratch_dir(tmp_path) as root:
        yield World(root)


def crm_copy(world: World, r: Ref):
    held = [o for o in world.crm.objects(r.type) if world.crm.identity(o.ref) == r.id]
    assert len(held) == 1, held
    return held[0]


# -- the flows ------------------------------------------------------------------------------
def test_initial_load_brings_every_accounting_catalog_to_the_crm_and_nothing_else(world):
    s = d.seed_accounting(world.acc)
    # Accounting also has documents (not catalogs): they must stay where they are.
    order = world.acc.create("Документ.ЗаказКлиента",
                             d.order_fields(s, "БП00-000007", "2026-11-18T10:00:00"))
    world.acc.create("Документ.РеализацияТоваровУслуг",
                     d.sale_fields(s, "БП00-000031", "2026-11-19T10:00:00", order))
    world.acc.create("Документ.ПБДСРасчетыСКонтрагентами",
                     d.bank_receipt_fields(s, "БП00-000412", "2026-11-19T11:00:00", "99600.00",
                                           order))
    # The CRM already knows «Вектор» under its own card (same ИНН and КПП).
    own = world.crm.create("Справочник.Контрагенты",
                           d.counterparty_fields("Вектор", "7705432193"))
    first = world.round()
    assert first.code == 0, first.stderr
    received = first.report["peers"]["accounting"]["received"]
    assert received["message_no"] == 1 and received["objects"] == len(world.acc.objects())
    world.settle(3)
    assert_converged(world)
    assert world.crm.store.public_ids[own] == s.vector.id       # matched, not doubled
    assert crm_copy(world, s.vector).ref == own
    assert crm_copy(world, s.keyboard).fields["СтавкаНДС"] == "НДС20"
    assert not world.crm.documents()


def test_edits_in_accounting_reach_the_crm(world):
    s = world.seed()
    world.acc.edit(s.vector, Наименование="Вектор-М ООО", ОКПО="45872199")
    world.acc.edit(s.monitor, СтавкаНДС="НДС20", Описание="Монитор 27 дюймов, 75 Гц")
    world.acc.edit(s.vector_contract, СрокДействия="2027-12-31")
    chair = world.acc.create("Справочник.Номенклатура", d.item_fields(
        "Кресло офисное", "CH-100", s.pcs, s.goods_group, vat_code="НДС20"))
    world.settle(3)
    assert_converged(world)
    assert crm_copy(world, s.vector).fields["Наименование"] == "Вектор-М ООО"
    assert crm_copy(world, s.monitor).fields["СтавкаНДС"] == "НДС20"
    assert crm_copy(world, chair).fields["Артикул"] == "CH-100"


def test_deletions_reach_the_crm_as_deletion_marks(world):
    s = world.seed()
    world.acc.edit(s.stroy, ОсновнойДоговор=None)
    world.acc.delete(s.stroy_contract)
    world.acc.delete(s.user)
    world.acc.mark_deleted(s.petrov)     # only marked: 1C sends it as an ordinary change
    world.settle(3)
    assert_converged(world)
    assert crm_copy(world, s.stroy_contract).deletion_mark
    assert crm_copy(world, s.user).deletion_mark
    assert not crm_copy(world, s.petrov).deletion_mark


def test_a_compressed_exchange_converges(tmp_path):
    with scratch_dir(tmp_path) as root:
        compressed(World(root, compress=True))


def compressed(world: World) -> None:
    s = d.seed_accounting(world.acc)
    world.settle(3)
    assert_converged(world)
    assert world.ours("crm").suffix == ".zip" and world.theirs("accounting").suffix == ".zip"
    assert crm_copy(world, s.org).fields["ИНН"] == d.ORG_INN


def test_bases_on_different_versions_get_each_its_own(tmp_path):
    with scratch_dir(tmp_path) as root:
        older_crm(World(root, crm_versions=("1.8", "1.10", "1.11", "1.12", "1.15", "1.16")))


def older_crm(world: World) -> None:
    s = d.seed_accounting(world.acc)
    world.settle(4)
    assert_converged(world)
    assert world.runs[-1].report["peers"]["crm"]["sent"]["version"] == "1.16"
    assert world.acc.negotiated() == "1.17"
    # The VAT rate changed shape between 1.16 and 1.17 and still arrived.
    assert crm_copy(world, s.keyboard).fields["СтавкаНДС"] == "НДС20"


# -- faults ---------------------------------------------------------------------------------
def test_a_lost_message_is_made_good_by_the_next_one(world):
    s = world.seed()
    world.acc.edit(s.vector, Наименование="Вектор-2 ООО")
    world.acc.faults.drop_next = True          # accounting's message never arrives
    world.crm.faults.drop_next = True          # nor the CRM's confirmation
    world.round()
    assert crm_copy(world, s.vector).fields["Наименование"] == "Вектор ООО"
    world.settle(3)
    assert_converged(world)
    assert crm_copy(world, s.vector).fields["Наименование"] == "Вектор-2 ООО"


def test_a_message_delivered_twice_is_taken_once(world):
    s = world.seed()
    world.acc.edit(s.stroy, Наименование="СтройМонолит-2 АО")
    world.round()
    world.acc.edit(s.stroy, Наименование="СтройМонолит-3 АО")
    world.round()
    # An older accounting message and an older message of ours turn up again.
    assert world.redeliver("accounting", back=1)
    assert world.redeliver_ours("crm", back=2)
    world.exchange("crm")
    assert world.crm.log[-2].kind == "skipped"          # "ранее принято"
    run = world.run()
    assert run.code == 0 and run.report["peers"]["accounting"]["received"]["duplicate"]
    world.settle(3)
    assert_converged(world)
    assert crm_copy(world, s.stroy).fields["Наименование"] == "СтройМонолит-3 АО"


@pytest.mark.parametrize("how", ["truncate", "garbage"])
def test_a_broken_file_from_a_base_is_rejected_and_the_next_one_taken(world, how):
    s = world.seed()
    world.acc.edit(s.petrov, ДокументУдЛичность="Паспорт 45 12 345679")
    world.acc.faults.corrupt_next = how
    world.exchange("accounting")
    run = world.run()
    if how == "truncate":  # what a base still writing its file looks like: noted, not rejected
        assert run.code == 0 and "is not complete yet" in run.stderr, run.stderr
        assert run.report["peers"]["accounting"]["received"]["incomplete"]
    else:
        assert run.code == 5, run.stderr                  # rejected, nothing of it applied
        assert "rejected" in run.stderr or run.report["errors"]
    world.settle(3)
    assert_converged(world)
    assert crm_copy(world, s.petrov).fields["ДокументУдЛичность"] == "Паспорт 45 12 345679"


def test_an_unreachable_base_catches_up(world):
    s = world.seed()
    world.acc.edit(s.bank, Телефоны="+7 (495) 777-14-21")
    world.crm.faults.unreachable_next = True
    world.round()
    world.acc.faults.unreachable_next = True
    world.round()
    world.settle(3)
    assert_converged(world)
    assert crm_copy(world, s.bank).fields["Телефоны"] == "+7 (495) 777-14-21"


def test_a_folder_gone_for_one_run_is_a_retry_not_a_loss(world):
    s = world.seed()
    world.acc.edit(s.department, Наименование="Отдел продаж и маркетинга")
    world.exchange("accounting")
    world.exchange("crm")
    folder = world.folders["crm"]
    shutil.move(folder, folder.with_name("crm-unmounted"))
    run = world.run()
    assert run.code in (3, 4), run.stderr                 # said plainly, nothing lost
    shutil.move(folder.with_name("crm-unmounted"), folder)
    world.settle(3)
    assert_converged(world)
    assert crm_copy(world, s.department).fields["Наименование"] == "Отдел продаж и маркетинга"


def test_the_crm_failing_an_import_takes_the_message_again(world):
    s = world.seed()
    world.acc.edit(s.org, ОГРН="1127746123451")
    world.round()
    world.crm.faults.fail_next_import = 0
    assert world.exchange("crm").error
    world.settle(3)
    assert_converged(world)
    assert crm_copy(world, s.org).fields["ОГРН"] == "1127746123451"


def crm_restored(world: World):
    """The scene of a restore: the CRM got accounting's edit of a counterparty and a new user,
    confirmed both, and is then restored from a backup of before them. The seed and the user."""
    s = world.seed()
    saved = world.crm.backup()
    world.acc.edit(s.vector, Наименование="Вектор-Р ООО")
    added = world.acc.create("Справочник.Пользователи", {"Наименование": "Новиков Иван"})
    world.settle(3)                                   # the CRM got both and confirmed them
    assert crm_copy(world, added)
    world.crm.restore(saved)                          # ... and loses them
    return s, added


def test_the_crm_restored_from_a_backup_gets_again_what_it_lost(world):
    s, added = crm_restored(world)
    with pytest.raises(AssertionError):
        crm_copy(world, added)
    world.settle(4)
    assert_converged(world)
    assert crm_copy(world, s.vector).fields["Наименование"] == "Вектор-Р ООО"


def test_accounting_restored_from_a_backup_is_not_skipped_as_received_earlier(world):
    s = world.seed()
    saved = world.acc.backup()
    world.acc.edit(s.stroy, ОКПО="60258391")
    world.settle(2)
    world.acc.restore(saved)                          # the edit is gone from accounting
    world.acc.edit(s.petrov, Наименование="Петров А. В. ИП")  # new work after the restore
    world.acc.edit(s.stroy, ОКПО="60258392")
    world.settle(4)
    assert_converged(world)
    assert crm_copy(world, s.petrov).fields["Наименование"] == "Петров А. В. ИП"
    assert crm_copy(world, s.stroy).fields["ОКПО"] == "60258392"


def test_a_file_from_before_a_restore_delivered_again_is_skipped_and_warned(world):
    """R1 #1: after a restore, a file of the life it abandoned turns up again (a sync tool, a
    user). Its number is above the new life's: it was applied, its stale ОКПО reached the CRM,
    confirmed_no went back, and the next real message looked like another restore."""
    s = world.seed()
    saved = world.acc.backup()
    for okpo in ("60258391", "60258392", "60258393", "60258394"):  # the life the restore abandons
        world.acc.edit(s.stroy, ОКПО=okpo)
        world.settle(1)
    abandoned = len(world.history["accounting"]) - 1   # its newest file, numbered the highest
    world.acc.restore(saved)
    world.acc.edit(s.stroy, ОКПО="70000000")           # the new life's edit
    world.settle(2)
    assert any(r.report["peers"]["accounting"]["received"].get("restored")
               for r in world.runs[-2:])                # the restore is still recognised
    numbers = world.numbers("accounting")
    assert world.redeliver("accounting", back=len(world.history["accounting"]) - 1 - abandoned)
    run = world.run()
    assert run.code == 0 and run.report["peers"]["accounting"]["received"]["duplicate"], run.stderr
    assert f"accounting: {world.theirs('accounting')} is its message" in run.stderr, run.stderr
    assert "skipped as received earlier" in run.stderr, run.stderr
    assert world.numbers("accounting") == numbers       # nothing goes back
    world.settle(3)
    assert not any("restored from a backup?" in r.stderr for r in world.runs[-4:])
    assert_converged(world)
    assert crm_copy(world, s.stroy).fields["ОКПО"] == "70000000"


@pytest.mark.parametrize("next_first", ["cron", "bases"])
@pytest.mark.parametrize("point", ["receive.read", "receive.staged", "receive.committed",
                                   "route.committed", "send.temp_written", "send.committed",
                                   "send.renamed"])
@pytest.mark.slow
def test_onecsync_killed_at_a_boundary_converges_on_the_next_runs(world, point, next_first):
    s = d.seed_accounting(world.acc)
    world.exchange("accounting")
    world.exchange("crm")
    killed = world.run(crash=point)
    assert killed.code == 137 and killed.crashed_at == point, killed.stderr
    # Who comes next: cron again, before either base's next session, or the bases.
    if next_first == "bases":
        world.exchange("accounting")
        world.exchange("crm")
    world.acc.edit(s.vector, ОКПО="45872100")
    assert world.run().code == 0
    world.settle(4)
    assert_converged(world)
    assert not [p for p in world.root.rglob(".onecsync-tmp-*")], "a temporary file was left"
    assert crm_copy(world, s.vector).fields["ОКПО"] == "45872100"
    for name in ("accounting", "crm"):
        sent = [e.message_no for e in world.bases[name].log if e.kind == "imported"]
        assert sent == sorted(sent), f"{name} saw our numbers go back: {sent}"


def test_the_harness_refuses_to_call_a_wrong_world_converged(world):
    """The convergence check can fail: a CRM object changed behind onecsync's back is seen."""
    s = world.seed()
    rub = crm_copy(world, s.rub).fields
    rub["НаименованиеПолное"], was = "Рубль (изменен в CRM)", rub["НаименованиеПолное"]
    with pytest.raises(AssertionError, match="differs"):
        assert_converged(world)
    rub["НаименованиеПолное"] = was
    assert_converged(world)
    world.crm.store.objects.pop(crm_copy(world, s.pcs).ref)
    with pytest.raises(AssertionError, match="0 copies"):
        assert_converged(world)


def test_nothing_is_left_behind_in_the_folders(world):
    world.seed()
    names = sorted(os.listdir(world.folders["crm"]))
    assert names == sorted([world.ours("crm").name, world.theirs("crm").name])
