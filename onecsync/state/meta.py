"""The meta table: small named values of the whole state, the node it belongs to first.

Public API: `Meta` (as `State.meta`).
"""

from __future__ import annotations

from onecsync.errors import StateError
from onecsync.state.table import Table


class Meta(Table):
    def get(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                          "DO UPDATE SET value = excluded.value", (key, value))

    def ensure_node(self, code: str, plan: str) -> None:
        """The state belongs to one node of one exchange plan: made under another node code,
        its numbers and registrations are another node's, and every real message of the
        bases would be skipped as "received earlier". A state from before this was recorded
        adopts the config's on its first run."""
        if (wrong := self.other_node(code, plan)) is not None:
            raise wrong
        with self._state.atomic():
            for key, value in (("node_code", code), ("exchange_plan", plan)):
                if self.get(key) != value:
                    self.set(key, value)

    def other_node(self, code: str, plan: str) -> StateError | None:
        """Why this state is not the config's node's (see `ensure_node`), or None."""
        for key, value, config_key in (("node_code", code, "node.code"),
                                       ("exchange_plan", plan, "node.exchange_plan")):
            held = self.get(key)
            if held is not None and held != value and self._state.peers.exchanged():
                return StateError(
                    f"state file {self.path} was made for {config_key} {held}, but the config "
                    f"names {value}",
                    remedy=f"set {config_key} back to {held}, or give the new node a new state "
                           "file (a new `state:` path) and a fresh start in both bases")
        return None
