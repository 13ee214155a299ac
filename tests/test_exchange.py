"""pull-catalogs end to end on the directory transport: the numbering rules of DESIGN.md §2."""

from __future__ import annotations

from tests import factory as f

C1, C2, C3 = f.ref(1), f.ref(2), f.ref(3)
RUB = f.ref(9)


def catalogs_message(**kw) -> f.Msg:
    kw.setdefault("objects", [f.counterparty(C1, "ООО Ромашка", "7701234567"),
                              f.counterparty(C2, "АО Василек", "7702345678"), f.currency(RUB)])
    return f.Msg(**kw)


def test_first_exchange_relays_catalogs_and_confirms(sandbox):
    sandbox.put("accounting", catalogs_message())
    code, report, _ = sandbox.run("pull-catalogs")
    assert code == 0
    crm = sandbox.outgoing("crm")
    assert crm["message_no"] == 1 and crm["received_no"] == 0
    assert crm["to"] == f.CRM and crm["from"] == f.NODE
    assert crm["objects"] == [("Справочник.Контрагенты", C1), ("Справочник.Контрагенты", C2),
                              ("Справочник.Валюты", RUB)]
    # Before the CRM has said which versions it offers, it gets our lowest.
    assert crm["version"] == "1.8"
    acc = sandbox.outgoing("accounting")
    assert acc["message_no"] == 1 and acc["received_no"] == 1 and acc["objects"] == []
    assert sandbox.numbers("accounting") == (1, 1, 0)
    assert sandbox.numbers("crm") == (1, 0, 0)
    assert report["peers"]["accounting"]["received"]["objects"] == 3
    assert report["peers"]["crm"]["sent"]["objects"] == 3


def test_second_run_with_nothing_new_changes_nothing(sandbox):
    sandbox.put("accounting", catalogs_message())
    sandbox.run("pull-catalogs")
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sandbox.root.rglob("Message_*")}
    dump = sandbox.dump()
    code, report, _ = sandbox.run("pull-catalogs")
    assert code == 0
    assert report["peers"]["accounting"]["received"]["duplicate"] is True
    assert report["peers"]["crm"]["sent"]["message_no"] is None
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sandbox.root.rglob("Message_*")}
    assert after == before
    assert sandbox.dump() == dump


def test_a_message_number_already_received_is_skipped_with_its_received_no(sandbox):
    sandbox.put("accounting", catalogs_message())
    sandbox.run("pull-catalogs")
    dump = sandbox.dump()
    # The same number again, now claiming a ReceivedNo we never reached: skipped, not a conflict.
    sandbox.put("accounting", catalogs_message(received_no=99, objects=[
        f.counterparty(C3, "ИП Сидоров")]))
    code, report, _ = sandbox.run("pull-catalogs")
    assert code == 0
    assert report["peers"]["accounting"]["received"] == {
        "file": str(sandbox.incoming("accounting")), "message_no": 1, "received_no": 99,
        "duplicate": True}
    after = sandbox.dump()
    assert after["inbox"] == dump["inbox"] and after["registrations"] == dump["registrations"]
    assert sandbox.numbers("accounting") == (1, 1, 0)


def test_unconfirmed_objects_go_again_in_every_later_message(sandbox):
    sandbox.put("accounting", catalogs_message())
    sandbox.run("pull-catalogs")
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1, created="2026-11-20T10:00:00",
                                    objects=[f.counterparty(C3, "ИП Сидоров")]))
    assert sandbox.run("pull-catalogs")[0] == 0
    crm = sandbox.outgoing("crm")
    assert crm["message_no"] == 2
    assert sorted(r for _, r in crm["objects"]) == sorted([C1, C2, RUB, C3])


def test_received_no_drops_what_the_peer_confirmed(sandbox):
    sandbox.put("accounting", catalogs_message())
    sandbox.run("pull-catalogs")
    # The CRM imported our message 1 and confirms it in its own first message.
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=1))
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1, created="2026-11-20T10:00:00",
                                    objects=[f.counterparty(C3, "ИП Сидоров")]))
    code, report, _ = sandbox.run("run")
    assert code == 0
    crm = sandbox.outgoing("crm")
    assert crm["objects"] == [("Справочник.Контрагенты", C3)]
    assert crm["received_no"] == 1 and crm["message_no"] == 2
    assert sandbox.numbers("crm") == (2, 1, 1)


def test_a_newer_version_replaces_the_older_registration(sandbox):
    sandbox.put("accounting", catalogs_message())
    sandbox.run("pull-catalogs")
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1, created="2026-11-20T10:00:00",
                                    objects=[f.counterparty(C1, "ООО Ромашка-Плюс")]))
    sandbox.run("pull-catalogs")
    crm = sandbox.outgoing("crm")
    assert [r for _, r in crm["objects"]].count(C1) == 1
    assert "Ромашка-Плюс".encode() in crm["path"].read_bytes()
    assert "ООО Ромашка<".encode() not in crm["path"].read_bytes()


def test_confirmation_of_an_older_message_keeps_a_newer_version_pending(sandbox):
    sandbox.put("accounting", catalogs_message())
    sandbox.run("pull-catalogs")  # CRM message 1: C1 v1
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1, created="2026-11-20T10:00:00",
                                    objects=[f.counterparty(C1, "ООО Ромашка-Плюс")]))
    sandbox.run("pull-catalogs")  # CRM message 2: C1 v2
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=1))  # confirms 1 only
    sandbox.run("run")
    crm = sandbox.outgoing("crm")
    assert ("Справочник.Контрагенты", C1) in crm["objects"]  # v2 still unconfirmed


def test_received_no_beyond_what_we_sent_is_a_conflict_and_stages_nothing(sandbox):
    sandbox.put("accounting", catalogs_message())
    sandbox.run("pull-catalogs")
    dump = sandbox.dump()
    sandbox.put("accounting", f.Msg(message_no=2, received_no=7, created="2026-11-20T10:00:00",
                                    objects=[f.counterparty(C3, "ИП Сидоров")]))
    before_acc = sandbox.outgoing_path("accounting").read_bytes()
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 6
    assert "confirms our message 7" in err and "status" in err
    after = sandbox.dump()
    assert after == dump
    # Nothing is sent to a base whose numbering we no longer trust.
    assert sandbox.outgoing_path("accounting").read_bytes() == before_acc


def test_an_unnumbered_message_is_staged_without_touching_numbers(sandbox):
    sandbox.put("accounting", catalogs_message(message_no=0, received_no=None))
    code, report, _ = sandbox.run("pull-catalogs")
    assert code == 0
    assert sandbox.numbers("accounting") == (0, 0, 0)
    assert len(sandbox.outgoing("crm")["objects"]) == 3
    assert sandbox.outgoing_path("accounting") is None  # no confirmation owed


def test_deletions_of_catalog_objects_are_forwarded(sandbox):
    sandbox.put("accounting", catalogs_message())
    sandbox.run("pull-catalogs")
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1, created="2026-11-20T10:00:00",
                                    objects=[f.deletion("КонтрагентыСсылка", C2)]))
    sandbox.run("pull-catalogs")
    crm = sandbox.outgoing("crm")
    assert ("delete", "КонтрагентыСсылка", C2) in crm["objects"]
    assert ("Справочник.Контрагенты", C2) not in crm["objects"]


def test_only_catalog_types_of_the_flow_reach_the_crm(sandbox):
    doc = f.payment(f.ref(50), None, "1.00")
    store = (f"<Справочник.Склады><КлючевыеСвойства><Ссылка>{f.ref(51)}</Ссылка>"
             "<Наименование>Основной склад</Наименование></КлючевыеСвойства></Справочник.Склады>")
    sandbox.put("accounting", catalogs_message(objects=[f.counterparty(C1, "ООО Ромашка"), doc,
                                                        store]))
    sandbox.run("pull-catalogs")
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", C1)]
    with sandbox.db() as c:
        status = dict(c.execute("SELECT type, status FROM inbox").fetchall())
    # The payment waits in the inbox for pull-settlements; the warehouse is set aside.
    assert status == {"Справочник.Контрагенты": "routed",
                      "Документ.ПБДСРасчетыСКонтрагентами": "staged",
                      "Справочник.Склады": "ignored"}


def test_each_peer_gets_the_highest_common_version(sandbox):
    sandbox.put("accounting", catalogs_message())
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=0, objects=[],
                             versions=("1.8", "1.10", "1.11", "1.12", "1.15", "1.16")))
    code, _, _ = sandbox.run("run")
    assert code == 0
    crm = sandbox.outgoing("crm")  # checked against the 1.16 schema: converted from 1.8
    assert crm["version"] == "1.16"
    assert len(crm["objects"]) == 3
    assert crm["versions"] == ["1.8", "1.10", "1.11", "1.12", "1.15", "1.16", "1.17"]
    assert sandbox.outgoing("accounting")["version"] == "1.17"  # accounting offers up to 1.17


def test_a_sent_file_is_on_disk_before_the_commit_and_its_rename_after(sandbox, monkeypatch):
    """The order that makes a power cut harmless, recorded: fsync of our new file, then the
    commit that records it as sent, then the rename into place, then fsync of the folder."""
    import contextlib
    import os

    from onecsync.state.store import State

    calls: list[tuple[str, str]] = []
    real_fsync, real_replace, real_atomic = os.fsync, os.replace, State.atomic

    def fsync(fd):
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst, *args, **kwargs):
        calls.append(("rename", f"{src}>{dst}"))
        return real_replace(src, dst, *args, **kwargs)

    @contextlib.contextmanager
    def atomic(self):
        with real_atomic(self):
            yield
        if not self.conn.in_transaction:  # the outermost one: a real commit
            calls.append(("commit", ""))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(State, "atomic", atomic)
    sandbox.put("accounting", catalogs_message())
    assert sandbox.run("pull-catalogs")[0] == 0
    final = sandbox.outgoing("crm")["path"]
    [renamed] = [i for i, (k, what) in enumerate(calls) if k == "rename" and what.endswith(f">{final}")]
    temp = calls[renamed][1].split(">")[0]
    file_synced = calls.index(("fsync", temp))
    committed = max(i for i, (k, _) in enumerate(calls[:renamed]) if k == "commit")
    assert file_synced < committed < renamed, calls
    assert ("fsync", str(final.parent)) in calls[renamed + 1:], calls
