"""End to end over HTTP and FTP: the real onecsync between two emulated 1C bases (tests/emulator),
each behind 1C's HTTP service (tests/exchange_service.py) or reached through an FTP server
(tests/ftp_server.py), as tests/test_e2e.py does over shared folders.

Over each transport: the initial load converges, the whole business scenario (tests/emulator/
users.py) converges and leaves both bases holding exactly what the same scenario leaves over the
directory transport, and a transfer gone wrong (a cut or refused HTTP request, an import that
failed or whose answer got lost, a lost message, a broken FTP download or upload, onecsync killed
at a boundary or before its receipt) is made good by the next runs. Every message crossing is
checked against 1C's schema (the World for folders, `Served` for HTTP).
"""

from __future__ import annotations

import contextlib
import os
import random
import time

import pytest

from onecsync import httpclient
from onecsync.transport import operations as http_operations
from tests.emulator import data as d
from tests.emulator.base import PLAN
from tests.emulator.base import ExchangeError
from tests.emulator.crashing import Crash
from tests.emulator.expect import contents
from tests.emulator.expect import key
from tests.emulator.folder import outgoing_name
from tests.emulator.remote import FTP_PASSWORD
from tests.emulator.remote import FTP_PASSWORD_ENV
from tests.emulator.remote import PASSWORD
from tests.emulator.remote import PASSWORD_ENV
from tests.emulator.remote import ftp_world
from tests.emulator.remote import http_world
from tests.emulator.store import Ref
from tests.emulator.users import INVOICE
from tests.emulator.users import ORDER
from tests.emulator.users import Users
from tests.emulator.world import World
from tests.emulator.world import assert_converged
from tests.emulator.world import scratch_dir
from tests.emulator.world import versions_used
from tests.exchange_service import Fault


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    """No real waiting between polls and retries (runs are in-process; what is asserted is
    what was called and what the bases hold)."""
    monkeypatch.setattr(http_operations, "FIRST_POLL", 0.001)
    monkeypatch.setattr(httpclient, "BACKOFF_BASE", 0.001)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    monkeypatch.setenv(FTP_PASSWORD_ENV, FTP_PASSWORD)


@contextlib.contextmanager
def directory_world(root, in_process: bool):
    yield World(root, in_process=in_process)


# The HTTP service answers every import and export as a long operation, polled once.
WORLDS = {"directory": directory_world,
          "http": lambda root, **kw: http_world(root, **{"long_polls": 1, **kw}),
          "ftp": ftp_world}


@contextlib.contextmanager
def make(kind: str, tmp_path, **kwargs):
    with scratch_dir(tmp_path / kind) as root, \
            WORLDS[kind](root, **{"in_process": True, **kwargs}) as world:
        yield world


@pytest.fixture(params=["http", "ftp"])
def world(request, tmp_path):
    with make(request.param, tmp_path) as w:
        w.kind = request.param
        yield w


def crm_copy(world: World, r: Ref):
    return world.copy_in("crm", r)


# -- the business scenario -------------------------------------------------------------------
def business(world: World) -> dict[str, Ref]:
    """The manager's orders, the accountant's payments, shipments, a return, edits both sides.

    Settles after each step so that each user works on what the other side already holds."""
    s = world.seed(3)
    users = Users(world, s)
    order = users.add_order(ORDER, qty=4)
    invoice = users.add_order(INVOICE, qty=2)
    world.settle(3)
    acc_order = world.copy_in("accounting", order).ref
    acc_invoice = world.copy_in("accounting", invoice).ref
    half = users.pay(acc_order, "half")
    world.settle(2)
    rest = users.pay(acc_order, "rest", cash=True)
    sale = users.ship(acc_invoice, qty=2)
    world.settle(2)
    back = users.take_back(sale, qty=1)
    manager_note = users.edit_order(order)
    accountant_note = users.edit_in_accounting(acc_invoice)
    world.acc.edit(s.vector, Наименование="Вектор-М ООО")
    own = users.own_order_and_payment()
    world.settle(4)
    assert_converged(world)
    # What the scenario is about, spelled out (assert_converged checks it all generically).
    assert world.acc.get(acc_order).fields["Комментарий"] == manager_note
    assert crm_copy(world, acc_invoice).fields["Комментарий"] == accountant_note
    for doc in (half, rest, sale, back):
        assert world.copies("crm", doc), f"{doc!r} did not reach the CRM"
    for doc in own:
        assert not world.copies("crm", doc), f"{doc!r}, accounting's own, reached the CRM"
    assert crm_copy(world, s.vector).fields["Наименование"] == "Вектор-М ООО"
    return {"order": order, "invoice": invoice, "sale": sale}


def test_initial_load_converges(world):
    s = d.seed_accounting(world.acc)
    first = world.round()
    assert first.code == 0, first.stderr
    assert first.report["peers"]["accounting"]["received"]["objects"] == len(world.acc.objects())
    world.settle(3)
    assert_converged(world)
    assert crm_copy(world, s.vector).fields["Наименование"] == "Вектор ООО"
    assert not world.crm.errors and not world.acc.errors
    if world.kind == "http":
        # Every message crossed the service and was imported by the base it went to.
        service = world.services["crm"]
        assert service.imported == world.history["to-crm"] != []
        assert len(service.calls("GetContinuousOperationStatus")) >= 2 * len(world.runs)
        for _, _, params in service.calls("UploadData") + service.calls("DownloadData"):
            # 1C's service finds the node by these: our code in the base's exchange plan.
            assert params["NodeCode"] == world.crm.node_code
            assert params["ExchangePlanName"] == PLAN


def test_the_business_scenario_converges_as_over_the_directory_transport(world, tmp_path):
    made = business(world)
    with make("directory", tmp_path) as folder:
        business(folder)
        versions = versions_used(folder)
        assert versions_used(world) == versions
        for name in ("accounting", "crm"):
            held = contents(world.bases[name], versions)
            assert held == contents(folder.bases[name], versions), \
                f"{name} differs from the folder world"
        crm = contents(world.crm, versions)
        assert key(world.acc, made["sale"]) in crm  # the comparison covers the documents


@pytest.mark.parametrize("kind", ["http", "ftp"])
@pytest.mark.slow
def test_the_cli_run_as_cron_runs_it_converges(kind, tmp_path):
    """The same load with onecsync as a subprocess of the CLI, as cron runs it (no long
    operations: a subprocess really waits a second before its first poll)."""
    extra = {"long_polls": 0} if kind == "http" else {}
    with make(kind, tmp_path, in_process=False, **extra) as world:
        s = d.seed_accounting(world.acc)
        world.settle(3)
        assert_converged(world)
        assert crm_copy(world, s.vector).fields["ИНН"] == world.acc.get(s.vector).fields["ИНН"]


def test_a_compressed_exchange_over_ftp_converges(tmp_path):
    with make("ftp", tmp_path, compress=True) as world:
        s = world.seed(3)
        world.acc.edit(s.keyboard, СтавкаНДС="НДС10")
        world.settle(3)
        assert_converged(world)
        assert world.ours("crm").suffix == ".zip" and world.theirs("accounting").suffix == ".zip"
        assert crm_copy(world, s.keyboard).fields["СтавкаНДС"] == "НДС10"


# -- onecsync killed ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["http", "ftp"])
@pytest.mark.parametrize("point", ["receive.read", "receive.committed", "send.temp_written"])
@pytest.mark.slow
def test_onecsync_killed_at_a_boundary_converges(kind, point, tmp_path):
    """Killed as `kill -9` would (tests/emulator/crashing.py, a subprocess): the next runs
    converge with nothing lost and nothing twice."""
    extra = {"long_polls": 0} if kind == "http" else {}
    with make(kind, tmp_path, **extra) as world:
        s = world.seed(3)
        order = Users(world, s).add_order(ORDER)
        world.acc.edit(s.stroy, Наименование="СтройМонолит-2 АО")
        world.exchange("accounting")
        world.exchange("crm")
        run = world.run(crash=point)
        assert run.crashed_at == point, run.stderr
        world.settle(4)
        assert_converged(world)
        assert crm_copy(world, s.stroy).fields["Наименование"] == "СтройМонолит-2 АО"
        assert world.copies("accounting", order)


@pytest.mark.parametrize("kind", ["http", "ftp"])
def test_a_crash_after_delivery_before_the_receipt_converges(kind, tmp_path, monkeypatch):
    """The base got our message (HTTP: imported it; FTP: it is in the folder) but onecsync died
    before writing its receipt: the next run sends the same objects again under a newer
    number (FTP: finds the file there ours by its bytes, never another writer's), and the base
    ends with one copy of each."""
    from onecsync.transport.spool import Spool

    with make(kind, tmp_path) as world:
        s = world.seed(3)
        order = Users(world, s).add_order(ORDER)
        world.settle(3)
        Users(world, s).pay(world.copy_in("accounting", order).ref, "half")
        world.exchange("accounting")
        world.exchange("crm")
        imports = [e for e in world.crm.log if e.kind == "imported"]
        ours = world.ours("crm").read_bytes() if world.ours("crm").exists() else None

        def crash(self, data):
            raise Crash()
        with monkeypatch.context() as m, pytest.raises(Crash):
            m.setattr(Spool, "write_receipt", crash)
            world.run()
        if kind == "http":  # the CRM imported it before the crash
            assert len([e for e in world.crm.log if e.kind == "imported"]) == len(imports) + 1
        else:  # our new message is in the CRM's folder
            assert world.ours("crm").read_bytes() != ours
        world.settle(4)
        assert_converged(world)


# -- HTTP faults ------------------------------------------------------------------------------
def test_http_a_message_failing_1cs_schema_fails_the_world(http):
    """The adapter's check is real: a message that is not EnterpriseData is caught at the run."""
    http.seed(3)
    with pytest.raises(ExchangeError):
        http.served["crm"].import_message(b"<Message><Header/></Message>")
    assert http.served["crm"].invalid
    with pytest.raises(AssertionError, match="crm"):
        http.run()


@pytest.fixture
def http(tmp_path):
    with make("http", tmp_path) as w:
        w.kind = "http"
        yield w


def test_http_an_answer_cut_in_the_middle_exits_4_and_the_next_run_converges(http):
    s = http.seed(3)
    users = Users(http, s)
    order = users.add_order(ORDER)
    http.acc.edit(s.stroy, Наименование="СтройМонолит-2 АО")
    before = http.numbers("accounting")
    http.services["accounting"].fail("GetFilePart", *[Fault.CUT] * httpclient.ATTEMPTS)
    run = http.run()
    assert run.code == 4, run.stderr
    assert "the answer was cut" in run.report["peers"]["accounting"]["received"]["error"]
    assert http.numbers("accounting")[1] == before[1]  # nothing of the cut message taken
    assert crm_copy(http, s.stroy).fields["Наименование"] != "СтройМонолит-2 АО"
    http.settle(3)
    assert_converged(http)
    assert crm_copy(http, s.stroy).fields["Наименование"] == "СтройМонолит-2 АО"
    assert http.copies("accounting", order)


@pytest.mark.parametrize("op, fault", [("DownloadData", Fault.DROP),
                                       ("SaveFileFromParts", Fault.ERROR_502),
                                       ("UploadData", Fault.ERROR_500)])
def test_http_a_refused_request_exits_4_and_the_next_run_converges(http, op, fault):
    s = http.seed(3)
    users = Users(http, s)
    order = users.add_order(ORDER)
    http.acc.edit(s.bank, Телефоны="+7 (495) 777-14-21")
    http.services["crm"].fail(op, fault)
    run = http.run()
    assert run.code == 4, run.stderr
    http.settle(3)
    assert_converged(http)
    assert crm_copy(http, s.bank).fields["Телефоны"] == "+7 (495) 777-14-21"
    assert http.copies("accounting", order)


def test_http_a_failed_import_is_sent_again_and_converges(http):
    s = http.seed(3)
    http.acc.edit(s.org, ОГРН="1127746123451")
    http.crm.faults.fail_next_import = 0
    run = http.run()
    assert run.code == 4, run.stderr
    assert "Ошибка загрузки данных" in run.report["peers"]["crm"]["sent"]["error"]
    assert http.crm.errors
    http.settle(3)
    assert_converged(http)
    assert crm_copy(http, s.org).fields["ОГРН"] == "1127746123451"


def test_http_an_import_whose_answer_got_lost_converges_with_nothing_twice(http):
    """The CRM imported our message but the answer never came: the next run sends the same
    objects under a newer number, which the base applies again without a second copy."""
    s = http.seed(3)
    users = Users(http, s)
    order = users.add_order(ORDER)
    http.settle(3)
    acc_order = http.copy_in("accounting", order).ref
    users.pay(acc_order, "full")
    http.served["crm"].answer_lost_next = True
    run = http.run()
    assert run.code == 4, run.stderr
    imported = [e for e in http.crm.log if e.kind == "imported"][-1]
    assert any(o[0] == "Документ.ПБДСРасчетыСКонтрагентами" for o in imported.objects)
    http.settle(3)
    assert_converged(http)  # one copy of everything in the CRM


# -- FTP faults -------------------------------------------------------------------------------
@pytest.fixture
def ftp(tmp_path):
    with make("ftp", tmp_path) as w:
        w.kind = "ftp"
        yield w


@pytest.mark.parametrize("kind", ["drop-read", "short-read"])
def test_ftp_a_download_broken_in_the_middle_exits_4_and_the_next_run_converges(ftp, kind):
    s = ftp.seed(3)
    ftp.acc.edit(s.petrov, ДокументУдЛичность="Паспорт 45 12 345679")
    before = ftp.numbers("accounting")
    ftp.exchange("accounting")
    ftp.exchange("crm")
    ftp.ftp.fail(kind, outgoing_name(ftp.acc)[:-len(".xml")])  # the base's, prefixed as 1C
    run = ftp.run()
    assert run.code == 4, run.stderr
    assert ftp.numbers("accounting")[1] == before[1]  # the broken download was not taken
    ftp.settle(3)
    assert_converged(ftp)
    assert crm_copy(ftp, s.petrov).fields["ДокументУдЛичность"] == "Паспорт 45 12 345679"


def test_ftp_an_upload_broken_in_the_middle_exits_4_and_the_next_run_converges(ftp):
    s = ftp.seed(3)
    users = Users(ftp, s)
    order = users.add_order(ORDER)
    ftp.settle(2)
    users.pay(ftp.copy_in("accounting", order).ref, "half")
    ftp.exchange("accounting")
    ftp.exchange("crm")
    ftp.ftp.fail("drop-write", f"Message_{ftp.crm.node_code}_{ftp.crm.code}")
    run = ftp.run()
    assert run.code == 4, run.stderr
    ftp.settle(3)
    assert_converged(ftp)


def test_ftp_a_lost_message_is_made_good_by_the_next_one(ftp):
    s = ftp.seed(3)
    ftp.acc.edit(s.vector, Наименование="Вектор-2 ООО")
    ftp.acc.faults.drop_next = True  # accounting's message never reaches the FTP folder
    ftp.crm.faults.drop_next = True  # nor the CRM's confirmation
    run = ftp.round()
    assert run.code == 0, run.stderr
    assert crm_copy(ftp, s.vector).fields["Наименование"] == "Вектор ООО"
    ftp.settle(3)
    assert_converged(ftp)
    assert crm_copy(ftp, s.vector).fields["Наименование"] == "Вектор-2 ООО"


# -- random histories --------------------------------------------------------------------------
HTTP_FAULTS = [("GetFilePart", Fault.CUT), ("DownloadData", Fault.DROP),
               ("UploadData", Fault.ERROR_500), ("UploadData", Fault.DROP),
               ("SaveFileFromParts", Fault.ERROR_502), ("PutFilePart", Fault.DROP),
               ("PrepareGetFile", Fault.DROP), ("GetContinuousOperationStatus", Fault.ERROR_502),
               ("DownloadData", Fault.ERROR_400)]


def _user_step(rng, users: Users, world: World, s: d.Seeded, n: int) -> None:
    action = rng.randrange(6)
    crm_orders = users.crm_orders()
    in_acc = users.crm_orders_in_accounting()
    if action == 0 or not crm_orders:
        users.add_order(rng.choice([ORDER, INVOICE]))
    elif action == 1:
        users.edit_order(rng.choice(crm_orders).ref)
    elif action == 2 and [o for o in in_acc if o.type == ORDER]:
        users.pay(rng.choice([o for o in in_acc if o.type == ORDER]).ref,
                  rng.choice(["full", "half", "rest"]), cash=rng.random() < 0.5)
    elif action == 3 and in_acc:
        users.ship(rng.choice(in_acc).ref)
    elif action == 4 and users.linked_sales():
        sale = rng.choice(users.linked_sales())
        users.take_back(sale) if rng.random() < 0.5 else users.pay_for_shipment(sale)
    elif in_acc:
        users.edit_in_accounting(rng.choice(in_acc).ref)
    else:
        world.acc.edit(s.vector, Наименование=f"Вектор {n} ООО")


def _fault_step(rng, world: World, kind: str) -> None:
    name = rng.choice(["accounting", "crm"])
    if rng.random() < 0.25:
        world.bases[name].faults.fail_next_import = rng.randint(0, 3)
    elif kind == "http":
        if rng.random() < 0.2:
            world.served[name].answer_lost_next = True
        else:
            op, fault = rng.choice(HTTP_FAULTS)
            world.services[name].fail(op, *[fault] * rng.choice([1, httpclient.ATTEMPTS]))
    elif rng.random() < 0.3:
        world.bases[name].faults.drop_next = True
    else:
        world.ftp.fail(rng.choice(["drop-read", "short-read", "drop-write"]), "Message_")


@pytest.mark.parametrize("seed", range(1, 1 + int(os.environ.get("ONECSYNC_REMOTE_SEEDS", "2"))))
@pytest.mark.parametrize("kind", ["http", "ftp"])
def test_a_random_history_with_faults_converges_once_they_stop(kind, seed, tmp_path):
    """Users of both bases, transfers gone wrong and runs, in an order drawn from `seed`;
    every run ends well or temporarily (exit 4), and once the faults stop the bases converge.
    ONECSYNC_REMOTE_SEEDS=100 runs a hundred seeds per transport (a soak)."""
    rng = random.Random(seed)
    extra = {"long_polls": rng.randint(0, 2), "part_size": rng.choice([1, 64])} \
        if kind == "http" else {}
    with make(kind, tmp_path, **extra) as world:
        s = world.seed(3)
        users = Users(world, s)
        codes = []
        for n in range(30):
            roll = rng.random()
            if roll < 0.4:
                _user_step(rng, users, world, s, n)
            elif roll < 0.6:
                _fault_step(rng, world, kind)
            else:
                run = world.round()
                assert run.code in (0, 4), (run.code, run.stderr)
                codes.append(run.code)
        assert 4 in codes  # the faults did bite
        for base in world.bases.values():
            base.faults.fail_next_import, base.faults.drop_next = None, False
        if kind == "http":
            for name in world.bases:
                world.services[name].state.faults.clear()
                world.served[name].answer_lost_next = False
        else:
            world.ftp.faults.clear()
        world.settle(5)
        assert_converged(world)
        assert users.crm_orders()


def _set_run_timeout(world: World, seconds: float | None) -> None:
    text = world.config.read_text(encoding="utf-8")
    text = "\n".join(x for x in text.splitlines() if not x.startswith("run_timeout:")) + "\n"
    if seconds is not None:
        text = text.replace("state: state/onecsync.sqlite\n",
                            f"state: state/onecsync.sqlite\nrun_timeout: {seconds}\n", 1)
    world.config.write_text(text, encoding="utf-8")


def test_http_a_run_past_run_timeout_stops_there_and_the_next_run_converges(http):
    """Both bases answer every request just inside read_timeout: the run as a whole is cut at
    run_timeout, journaled as such, and the next runs lose nothing and take nothing twice."""
    s = http.seed(3)
    users = Users(http, s)
    order = users.add_order(ORDER)
    http.acc.edit(s.stroy, Наименование="СтройМонолит-2 АО")
    _set_run_timeout(http, 1)
    for svc in http.services.values():
        svc.pause = 0.3  # read_timeout is 5: each answer is in time, the run is not
    start = time.monotonic()
    run = http.run()
    took = time.monotonic() - start
    assert run.code == 4, run.stderr
    lines = [x for x in run.stderr.splitlines() if x.strip()]
    assert lines == ["onecsync: error: timed out: the run went past run_timeout (1 s): what it "
                     "had not committed is undone; the next run carries on (raise run_timeout "
                     "if a first exchange of this size needs longer)"], run.stderr
    assert took < 30, took
    with contextlib.closing(http.db()) as c:
        assert c.execute("SELECT exit_code, error FROM runs ORDER BY id DESC LIMIT 1"
                         ).fetchone() == (4, "timed out: the run went past run_timeout (1 s)")
    assert crm_copy(http, s.stroy).fields["Наименование"] != "СтройМонолит-2 АО"
    for svc in http.services.values():
        svc.pause = 0
    _set_run_timeout(http, None)
    http.settle(3)
    assert_converged(http)
    assert crm_copy(http, s.stroy).fields["Наименование"] == "СтройМонолит-2 АО"
    assert len(http.copies("accounting", order)) == 1
