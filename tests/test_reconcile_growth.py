"""A scheduled run's reconcile with OData costs the same whatever the history (review R4 #2).

Every invoice ever exchanged stays in the registry. Comparing them all on every run made an
idle run's OData requests grow with the history (4, 8, 20 for 10, 30, 70 invoices) until, past
odata.ROW_LIMIT, every run ended in exit 4 blaming the server. A run now compares a rotating
slice of each list (reconcile_window.SLICE) plus what drifted when last compared; `onecsync
reconcile` by hand compares up to BY_HAND a list and says how to go on. The slice is lowered
here so that a few dozen invoices stand for a large history.
"""

from __future__ import annotations

import math

import pytest

from onecsync import odata
from onecsync.flows import reconcile_window
from tests.emulator import data as d
from tests.emulator.odata import PASSWORD
from tests.emulator.odata import expose
from tests.emulator.users import Users
from tests.emulator.world import World
from tests.emulator.world import scratch_dir

ENV = "ONECSYNC_TEST_ODATA_PASSWORD"
SLICE = 10


@pytest.fixture
def scene(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, PASSWORD)
    monkeypatch.setattr(reconcile_window, "SLICE", SLICE)
    monkeypatch.setattr(reconcile_window, "AGAIN", SLICE)
    with scratch_dir(tmp_path) as root:
        world = World(root, in_process=True)
        with expose(world, password_env=ENV, password=PASSWORD) as services:
            users = Users(world, d.seed_accounting(world.acc))
            world.settle(2)
            yield world, users, services


def orders(world, users, n: int) -> None:
    for _ in range(n):
        users.add_order()
    world.settle(3)


def idle(world, services) -> tuple[int, int, str]:
    """An idle run: its exit code, the OData requests it made, its stderr."""
    for s in services.values():
        s.requests.clear()
    run = world.round()
    return run.code, sum(len(s.requests) for s in services.values()), run.stderr


def test_an_idle_runs_odata_requests_do_not_grow_with_the_history(scene):
    world, users, services = scene
    figures = []
    for batch in (10, 20, 40):
        orders(world, users, batch)
        code, n, stderr = idle(world, services)
        assert code == 0, stderr
        figures.append((len(users.crm_orders()), n))
    print("\n(invoices, OData requests of one idle run):", figures)
    assert figures[1][1] == figures[2][1]  # 30 and 70 invoices: one slice each


def test_a_history_past_what_one_reconcile_may_read_is_no_exit_4(scene, monkeypatch):
    world, users, services = scene
    orders(world, users, 30)
    # A slice reads ~20 rows here: 40 stands for the 1,000,000 of a 250,000-invoice history.
    monkeypatch.setattr(odata, "ROW_LIMIT", 40)
    codes = [world.round().code for _ in range(3)]
    assert codes == [0, 0, 0]


def test_every_invoice_is_compared_within_its_runs_and_drift_stays_reported(scene):
    world, users, services = scene
    made = [users.add_order() for _ in range(30)]
    world.settle(3)
    idle(world, services)  # where the slice stands does not matter: any invoice, any time
    gone = made[17]
    del world.acc.store.objects[world.copy_in("accounting", gone).ref]
    runs = math.ceil(len(users.crm_orders()) / SLICE)
    codes = []
    for _ in range(runs):
        codes.append(idle(world, services)[0])
        if codes[-1] == 9:
            break
    assert codes[-1] == 9, codes  # found within ceil(n / SLICE) runs
    # Found once, it is compared on every run after, until it is put right.
    code, _, stderr = idle(world, services)
    assert code == 9 and f"drift: missing accounting Документ.ЗаказКлиента {gone.id}" in stderr
    code, _, stderr = idle(world, services)
    assert code == 9, stderr


def test_reconcile_by_hand_compares_up_to_its_bound_and_says_how_to_go_on(scene, monkeypatch):
    world, users, services = scene
    monkeypatch.setattr(reconcile_window, "BY_HAND", 20)
    orders(world, users, 30)
    total = len(users.crm_orders())
    run = world.cli("reconcile")
    assert run.code == 0, run.stderr
    assert (f"reconcile: compared 20 of the {total} CRM invoices (at most 20 in one "
            "reconcile); run `onecsync reconcile` again to compare the next ones") in run.stderr
    # The next one goes on from there: the rest, and from the start again up to the bound.
    asked = services["accounting"]
    asked.requests.clear()
    run = world.cli("reconcile")
    assert run.code == 0 and "compared 20 of the" in run.stderr, run.stderr
    keys = {k for q in asked.queries("Document_СчетНаОплатуПокупателю")
            for k in q.get("$filter", "").split("'")[1::2]}
    assert len(keys) == 20


def test_reconcile_by_hand_of_a_history_within_its_bound_compares_all_and_finds_drift(scene):
    world, users, services = scene
    made = [users.add_order() for _ in range(30)]
    world.settle(3)
    del world.acc.store.objects[world.copy_in("accounting", made[25]).ref]
    run = world.cli("reconcile")
    assert run.code == 9, run.stderr
    assert "compared" not in run.stderr  # all of it: nothing to say


@pytest.mark.parametrize("value", ["{bad", "[]", '{"CRM invoices": {"after": 5}}',
                                   '{"CRM invoices": {"drifted": [1]}}'])
def test_where_the_window_stopped_damaged_is_exit_3_naming_it(tmp_path, value):
    from onecsync.state import open_state
    from onecsync.stored import Damaged

    state = open_state(tmp_path / "s.sqlite")
    try:
        with state.atomic():
            state.meta.set(reconcile_window.KEY, value)
        with pytest.raises(Damaged) as exc:
            reconcile_window.Window(state, by_hand=False)
    finally:
        state.close()
    assert exc.value.exit_code == 3
    assert f"table meta, row {reconcile_window.KEY!r}: " in exc.value.line()


def test_the_window_rotates_through_a_list_and_compares_what_drifted_again(tmp_path, monkeypatch):
    from onecsync.state import open_state

    monkeypatch.setattr(reconcile_window, "SLICE", 4)
    items = [("Документ.ЗаказКлиента", f"{i:02d}") for i in range(10)]
    state = open_state(tmp_path / "s.sqlite")
    seen: list[list[str]] = []
    try:
        for run in range(4):
            window = reconcile_window.Window(state, by_hand=False)
            picked = window.pick("CRM invoices", items, reconcile_window.pair_key)
            seen.append([ref for _, ref in picked])
            if run == 0:
                window.drifted("CRM invoices", reconcile_window.pair_key(items[1]))
            window.save()
    finally:
        state.close()
    assert seen[0] == ["00", "01", "02", "03"]
    assert seen[1] == ["04", "05", "06", "07", "01"]          # what drifted, again
    assert seen[2] == ["08", "09", "00", "01"]                # round again: every one in 3 runs
    assert seen[3] == ["02", "03", "04", "05"]                # drift put right: not again
