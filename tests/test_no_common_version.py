"""A base that offers no version of node.formats gets no message it would refuse: the send to it
stops (exit 3, one line with the remedy), `status` and `check` say so, the other base goes on;
`validate` on a message in a version onecsync does not know (1.6) is one clear line, exit 5."""

from __future__ import annotations

from tests import factory as f


def offers_only(sandbox, versions: tuple[str, ...]) -> None:
    sandbox.put("accounting", f.Msg(version=None, versions=versions))  # its settings message
    sandbox.put("crm", f.Msg(sender=f.CRM, objects=[]))


def test_no_common_version_stops_the_send_to_that_base_only(sandbox):
    offers_only(sandbox, ("1.20", "1.19"))

    code, report, err = sandbox.run("run")

    assert code == 3, err
    (line,) = [ln for ln in err.splitlines() if "error" in ln]
    assert "accounting offers 1.20, 1.19; node.formats has none of them" in line, err
    assert "add 1.20 to node.formats" in line, err
    assert "Traceback" not in err
    assert sandbox.outgoing_path("accounting") is None  # nothing it would refuse
    assert sandbox.numbers("accounting")[0] == 0
    assert sandbox.outgoing("crm")["received_no"] == 1  # the CRM's exchange went on
    assert report["peers"]["accounting"]["sent"]["code"] == 3

    code, out, _ = sandbox.human("status")
    assert "accounting offers 1.20, 1.19; node.formats has none of them" in out, out
    code, report, _ = sandbox.run("status")
    assert report["peers"]["accounting"]["format"]["ours"] is None
    code, _, err = sandbox.human("check")
    assert code == 3 and "no common format version: accounting offers 1.20, 1.19" in err, err


def test_a_base_offering_only_unknown_versions_is_told_to_update(sandbox):
    offers_only(sandbox, ("1.6", "1.5"))
    code, _, err = sandbox.run("run")
    assert code == 3, err
    assert "accounting offers 1.6, 1.5; node.formats has none of them" in err
    assert "update the base's configuration" in err


def test_validate_on_a_1_6_message_is_one_clear_line(tmp_path, sandbox):
    path = tmp_path / "old.xml"
    path.write_bytes(f.Msg(version="1.6", versions=("1.6",), objects=[f.currency(f.ref(1))]).xml())
    code, out, err = sandbox.human("validate", str(path))
    assert code == 5, out + err
    assert "internal error" not in out + err and "Traceback" not in out + err
    assert "EnterpriseData 1.6 is not a version onecsync knows" in out, out
