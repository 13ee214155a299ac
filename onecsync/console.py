"""Everything the admin sees: log lines, run reports, errors. The only module that imports rich.

Public API: `setup_logging(verbosity, json_lines)`, `print_json(data)`, `print_run(report)`,
`error_line(text)`.

Human text goes to stderr and JSON to stdout (DESIGN.md §3), so `onecsync --json run | jq`
works while cron mail still shows what happened. Colour only on a terminal, never with
NO_COLOR set.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

_stderr: Console | None = None


def stderr() -> Console:
    # rich is imported on first use: a quiet cron run that has nothing to say never pays for it.
    from rich.console import Console

    global _stderr
    if _stderr is None:
        _stderr = Console(stderr=True, highlight=False, soft_wrap=True,
                          no_color="NO_COLOR" in os.environ)
    return _stderr


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        item = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
                "level": record.levelname.lower(), "message": record.getMessage()}
        if record.exc_info:
            item["traceback"] = self.formatException(record.exc_info)
        return json.dumps(item, ensure_ascii=False)


class _Plain(logging.Formatter):
    """`onecsync: warning: …` — one greppable line per event, as cron mail shows it."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"onecsync: {record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def setup_logging(verbosity: int, json_lines: bool = False) -> None:
    """-q: errors only; default: what was done; -v: debug with tracebacks."""
    level = {-1: logging.ERROR, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    logger = logging.getLogger("onecsync")
    logger.handlers.clear()
    logger.setLevel(level)
    logger.propagate = False
    if json_lines:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_JsonLines())
    elif sys.stderr.isatty() or os.environ.get("FORCE_COLOR"):
        from rich.logging import RichHandler

        handler = RichHandler(console=stderr(), show_time=False, show_path=False,
                              markup=False, rich_tracebacks=verbosity > 0)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Plain())
    logger.addHandler(handler)


def print_json(data: dict) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


def error_line(text: str) -> None:
    stderr().print(f"onecsync: error: {text}", style="bold red", markup=False)


_MEANING = {0: "done", 1: "internal error", 3: "configuration error", 4: "temporary failure",
            5: "message rejected", 6: "numbering conflict", 7: "partial: objects parked",
            8: "busy", 9: "drift found"}


def _received(r: dict) -> str:
    if "error" in r:
        return f"receive failed: {r['error']}"
    if r.get("file") is None:
        return "no message from the base"
    if r.get("unchanged"):
        return f"message file unchanged since the last run ({os.path.basename(r['file'])})"
    if r.get("settings_only"):
        return "settings-only message (versions recorded)"
    if r.get("duplicate"):
        return f"message {r.get('message_no')} was received earlier: skipped"
    text = (f"received message {r.get('message_no')}: {r.get('objects', 0)} objects, "
            f"{r.get('deletions', 0)} deletions")
    if r.get("parked"):
        text += f", {r['parked']} parked"
    return text


def _sent(s: dict, dry_run: bool) -> str:
    if "error" in s:
        return f"send failed: {s['error']}"
    if "skipped" in s:
        return f"nothing sent ({s['skipped']})"
    if s.get("message_no") is None:
        return f"nothing new to send ({s.get('pending', 0)} unconfirmed already sent)"
    verb = "would send" if dry_run else "sent"
    text = f"{verb} message {s['message_no']} (format {s['version']}): {s['objects']} objects"
    if s.get("by_type"):
        text += " — " + ", ".join(f"{k} {v}" for k, v in s["by_type"].items())
    return text


def print_run(report: dict) -> None:
    code = report["exit_code"]
    out = stderr()
    head = f"onecsync {report['command']}{' (dry run)' if report['dry_run'] else ''}: " \
           f"{_MEANING.get(code, 'exit')} (exit {code})"
    out.print(head, style="bold green" if code == 0 else "bold yellow", markup=False)
    for name, peer in report["peers"].items():
        parts = []
        if "received" in peer:
            parts.append(_received(peer["received"]))
        if "sent" in peer:
            parts.append(_sent(peer["sent"], report["dry_run"]))
        out.print(f"  {name}: " + "; ".join(parts), markup=False)
