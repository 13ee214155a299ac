"""The progress callback the core reports to while it reads or writes a message.

Public API: `Progress`, `Task`, `NO_PROGRESS`, `EVERY`.

The core never draws anything: it asks a `Progress` for a `Task` per message and calls
`Task.update(objects, nbytes)` every `EVERY` objects, so a bar costs one integer test per object.
The default does nothing; `onecsync.console` draws a rich bar, and only on a terminal.
"""

from __future__ import annotations

EVERY = 1000  # objects between two updates: a bar redraws at most a few times a second anyway


class Task:
    """One message being read or written (or, later, one HTTP transfer)."""

    def update(self, objects: int, nbytes: int) -> None:
        """`objects` done so far and `nbytes` read or written so far (totals, not deltas)."""

    def close(self) -> None:
        pass

    def __enter__(self) -> Task:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Progress:
    """Hands out tasks; this base hands out ones that do nothing."""

    def task(self, description: str, *, total_bytes: int | None = None,
             total_objects: int | None = None) -> Task:
        return _NULL_TASK


_NULL_TASK = Task()
NO_PROGRESS = Progress()
