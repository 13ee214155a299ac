"""`onecsync check`: config, transports, and what each base can do, each problem with its remedy."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from onecsync.errors import TemporaryError
from onecsync.flows import check as check_module
from onecsync.state import RunLock
from onecsync.state import lock_path
from tests import factory as f
from tests.conftest import DEFAULT_CONFIG
from tests.conftest import need_shared

IBPARAM = ("reference", "enterprisedata", "samples", "ibparam.json")


def everything(sending="*", receiving="*") -> dict[str, tuple[str, str]]:
    from onecsync.config import DEFAULT_FLOWS

    return {t: (sending, receiving) for ts in DEFAULT_FLOWS.values() for t in ts}


def settings(sender, types, versions=f.BASE_VERSIONS, **kw) -> f.Msg:
    return f.Msg(sender=sender, version=None, message_no=0, received_no=0, versions=versions,
                 header_extra=f.declarations(types), **kw)


def tree(root) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def warnings_of(report, peer) -> list[str]:
    return [w["message"] for w in report["warnings"] if w["peer"] == peer]


def test_a_fresh_setup_passes_with_a_warning_per_silent_base(sandbox):
    code, report, err = sandbox.run("check")
    assert code == 0, err
    assert report["problems"] == []
    for peer in ("accounting", "crm"):
        assert report["peers"][peer]["transport"]["ok"] is True
        assert report["peers"][peer]["versions"] is None
        [w] = warnings_of(report, peer)
        assert "no message from the base yet" in w and f"settings-message {peer}" in w
    assert "warning: accounting: no message from the base yet" in err
    assert not sandbox.state_path.exists()  # check never creates the state


def test_check_leaves_every_folder_as_it_was(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.run("run")
    before = tree(sandbox.root)
    assert sandbox.run("check")[0] == 0
    assert tree(sandbox.root) == before  # the probe file is gone, the state untouched


def test_both_sides_talking_shows_versions_and_declared_types(sandbox):
    sandbox.put("accounting", settings(f.ACCOUNTING, everything(),
                                       versions=("1.8", "1.10", "1.11", "1.12", "1.15", "1.16")))
    sandbox.put("crm", settings(f.CRM, everything()))
    assert sandbox.run("run")[0] == 0
    code, report, err = sandbox.run("check")
    assert code == 0, err
    assert report["warnings"] == [] and report["problems"] == []
    acc = report["peers"]["accounting"]
    assert acc["versions"] == ["1.8", "1.10", "1.11", "1.12", "1.15", "1.16"]
    assert acc["negotiated"] == "1.16"
    assert len(acc["object_types"]["sends"]) == len(everything())
    assert "the base's message Message_" in acc["transport"]["detail"]
    assert report["peers"]["crm"]["negotiated"] == "1.17"


def test_warns_for_each_type_a_base_does_not_send_or_receive(sandbox):
    acc = everything()
    acc["Документ.ЗаказКлиента"] = ("*", "")     # we send invoices to accounting
    acc["Справочник.Валюты"] = ("", "*")          # we take currencies from accounting
    del acc["Документ.РеализацияТоваровУслуг"]   # and sales
    sandbox.put("accounting", settings(f.ACCOUNTING, acc))
    sandbox.put("crm", settings(f.CRM, everything()))
    sandbox.run("run")
    code, report, err = sandbox.run("check")
    assert code == 0  # warnings alone do not fail check ...
    got = warnings_of(report, "accounting")
    assert len(got) == 3, got
    assert any("does not receive Документ.ЗаказКлиента" in w and
               "flows.push-invoices.objects" in w for w in got)
    assert any("does not send Справочник.Валюты" in w and "flows.pull-catalogs.objects" in w
               for w in got)
    assert any("does not send Документ.РеализацияТоваровУслуг" in w for w in got)
    assert warnings_of(report, "crm") == []
    assert err.count("onecsync: warning: accounting:") == 3
    assert sandbox.run("check", "--strict")[0] == 3  # ... unless asked to
    code, _, err = sandbox.human("-q", "check", "--strict")  # -q hides warnings, not problems
    assert code == 3 and err.count("onecsync: warning: accounting:") == 3, err
    assert sandbox.human("-q", "check")[2].count("warning") == 0


def test_warns_when_a_base_handles_a_type_only_in_other_versions(sandbox):
    crm = everything()
    crm["Справочник.Контрагенты"] = ("*", "1.8,1.10")
    sandbox.put("accounting", settings(f.ACCOUNTING, everything()))
    sandbox.put("crm", settings(f.CRM, crm))
    sandbox.run("run")
    code, report, _ = sandbox.run("check")
    assert code == 0
    [w] = warnings_of(report, "crm")
    assert "receives Справочник.Контрагенты only in format 1.8, 1.10, not in 1.17" in w
    assert "node.formats" in w


def test_no_common_version_is_a_problem_with_the_remedy(sandbox):
    sandbox.put("accounting", settings(f.ACCOUNTING, everything(), versions=("1.3", "1.4", "1.7")))
    sandbox.put("crm", settings(f.CRM, everything(), versions=("1.18", "1.19")))
    # Settings messages are accepted whatever they offer; nothing is sent that they would refuse.
    assert sandbox.run("run")[0] == 3
    code, report, err = sandbox.run("check")
    assert code == 3
    lines = {p["peer"]: p["message"] for p in report["problems"]}
    assert "no common format version" in lines["accounting"]
    assert "update the base" in lines["accounting"]
    assert "no common format version" in lines["crm"] and "add 1.19 to node.formats" in lines["crm"]
    assert report["peers"]["crm"]["negotiated"] is None
    assert "problem: crm: no common format version" in err


def test_real_accounting_declarations_warn_about_invoices_and_departments(sandbox):
    """БП 3.0.169's own SupportedObjectsInFormat: no СчетПокупателю, and Подразделения only in."""
    data = json.loads(need_shared(*IBPARAM).read_text(encoding="utf-8"))
    versions = tuple(data["ExchangeFormatVersions"])

    def text(v):
        return v if isinstance(v, str) else ",".join(v)

    types = {o["Object"]: (text(o["Send"]), text(o["Receive"]))
             for o in data["SupportedObjectsInFormat"]}
    sandbox.put("accounting", settings(f.ACCOUNTING, types, versions=versions))
    sandbox.run("run")
    code, report, _ = sandbox.run("check")
    assert code == 0
    assert report["peers"]["accounting"]["negotiated"] == "1.17"
    got = sorted(warnings_of(report, "accounting"))
    assert len(got) == 3, got
    assert "does not receive Документ.СчетПокупателю" in got[0]
    assert "does not send Документ.СчетПокупателю" in got[1]
    assert "does not send Справочник.Подразделения" in got[2]


def test_a_missing_folder_is_a_setup_problem(sandbox):
    os.rmdir(sandbox.folders["crm"])
    code, report, err = sandbox.run("check")
    assert code == 3
    assert report["peers"]["crm"]["transport"]["ok"] is False
    [problem] = report["problems"]
    assert problem["peer"] == "crm" and "does not exist" in problem["message"]
    assert "mount the share" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder_is_a_setup_problem(sandbox):
    os.chmod(sandbox.folders["accounting"], 0o555)
    try:
        code, report, _ = sandbox.run("check")
    finally:
        os.chmod(sandbox.folders["accounting"], 0o755)
    assert code == 3 and "permission denied" in report["problems"][0]["message"]


def test_an_unreachable_transport_exits_4(sandbox, monkeypatch):
    class Down:
        description = "ftp://bp.example/exchange"

        def probe(self):
            raise TemporaryError("bp.example: connection timed out")

    real = check_module.build_transport
    monkeypatch.setattr(check_module, "build_transport",
                        lambda base, node, **kw: Down() if base.name == "accounting"
                        else real(base, node, **kw))
    code, report, _ = sandbox.run("check")
    assert code == 4
    assert report["peers"]["accounting"]["transport"]["error"].startswith("bp.example: connection")
    assert report["peers"]["crm"]["transport"]["ok"] is True


def test_a_transport_without_probe_is_reported_not_checked(sandbox, monkeypatch):
    class Opaque:
        description = "somewhere"

    monkeypatch.setattr(check_module, "build_transport", lambda base, node, **kw: Opaque())
    code, report, _ = sandbox.run("check")
    assert code == 0
    assert report["peers"]["crm"]["transport"]["ok"] is None


def test_dry_run_check_writes_nothing_and_still_sees_a_missing_folder(sandbox):
    before = tree(sandbox.root)
    code, report, _ = sandbox.run("--dry-run", "check")
    assert code == 0 and report["peers"]["accounting"]["transport"]["ok"] is True
    assert tree(sandbox.root) == before
    os.rmdir(sandbox.folders["accounting"])
    assert sandbox.run("--dry-run", "check")[0] == 3


def test_a_flow_type_no_offered_version_has_is_a_config_problem(sandbox):
    text = DEFAULT_CONFIG.format(node=f.NODE, acc=f.ACCOUNTING, crm=f.CRM, acc_extra="",
                                 crm_extra="")
    sandbox.write_config(text + "flows:\n  pull-catalogs:\n    objects: [Справочник.Контрагенты, "
                                "Справочник.Контрагетны]\n")
    code, report, _ = sandbox.run("check")
    assert code == 3
    [problem] = report["problems"]
    assert problem["message"].startswith("flows.pull-catalogs.objects[1]: Справочник.Контрагетны")


def test_an_invalid_config_exits_3_with_every_problem(sandbox):
    sandbox.config.write_text("node: {code: nope}\nbases: {}\n", encoding="utf-8")
    code, report, err = sandbox.run("check")
    assert code == 3
    assert "node.code" in err and "bases.accounting: missing" in err
    assert report["exit_code"] == 3 and len(report["problems"]) >= 3


def test_a_state_of_another_base_is_a_problem(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.run("run")
    other = "11111111-2222-4333-8444-555555555555"
    sandbox.write_config(DEFAULT_CONFIG.format(node=f.NODE, acc=other, crm=f.CRM, acc_extra="",
                                               crm_extra=""))
    code, report, _ = sandbox.run("check")
    assert code == 3
    assert any("state file belongs to a base with code " + f.ACCOUNTING in p["message"]
               for p in report["problems"])


def test_check_runs_while_an_exchange_holds_the_lock(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.run("run")
    with RunLock(lock_path(sandbox.state_path), "run"):
        code, report, _ = sandbox.run("check")
    assert code == 0 and report["peers"]["accounting"]["versions"] is not None


def test_an_unwritable_folder_is_a_setup_problem(sandbox, monkeypatch):
    real_open = os.open

    def refusing(path, *args, **kw):  # what the kernel says to a user without write access
        if os.path.basename(path).startswith(".onecsync-probe-"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kw)

    monkeypatch.setattr(os, "open", refusing)
    code, report, err = sandbox.run("check")
    assert code == 3
    assert {p["peer"] for p in report["problems"]} == {"accounting", "crm"}
    assert "permission denied" in report["problems"][0]["message"]
    assert "give this user read and write access" in err


def test_odata_endpoints_are_reached_and_a_refusal_is_a_problem(sandbox, monkeypatch):
    import re

    import responses

    monkeypatch.setenv("BP_ODATA_PW", "odata-s3cret")
    url = "http://bp.local/bp/odata/standard.odata"
    text = sandbox.config.read_text().replace(
        "    transport: {kind: directory, path: exchange/accounting}",
        "    transport: {kind: directory, path: exchange/accounting}\n"
        f"    odata: {{url: '{url}', user: sync, password_env: BP_ODATA_PW}}")
    sandbox.config.write_text(text)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, re.compile(re.escape(url) + r"/?\?.*"),
                 json={"odata.metadata": f"{url}/$metadata", "value": []})
        code, report, err = sandbox.run("check")
    assert code == 0, err
    assert report["peers"]["accounting"]["odata"]["ok"] is True
    assert "odata" not in report["peers"]["crm"]
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, re.compile(re.escape(url) + r"/?\?.*"), status=401)
        code, report, err = sandbox.run("check")
    assert code == 3
    (problem,) = report["problems"]
    assert problem["peer"] == "accounting" and "check user and rights" in problem["message"]
    assert "odata-s3cret" not in err + json.dumps(report)


def test_an_http_base_reports_its_versions_before_any_message(sandbox, monkeypatch):
    from tests.emulator.remote import lone
    from tests.exchange_service import ExchangeService

    monkeypatch.setenv("ONECSYNC_TEST_PW", "s3cret")
    params = {"ExchangeFormatVersions": ["1.17", "1.16", "1.11", "1.10", "1.8"],
              "ThisNodeCode": f.ACCOUNTING}
    with ExchangeService(lone("accounting"), ib_parameters=params) as service:
        text = sandbox.config.read_text().replace(
            "    transport: {kind: directory, path: exchange/accounting}",
            f"    transport: {{kind: http, url: '{service.url}', user: sync, "
            "password_env: ONECSYNC_TEST_PW}")
        sandbox.config.write_text(text)
        code, report, err = sandbox.run("check")
    assert code == 0, err
    acc = report["peers"]["accounting"]
    assert acc["transport"]["ok"] is True
    assert acc["versions"] == ["1.17", "1.16", "1.11", "1.10", "1.8"]
    assert acc["negotiated"] == "1.17"
