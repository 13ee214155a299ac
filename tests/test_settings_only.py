"""A settings-only message from a base: its versions, object types and prefix are recorded, and
nothing else changes — no number, no staged object, no confirmation (protocol §1.4)."""

from __future__ import annotations

import json

from tests import factory as f

DECLARED = {"Справочник.Контрагенты": ("*", "*"), "Документ.ЗаказКлиента": ("*", "1.16,1.17"),
            "Справочник.Подразделения": ("", "*")}


def settings_only(sender=f.ACCOUNTING, **kw) -> f.Msg:
    kw.setdefault("header_extra", f.declarations(DECLARED, prefix="БП"))
    kw.setdefault("message_no", 0)
    kw.setdefault("received_no", 0)
    return f.Msg(sender=sender, version=None, **kw)


def peer_row(sandbox, name: str) -> dict:
    with sandbox.db() as c:
        c.row_factory = lambda cur, row: {d[0]: v for d, v in zip(cur.description, row, strict=True)}
        return c.execute("SELECT * FROM peers WHERE name = ?", (name,)).fetchone()


def exchange_state(sandbox) -> dict:
    """Numbers, inbox and registrations: everything a settings message must leave alone."""
    dump = sandbox.dump()
    with sandbox.db() as c:
        numbers = c.execute("SELECT name, sent_no, received_no, confirmed_no, out_no, "
                            "out_received_no, received_created FROM peers ORDER BY name").fetchall()
    return {"numbers": numbers, "inbox": dump["inbox"], "registrations": dump["registrations"]}


def test_on_a_fresh_node_it_records_versions_types_and_prefix_and_nothing_else(sandbox):
    sandbox.put("accounting", settings_only(versions=("1.8", "1.10", "1.11", "1.12", "1.15",
                                                      "1.16")))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    received = report["peers"]["accounting"]["received"]
    assert received["settings_only"] is True and "objects" not in received
    assert sandbox.numbers("accounting") == (0, 0, 0)
    row = peer_row(sandbox, "accounting")
    assert json.loads(row["versions"]) == ["1.8", "1.10", "1.11", "1.12", "1.15", "1.16"]
    assert {d["name"]: (d["sending"], d["receiving"]) for d in json.loads(row["object_types"])} \
        == DECLARED
    assert row["prefix"] == "БП"
    assert row["format_version"] is None and row["received_created"] is None
    dump = sandbox.dump()
    assert dump["inbox"] == [] and dump["registrations"] == []
    # Nothing is owed to the base: no message (and so no confirmation) goes to it.
    assert sandbox.outgoing_path("accounting") is None
    assert report["peers"]["accounting"]["sent"]["message_no"] is None


def test_mid_exchange_it_changes_no_number_and_stages_nothing(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка"),
                                             f.currency(f.ref(2))]))
    assert sandbox.run("run")[0] == 0
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=1))
    assert sandbox.run("run")[0] == 0
    before = exchange_state(sandbox)
    ours = {p: sandbox.outgoing_path(p).read_bytes() for p in ("accounting", "crm")}
    # Even if a base put numbers in it, and a Body: a settings message is only settings.
    sandbox.put("accounting", settings_only(
        message_no=7, received_no=99, created="2026-11-21T10:00:00",
        versions=("1.8", "1.10", "1.11", "1.12", "1.15", "1.16")))
    data = sandbox.incoming("accounting").read_bytes().replace(
        b"</msg:Header>",
        b"</msg:Header><Body xmlns=\"http://v8.1c.ru/edi/edi_stnd/EnterpriseData/1.8\">"
        + f.counterparty(f.ref(3), "ИП Сидоров").encode() + b"</Body>")
    sandbox.put("accounting", data)
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["peers"]["accounting"]["received"]["settings_only"] is True
    assert exchange_state(sandbox) == before
    assert sandbox.numbers("accounting") == (1, 1, 0)
    assert {p: sandbox.outgoing_path(p).read_bytes() for p in ("accounting", "crm")} == ours
    assert json.loads(peer_row(sandbox, "accounting")["versions"])[-1] == "1.16"
    # The same file again is recognised without being parsed, still changing nothing.
    code, report, _ = sandbox.run("run")
    assert code == 0 and report["peers"]["accounting"]["received"]["unchanged"] is True
    assert exchange_state(sandbox) == before


def test_the_recorded_versions_choose_the_version_of_our_next_message(sandbox):
    sandbox.put("crm", settings_only(sender=f.CRM, versions=("1.8", "1.10", "1.11", "1.12")))
    assert sandbox.run("run")[0] == 0
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert sandbox.run("run")[0] == 0
    crm = sandbox.outgoing("crm")
    assert crm["version"] == "1.12" and crm["message_no"] == 1 and crm["received_no"] == 0


def test_a_later_data_message_numbers_on_from_where_the_base_was(sandbox):
    sandbox.put("accounting", settings_only())
    assert sandbox.run("run")[0] == 0
    sandbox.put("accounting", f.Msg(message_no=1, received_no=0, created="2026-11-21T09:00:00",
                                    objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    code, report, _ = sandbox.run("run")
    assert code == 0
    assert report["peers"]["accounting"]["received"]["objects"] == 1
    assert sandbox.numbers("accounting") == (1, 1, 0)


def test_a_settings_message_from_a_stranger_is_rejected_and_records_nothing(sandbox):
    stranger = "11111111-2222-4333-8444-555555555555"
    sandbox.put("accounting", settings_only(sender=stranger))
    code, report, err = sandbox.run("run")
    assert code == 5
    assert stranger in err
    row = peer_row(sandbox, "accounting")
    assert row["versions"] is None and row["object_types"] is None and row["prefix"] is None


def test_a_settings_message_to_another_node_is_rejected(sandbox):
    sandbox.put("crm", settings_only(sender=f.CRM, to="11111111-2222-4333-8444-555555555555"))
    code, _, err = sandbox.run("run")
    assert code == 5 and "not our node code" in err
    assert peer_row(sandbox, "crm")["versions"] is None
