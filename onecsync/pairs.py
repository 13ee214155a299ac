"""Many pairs of bases on one host: `status --all`, one summary per config file.

Public API: `config_files(paths)`, `summaries(paths)` → `PairsReport` (of `PairStatus`; `to_json`
is what --json prints), `pairs_dir()`.

A pair is one config file (`/etc/onecsync/<name>.yaml` under the onecsync@<name> units), named
by the file's name without .yaml. Each summary reads that pair's state through
`reports.status`: read-only, no lock, safe while any of the runs goes on. A config or state
that cannot be read is that pair's line (its error and exit code), and the others are shown
all the same; the command's exit code is then the most serious of those codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Mapping

from onecsync import config as config_module
from onecsync import stopping
from onecsync.config import load_config
from onecsync.errors import ExitCode
from onecsync.errors import OnecsyncError

if TYPE_CHECKING:
    from onecsync.state.status_report import InProgress
    from onecsync.state.status_report import PeerStatus
    from onecsync.state.status_report import RunSummary
    from onecsync.state.status_report import StatusReport

SUFFIXES = (".yaml", ".yml")


def pairs_dir() -> Path:
    """Where the instance units' configs are: what `status --all` reads when given no path."""
    return config_module.SYSTEM_ROOT / "etc" / "onecsync"


def config_files(paths: list[Path]) -> list[Path]:
    """The files named, with each folder replaced by the *.yaml (*.yml) files in it, sorted."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and not
                          p.name.startswith("."))
        else:
            out.append(path)
    return list(dict.fromkeys(out))


def _pair_name(path: Path) -> str:
    return path.name.removesuffix(path.suffix) if path.suffix in SUFFIXES else path.name


@dataclass(frozen=True)
class PairStatus:
    """One pair's line: its `status` (`report`, read with one run), or the `error` (and its
    `exit_code`) that kept it from being read."""

    pair: str
    config: str
    exit_code: int = 0
    error: str | None = None
    report: StatusReport | None = None

    def _peers(self) -> Mapping[str, PeerStatus]:
        return self.report.peers if self.report is not None else {}

    def _count(self, p: PeerStatus, what: str) -> int:
        b = p.backlog
        if b is None:
            return 0
        return {"stuck": b.stuck.count, "parked": b.parked.total,
                "unconfirmed": b.unconfirmed.count}[what]

    @property
    def last_run(self) -> RunSummary | None:
        runs = self.report.runs if self.report is not None else ()
        return runs[0] if runs else None

    @property
    def in_progress(self) -> InProgress | None:
        return self.report.in_progress if self.report is not None else None

    @property
    def stuck(self) -> int:
        return sum(self._count(p, "stuck") for p in self._peers().values())

    @property
    def parked(self) -> int:
        return sum(self._count(p, "parked") for p in self._peers().values())

    @property
    def unconfirmed(self) -> int:
        return sum(self._count(p, "unconfirmed") for p in self._peers().values())

    def to_json(self) -> dict:
        item: dict = {"pair": self.pair, "config": self.config, "exit_code": self.exit_code}
        if self.report is None:
            return {**item, "error": self.error}
        last = self.last_run
        return {**item, "state": self.report.state, "exists": self.report.exists,
                "last_run": None if last is None else {
                    k: last.to_json()[k] for k in _RUN_KEYS},
                "in_progress": self.in_progress.to_json() if self.in_progress else None,
                "stuck": self.stuck, "parked": self.parked, "unconfirmed": self.unconfirmed,
                "bases": {name: {**{what: self._count(p, what) for what in _COUNTS},
                                 "last_received_at": p.numbers.last_received_at,
                                 "last_sent_at": p.numbers.last_sent_at}
                          for name, p in self._peers().items()}}


# What a pair's line keeps of its last run, and counts of its bases.
_RUN_KEYS = ("command", "started_at", "ended_at", "exit_code", "state", "error")
_COUNTS = ("stuck", "parked", "unconfirmed")


@dataclass(frozen=True)
class PairsReport:
    """`status --all`: each pair's line; `exit_code`: the most serious of theirs."""

    exit_code: int
    paths: tuple[str, ...]
    pairs: tuple[PairStatus, ...]

    command = "status --all"

    def to_json(self) -> dict:
        return {"command": self.command, "exit_code": self.exit_code, "paths": list(self.paths),
                "pairs": [p.to_json() for p in self.pairs]}


def _summary(path: Path) -> PairStatus:
    from onecsync.state import reports

    pair, config = _pair_name(path), str(path)
    try:
        return PairStatus(pair, config, report=reports.status(load_config(path), runs=1))
    except OnecsyncError as exc:
        return PairStatus(pair, config, int(exc.exit_code), exc.line())


# The most serious first, as a run's exit code is chosen.
_SEVERITY = (ExitCode.BUG, ExitCode.CONFIG, ExitCode.TEMPORARY, ExitCode.USAGE)


def summaries(paths: list[Path]) -> PairsReport:
    files = config_files(paths)
    pairs = tuple(_summary(p) for p in files)
    stopping.check()  # a stop swallowed by SQLite is no pair's failure
    codes = {p.exit_code for p in pairs if p.exit_code}
    code = next((int(c) for c in _SEVERITY if c in codes), max(codes, default=0))
    if not files:
        code = int(ExitCode.CONFIG)  # a folder with no pair in it: the admin named the wrong one
    return PairsReport(code, tuple(str(p) for p in paths), pairs)
