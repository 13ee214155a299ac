"""Many pairs of bases on one host: `status --all`, one summary per config file.

Public API: `config_files(paths)`, `summaries(paths)` → JSON-ready dict, `PAIRS_DIR`.

A pair is one config file (`/etc/onecsync/<name>.yaml` under the onecsync@<name> units), named
by the file's name without .yaml. Each summary reads that pair's state through
`reports.status`: read-only, no lock, safe while any of the runs goes on. A config or state
that cannot be read is that pair's line (its error and exit code), and the others are shown
all the same; the command's exit code is then the most serious of those codes.
"""

from __future__ import annotations

from pathlib import Path

from onecsync import config as config_module
from onecsync import stopping
from onecsync.config import load_config
from onecsync.errors import ExitCode
from onecsync.errors import OnecsyncError

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


def _summary(path: Path) -> dict:
    from onecsync.state import reports

    item: dict = {"pair": _pair_name(path), "config": str(path)}
    try:
        data = reports.status(load_config(path), runs=1)
    except OnecsyncError as exc:
        return {**item, "exit_code": int(exc.exit_code), "error": exc.line()}
    peers = data["peers"]
    last = data["runs"][0] if data["runs"] else None
    item.update({
        "exit_code": 0, "state": data["state"], "exists": data["exists"],
        "last_run": None if last is None else {
            k: last[k] for k in ("command", "started_at", "ended_at", "exit_code", "state",
                                 "error")},
        "in_progress": data.get("in_progress"),
        "stuck": sum(p.get("stuck", {}).get("count", 0) for p in peers.values()),
        "parked": sum(p.get("parked", {}).get("total", 0) for p in peers.values()),
        "unconfirmed": sum(p.get("unconfirmed", {}).get("count", 0) for p in peers.values()),
        "bases": {name: {"stuck": p.get("stuck", {}).get("count", 0),
                         "parked": p.get("parked", {}).get("total", 0),
                         "unconfirmed": p.get("unconfirmed", {}).get("count", 0),
                         "last_received_at": p["last_received_at"],
                         "last_sent_at": p["last_sent_at"]}
                  for name, p in peers.items()}})
    return item


# The most serious first, as a run's exit code is chosen.
_SEVERITY = (ExitCode.BUG, ExitCode.CONFIG, ExitCode.TEMPORARY, ExitCode.USAGE)


def summaries(paths: list[Path]) -> dict:
    files = config_files(paths)
    pairs = [_summary(p) for p in files]
    stopping.check()  # a stop swallowed by SQLite is no pair's failure
    codes = {p["exit_code"] for p in pairs if p["exit_code"]}
    code = next((int(c) for c in _SEVERITY if c in codes), max(codes, default=0))
    if not files:
        code = int(ExitCode.CONFIG)  # a folder with no pair in it: the admin named the wrong one
    return {"command": "status --all", "exit_code": code, "paths": [str(p) for p in paths],
            "pairs": pairs}
