"""The invoice registry: the CRM's invoices as the settlements flow last saw them.

Public API: `Invoices` (as `State.invoices`).
"""

from __future__ import annotations

from onecsync.state.inbox import OWN_INVOICE
from onecsync.state.inbox import InboxStatus as S
from onecsync.state.table import Table
from onecsync.state.table import now_text


class Invoices(Table):
    def upsert(self, ref: str, type_name: str, fields: dict) -> None:
        stamp = now_text()
        self.conn.execute(
            "INSERT INTO invoices (ref, type, number, date, counterparty_ref, counterparty, amount, "
            "currency, deleted, first_seen, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?) "
            "ON CONFLICT (ref) DO UPDATE SET number = excluded.number, date = excluded.date, "
            "counterparty_ref = excluded.counterparty_ref, counterparty = excluded.counterparty, "
            "amount = excluded.amount, currency = excluded.currency, deleted = 0, "
            "updated_at = excluded.updated_at",
            (ref, type_name, fields.get("number"), fields.get("date"), fields.get("counterparty_ref"),
             fields.get("counterparty"), fields.get("amount"), fields.get("currency"), stamp, stamp))

    def unjudge_own(self, peer: str, type_name: str, ref: str) -> bool:
        """`peer`'s copy of a registry invoice, judged its own (OWN_INVOICE: not in the
        registry) when it came first, is routed again by the next routing of `peer`'s changes.
        Whether there was such a copy."""
        return self.conn.execute(f"UPDATE inbox SET status = {S.STAGED.literal} WHERE peer = ? AND "
                          f"type = ? AND ref = ? AND status = {S.IGNORED.literal} AND reason = ?",
                          (peer, type_name, ref, OWN_INVOICE)).rowcount > 0

    def mark_deleted(self, ref: str) -> None:
        self.conn.execute("UPDATE invoices SET deleted = 1, updated_at = ? WHERE ref = ?",
                          (now_text(), ref))

    def has(self, ref: str) -> bool:
        return self.conn.execute("SELECT 1 FROM invoices WHERE ref = ?", (ref,)).fetchone() is not None

    def all(self) -> list[dict]:
        cur = self.conn.execute("SELECT * FROM invoices ORDER BY first_seen, ref")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur]
