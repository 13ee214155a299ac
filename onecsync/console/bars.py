"""The progress display on a terminal: a line per phase with its bar, objects, bytes and time
left. Off a terminal the core's no-op progress is used: cron mail and journald stay clean.

Public API: `TerminalProgress`, `progress(enabled)`.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING
from typing import Iterator

from onecsync.console import shown
from onecsync.console import stderr
from onecsync.i18n import _
from onecsync.i18n import tr
from onecsync.progress import NO_PROGRESS
from onecsync.progress import Progress
from onecsync.progress import Task

if TYPE_CHECKING:
    from rich.console import Console


class _TerminalTask(Task):
    def __init__(self, bar, description: str,
                 total_bytes: int | None, total_objects: int | None) -> None:
        self._bar = bar
        self._by_bytes = total_bytes is not None
        self._of = f" / {_size(total_bytes)}" if total_bytes is not None else ""
        # No total at all (routing, say): rich shows a pulsing bar, the spinner and the clock.
        self._id = bar.add_task(description, total=total_bytes or total_objects,
                                objects=0, size=_size(0) + self._of)

    def update(self, objects: int, nbytes: int) -> None:
        self._bar.update(self._id, completed=nbytes if self._by_bytes else objects,
                         objects=objects, size=_size(nbytes) + self._of)

    def close(self) -> None:
        self._bar.remove_task(self._id)


class TerminalProgress(Progress):
    """A line per phase (reading, routing, writing a message): spinner, what, a bar with its
    percentage, objects, bytes of the total, time so far and left. Only made for a terminal;
    `get_time` is rich's clock (tests give their own)."""

    def __init__(self, console: Console, get_time=None) -> None:
        from rich import progress as rp

        self.bar = rp.Progress(
            rp.SpinnerColumn(), rp.TextColumn("{task.description}", markup=False), rp.BarColumn(),
            rp.TaskProgressColumn(), rp.TextColumn("{task.fields[objects]:>10,} " + _("objects")),
            rp.TextColumn("{task.fields[size]:>19}"), rp.TimeElapsedColumn(),
            rp.TextColumn(_("ETA")), rp.TimeRemainingColumn(),
            console=console, transient=True, get_time=get_time)

    def task(self, description: str, *, total_bytes: int | None = None,
             total_objects: int | None = None) -> Task:
        # It names a message file: escaped, and never read as rich markup ("[bold]" in a name).
        return _TerminalTask(self.bar, shown(tr(description)), total_bytes, total_objects)

    def __enter__(self) -> TerminalProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.stop()


@contextlib.contextmanager
def progress(enabled: bool) -> Iterator[Progress]:
    """A terminal progress display while the block runs, when `enabled` and stderr is a
    terminal; otherwise the core's no-op (cron mail and journald stay clean)."""
    if not (enabled and stderr().is_terminal):
        yield NO_PROGRESS
        return
    with TerminalProgress(stderr()) as p:
        yield p


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""
