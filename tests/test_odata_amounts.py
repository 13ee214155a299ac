"""What a lying or odd OData server sends as an amount (review R6 M3): the answer's schema
judges it, as it does every field onecsync reads (answers.ODATA_ROW). A number or decimal text
is compared to the cent; anything else (null, true, an object, a list, 10**27, "1e999999999")
is a malformed answer, exit 4, naming the field and the row's Ref_Key, never the drift
"accounting has None"."""

from __future__ import annotations

import pytest

from onecsync import answers
from tests import factory as f
from tests.test_reconcile_odata import O1
from tests.test_reconcile_odata import O2
from tests.test_reconcile_odata import P1
from tests.test_reconcile_odata import odata  # noqa: F401
from tests.test_reconcile_odata import scenario


def reconciled(sandbox, odata, amount):  # noqa: F811
    odata.add("Document_СчетНаОплатуПокупателю", Ref_Key=O1, Number="0000-000001",
              СуммаДокумента=amount, Posted=True, DeletionMark=False)
    odata.add("Document_СчетНаОплатуПокупателю", Ref_Key=O2, Number="0000-000002",
              СуммаДокумента=500, Posted=True, DeletionMark=False)
    odata.add("Document_ПоступлениеНаРасчетныйСчет_РасшифровкаПлатежа", Ref_Key=P1,
              LineNumber="1", СчетНаОплату_Key=O1, СуммаПлатежа=50000)
    odata.add("Document_ПоступлениеНаРасчетныйСчет", Ref_Key=P1, DeletionMark=False, Posted=True)
    scenario(sandbox)
    sandbox.run("reconcile")  # first seen: a difference may still be on its way
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1, created="2026-11-21T09:00:00"))
    return sandbox.run("run")


@pytest.mark.parametrize("amount", [None, True, {"x": 1}, [123000], 10**27, "1e999999999", "12,5"])
def test_an_amount_that_is_no_number_is_a_malformed_answer_naming_field_and_row(sandbox, odata, amount):  # noqa: F811
    code, report, err = reconciled(sandbox, odata, amount)
    assert code == 4, err
    [line] = [x for x in err.splitlines() if x.startswith("onecsync: error:")]
    assert "Document_СчетНаОплатуПокупателю" in line and ".СуммаДокумента is " in line \
        and "not an amount" in line and f"the row whose Ref_Key is {O1}" in line, line
    assert not (report or {}).get("drift"), report


@pytest.mark.parametrize("amount, drift", [(123000, None), ("123000", None), ("123000.00", None),
                                           (123000.004, None), (-123000, "accounting has -123000.00")])
def test_a_number_or_decimal_text_is_compared_to_the_cent(sandbox, odata, amount, drift):  # noqa: F811
    code, report, err = reconciled(sandbox, odata, amount)
    details = [d["detail"] for d in report.get("drift", [])]
    if drift is None:
        assert code == 0 and not details, (err, details)
    else:
        assert code == 9 and any(drift in d for d in details), (err, details)


@pytest.mark.parametrize("field, value, ok", [
    ("СуммаПлатежа", 10**400, False), ("СуммаПлатежа", "-0.5", True), ("СуммаПлатежа", False, False),
    ("LineNumber", "2", True), ("LineNumber", 2, True), ("LineNumber", [2], False),
    ("LineNumber", True, False), ("Number", {"any": "thing"}, True)])
def test_every_field_onecsync_reads_is_judged_by_the_rows_schema(field, value, ok):
    row = {"Ref_Key": O1, field: value}
    if ok:
        assert answers.check(row, answers.ODATA_ROW) == row
    else:
        with pytest.raises(answers._Wrong, match=rf"\.{field} is .*\(in the row whose Ref_Key is {O1}\)"):
            answers.check(row, answers.ODATA_ROW)
