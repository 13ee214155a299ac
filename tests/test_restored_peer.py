"""A base restored from a backup gets again what it had confirmed after that backup.

Found by the emulator (test_e2e: the CRM restored from a backup). A 1C base exchanges by
importing first and exporting second, so a restored CRM imports our newest message before it
writes its own: its next message carries a ReceivedNo as high as ever, and looking at that
ReceivedNo alone, nothing seemed lost. What is lost is what the CRM confirmed in the messages it
wrote after the backup, and those are the messages numbered from the one it now writes again.
"""

from __future__ import annotations

from tests import factory as f

C1, C2 = f.ref(1), f.ref(2)


def crm(message_no: int, received_no: int, created: str) -> f.Msg:
    return f.Msg(sender=f.CRM, message_no=message_no, received_no=received_no, created=created)


def test_what_a_restored_base_confirmed_after_its_backup_is_sent_again(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(C1, "ООО Ромашка")]))
    sandbox.run("run")
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", C1)]
    sandbox.put("crm", crm(1, 1, "2026-11-20T10:00:00"))          # the CRM holds C1
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1, created="2026-11-20T10:05:00",
                                    objects=[f.counterparty(C2, "АО Василек")]))
    sandbox.run("run")
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", C2)]
    sandbox.put("crm", crm(2, 2, "2026-11-20T11:00:00"))          # ... and C2
    sandbox.run("run")
    latest = sandbox.outgoing("crm")
    assert latest["objects"] == [] and sandbox.numbers("crm")[2] == 2
    # The CRM is restored to its backup taken after its message 1. Its next session imports
    # our latest message (which carries nothing) and writes its message 2 again, confirming it.
    sandbox.put("crm", crm(2, latest["message_no"], "2026-11-21T09:00:00"))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["peers"]["crm"]["received"]["restored"] is True
    # C2 was confirmed by the CRM's lost message 2: it goes again. C1 was confirmed by its
    # message 1, which the backup holds: it does not.
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", C2)]
