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

from rich.console import Console
from rich.logging import RichHandler

_stderr: Console | None = None


def stderr() -> Console:
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
    elif stderr().is_terminal:
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
    for d in report.get("drift") or []:
        what = " ".join(x for x in (d["peer"], d["type"], d["ref"]) if x)
        out.print(f"  drift: {d['kind']}: {what}: {d['detail']}", markup=False)
    for name, peer in report["peers"].items():
        parts = []
        if "received" in peer:
            parts.append(_received(peer["received"]))
        if "sent" in peer:
            parts.append(_sent(peer["sent"], report["dry_run"]))
        out.print(f"  {name}: " + "; ".join(parts), markup=False)


def print_settings_message(report: dict) -> None:
    verb = "would write" if report["dry_run"] else "wrote"
    stderr().print(f"onecsync: {verb} the settings message for {report['peer']} (to "
                   f"{report['to']}, from {report['from']}) to {report['file']}: load it in "
                   "the base's synchronization setup, or copy it into its exchange folder",
                   markup=False)


def print_check(report: dict, summary: bool = True, warnings: bool = True) -> None:
    """What each base can do, then one line per problem and warning, each with its remedy."""
    out = stderr()
    code = report["exit_code"]
    if summary:
        out.print(f"onecsync check: {'ok' if code == 0 else _MEANING.get(code, 'failed')} "
                  f"(exit {code}); config {report['config']}, node {report['node']['code']}",
                  style="bold green" if code == 0 else "bold red", markup=False)
        for name, p in report["peers"].items():
            t = p["transport"]
            state = "ok" if t.get("ok") else ("not checked" if t.get("ok") is None else "FAILED")
            out.print(f"  {name}: transport {t['kind']} {state}: "
                      f"{t.get('detail') or t.get('error', '')}", markup=False)
            if p["versions"] is None:
                out.print("    versions: unknown (no message from the base yet)", markup=False)
            else:
                out.print(f"    versions: {', '.join(p['versions'])}; exchanging in "
                          f"{p['negotiated'] or 'none in common'}; last message "
                          f"{p['last_message_version'] or '(settings only)'} at "
                          f"{p['last_received_at']}", markup=False)
            types = p["object_types"]
            if p["versions"] is not None:
                out.print("    object types: " + (
                    f"sends {len(types['sends'])}, receives {len(types['receives'])}"
                    if types is not None else "not declared (1C then assumes all)"),
                    markup=False)
    for item in report["problems"]:
        out.print(f"onecsync: problem: {item['message']}", style="red", markup=False)
    if warnings:
        for item in report["warnings"]:
            out.print(f"onecsync: warning: {item['message']}", style="yellow", markup=False)


def print_init(report: dict) -> None:
    out = stderr()
    verb = "would write" if report["dry_run"] else "wrote"
    out.print(f"onecsync: {verb} {report['config']} (our node code {report['node_code']})",
              style="bold green", markup=False)
    for name, path in report["settings_messages"].items():
        out.print(f"onecsync: {verb} the settings message for {name}: {path}", markup=False)
    out.print("Next steps:", style="bold", markup=False)
    for i, step in enumerate(report["next_steps"], 1):
        out.print(f"  {i}. {step}", markup=False)
