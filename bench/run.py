"""Measure onecsync on a big first message from accounting and print how close it is to the limits.

Usage: python bench/run.py --objects 100000 [--repeat 3] [--idle 3] [--seed 1] [--run]
                           [--grow K] [--shape bench|flat] [--tmp DIR | --dir DIR] [--keep]
                           [--no-convert] [--compress]

In a temporary folder it writes a realistic message of N objects and a config
(bench/make_message.py), then measures, each as a child process so that its peak RSS comes
from the OS (`os.wait4`, the kernel's ru_maxrss of exactly that process):

(a) bare `lxml.etree.iterparse` of the file, clearing every element (nothing else): the floor;
(a') the minimal relay: iterparse each body object and write it unchanged with `lxml.etree.xmlfile`
    into a file beside the message (fsynced), dropping what was written: what any program that
    forwards the message pays;
(b) `onecsync -v --json pull-catalogs` on a fresh state: wall seconds, objects per second, peak
    RSS, state file size;
(c) the part of (b) that wrote the message to the CRM: the runner logs every step's duration at
    -v ("step send crm: … s": query the registrations, write and fsync the file, commit the
    stamps, rename it into place), and the file's size; the RSS column of a step is the
    process's peak RSS when the step ended (so the step where it grew is visible), and each
    step's "wrote" the bytes it sent to storage (bench/step_io.py), the closing checkpoint of
    the state's log apart;
(d) `pull-catalogs` again with nothing new (the same message file): wall seconds, start-up
    included;
(e) the ratios (b)/(a) and (b)/(a'), in wall and in CPU seconds (user + sys), and the bytes
    (b) wrote (the kernel's count for that process: ru_oublock, as /proc/PID/io write_bytes)
    over the message's size; with --compress the CRM's message is a .zip (`compress: true`, as
    1C writes its own by default), to be read beside a plain run: what (b) writes then, and the
    CPU the compression costs;
(f) `pull-catalogs` on a fresh state whose CRM offers only 1.17 (an empty message of its own
    first), so that every catalog is converted from accounting's 1.8: its CPU seconds (user +
    sys, which the machine's load hardly inflates) beside (b)'s, and the difference per object
    sent; then the converter alone, in one process over the message's objects, 1.8 → 1.17 and
    back, CPU per object for catalogs and for documents.
With --run, the same for `onecsync run` (every flow) on a fresh state.
(g) on the state the last first run left (with --grow K, first grown K times by SQL:
    bench/big_state.py; e.g. 20,000 objects × 50 for a million in minutes): the nothing-new
    run of the command that made it (`run` with --run, else `pull-catalogs`), `status` and
    `status --json`, `trace` by a Ссылка, a number and date, and an ИНН, and the CPU-seconds
    (user + sys, which the machine's other work inflates less than the wall) of those and of
    the nothing-new runs; the state's bytes per object.

Figures only: nothing here passes or fails on a timing. It exits non-zero only when onecsync
itself fails (or the benchmark does). Repeats give best and median; the load average is printed
because other work on the machine skews every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import lxml
from big_state import grow
from lxml import etree
from make_message import CRM
from make_message import FOOTER
from make_message import HEADER
from make_message import NODE
from make_message import SHAPES
from make_message import VERSION
from make_message import fixed_count
from make_message import make
from make_message import message_path
from make_message import plan

# `python -m onecsync` whose step lines also say the bytes written so far
_STEP_IO = Path(__file__).with_name("step_io.py")
# The CRM's transport as bench/make_message.py writes the config (--compress adds to it).
_CRM_TRANSPORT = "transport: {kind: directory, path: exchange/crm}"
TARGET_RSS_MB = 150
TARGET_RATIO = 1.6  # pull-catalogs over the bare iterparse, wall and CPU (issue 15)
TARGET_RELAY = 1.25  # over the minimal relay
TARGET_WRITTEN = 1.3  # bytes written over the message's size
TARGET_IDLE_S = 0.5
_STEP = re.compile(r"step (\w+) (\S+): ([0-9.]+) s, peak RSS so far (\d+) MB"
                   r"(?:, wrote (\d+) bytes so far)?")  # the bytes: bench/step_io.py


@dataclass
class Child:
    wall: float
    rss_mb: float
    code: int
    stdout: str
    stderr: str
    steps: dict = field(default_factory=dict)
    cpu: float = 0.0  # user + sys seconds of the process
    written: int = 0  # bytes the process sent to storage (ru_oublock, i.e. /proc/PID/io write_bytes)

    def report(self) -> dict:
        return json.loads(self.stdout) if self.stdout.strip().startswith("{") else {}


def child(cmd: list[str], cwd: Path) -> Child:
    """Run `cmd` and measure it alone: wall time and the peak RSS the kernel recorded for it.

    As cron runs it: with Python's bytecode cache (a developer's PYTHONDONTWRITEBYTECODE would
    make an editable install compile every module at every start).
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        c = Child(wall, usage.ru_maxrss / 1024, proc.returncode, out.read().decode(),
                  err.read().decode(errors="replace"), cpu=usage.ru_utime + usage.ru_stime,
                  written=usage.ru_oublock * 512)
    so_far = 0
    for action, arg, secs, rss, wrote in _STEP.findall(c.stderr):
        # (seconds, peak RSS, bytes this step wrote, its commits' checkpoints included)
        c.steps[f"{action} {arg}"] = (float(secs), int(rss), int(wrote or so_far) - so_far)
        so_far = int(wrote or so_far)
    if so_far:  # the last connection's checkpoint as it closes, and the journal's last writes
        c.steps["after the steps"] = (0.0, 0, c.written - so_far)
    return c


def floor(path: str) -> int:
    """Bare iterparse, clearing each element and doing nothing else; returns the elements parsed
    (the relay counts the body's objects: counting them here would be more than the floor)."""
    n = 0
    for _, el in etree.iterparse(path, events=("end",)):
        el.clear()
        n += 1
    return n


def relay(path: str, out: str) -> int:
    """The minimal relay: each body object, parsed, written unchanged with `xmlfile` and dropped."""
    objects, body = 0, None
    with open(out, "wb") as f:
        with etree.xmlfile(f, encoding="utf-8") as xf, xf.element("Body"):
            for _, el in etree.iterparse(path, events=("end",)):
                parent = el.getparent()
                if parent is None or not parent.tag.endswith("}Body"):
                    continue
                if body is None:
                    body = parent
                xf.write(el)
                objects += 1
                el.clear()
                while el.getprevious() is not None:
                    del body[0]
        f.flush()
        os.fsync(f.fileno())
    os.unlink(out)
    return objects


CONVERT_TO = "1.17"  # what the CRM offers in the conversion case; accounting writes 1.8


def convert_cost(path: str) -> dict:
    """CPU seconds of `convert` (schema check included, as a send does it) over the message's
    objects, 1.8 → CONVERT_TO and back, per kind; run in its own process by --convert."""
    from onecsync.protocol.objects import convert
    from onecsync.protocol.reader import MessageReader

    cost = {f"{a}→{b} {kind}": [0.0, 0] for a, b in ((VERSION, CONVERT_TO), (CONVERT_TO, VERSION))
            for kind in ("catalogs", "documents")}
    from onecsync.formats import object_schema

    for version in (VERSION, CONVERT_TO):  # built once per run, not per object: not timed
        object_schema(version)
    with open(path, "rb") as f:
        reader = MessageReader(f, source=path)
        for obj in reader.objects():
            kind = "catalogs" if obj.type.startswith("Справочник.") else "documents"
            xml = obj.xml
            for a, b in ((VERSION, CONVERT_TO), (CONVERT_TO, VERSION)):
                started = time.process_time()
                try:
                    xml, _ = convert(xml, a, b, check=True, valid=True)  # as a send
                except ValueError:  # unconvertible: parked by a send, measured all the same
                    cost[f"{a}→{b} {kind}"][0] += time.process_time() - started
                    break
                cost[f"{a}→{b} {kind}"][0] += time.process_time() - started
                cost[f"{a}→{b} {kind}"][1] += 1
    return cost


def put_crm_message(b: "Bench") -> None:
    """The CRM's first message: nothing in it, only the one version it takes."""
    text = HEADER.format(version=CONVERT_TO, to=NODE, sender=CRM, message_no=1,
                         versions=f"\t\t<msg:AvailableVersion>{CONVERT_TO}</msg:AvailableVersion>")
    path = b.root / "exchange" / "crm" / f"Message_{CRM}_{NODE}.xml"
    path.write_text(text + FOOTER, encoding="utf-8")


def measure_conversion(b: "Bench", args, plain: list[Child]) -> list[tuple[str, str, str, str, str]]:
    """(f): the rows of the case where the CRM takes another version than accounting writes."""
    runs = []
    for _ in range(args.repeat):
        b.fresh()
        put_crm_message(b)
        # push-invoices takes the CRM's message (its versions become known); it receives from
        # accounting too, so accounting's message waits outside the folder meanwhile: (f) is
        # pull-catalogs receiving it, as (b) is.
        aside = b.root / "accounting-message.aside"
        b.message.rename(aside)
        try:
            b.onecsync("push-invoices")
        finally:
            aside.rename(b.message)
        runs.append(b.onecsync("pull-catalogs"))
    received = runs[0].report()["peers"]["accounting"].get("received") or {}
    if received.get("objects") != args.objects:  # (f) must receive the message as (b) does
        raise SystemExit(f"(f) received {received.get('objects')} objects, not {args.objects}")
    sent = runs[0].report()["peers"]["crm"]["sent"]
    if sent.get("version") != CONVERT_TO:
        raise SystemExit(f"the CRM was sent format {sent.get('version')}, not {CONVERT_TO}")
    n = sent.get("objects", 0)
    cpu, base = [c.cpu for c in runs], [c.cpu for c in plain]
    extra = (min(cpu) - min(base)) / n * 1e3 if n else 0.0
    walls = [c.wall for c in runs]
    rows = [(f"(f) pull-catalogs, CRM on {CONVERT_TO} (converts)", _fmt(walls),
             _fmt([args.objects / w for w in walls], "", 0, max), _fmt([c.rss_mb for c in runs], "", 0),
             f"CPU {_fmt(cpu, ' s', 1)} vs {_fmt(base, ' s', 1)} in (b): "
             f"{extra:+.3f} ms per object sent ({n:,})")]
    c = child([sys.executable, __file__, "--convert", str(b.message)], b.root)
    if c.code != 0:
        sys.stderr.write(c.stderr[-4000:])
        raise SystemExit(f"the conversion measurement exited {c.code}")
    for label, (secs, count) in json.loads(c.stdout).items():
        per = f"{secs / count * 1e3:.3f} ms per object" if count else "none"
        rows.append((f"    convert {label}, schema check included", f"{secs:,.2f}", "",
                     f"{c.rss_mb:,.0f}", f"CPU s; {per} ({count:,})"))
    return rows


class Bench:
    def __init__(self, root: Path, n: int, seed: int, shape: str = "bench") -> None:
        self.root = root
        self.n = n
        self.seed = seed
        self.shape = shape
        self.config = root / "onecsync.yaml"
        self.state_dir = root / "state"
        self.message: Path | None = None

    def generate(self) -> float | None:
        """Write the message and config, unless `root` already holds this very message (--dir)."""
        stamp = self.root / "bench.json"
        wanted = {"objects": self.n, "seed": self.seed, "shape": self.shape}
        if stamp.exists() and json.loads(stamp.read_text()) == wanted:
            self.message = message_path(self.root)
            if self.message.exists():
                return None
        started = time.perf_counter()
        self.message = make(self.root, self.n, self.seed, self.shape)
        stamp.write_text(json.dumps(wanted))
        return time.perf_counter() - started

    def compress_crm(self, on: bool) -> None:
        """The CRM written a .zip (`compress: true`, as 1C writes its own by default) or the XML,
        whatever an earlier run with --dir left in the config."""
        plain, zipped = _CRM_TRANSPORT, _CRM_TRANSPORT.replace("}", ", compress: true}")
        text = self.config.read_text(encoding="utf-8").replace(zipped, plain)
        if plain not in text:
            raise SystemExit(f"{self.config} has no `{plain}` to set compress in")
        self.config.write_text(text.replace(plain, zipped) if on else text, encoding="utf-8")

    def fresh(self) -> None:
        """Forget every run: no state, none of our messages in the exchange folders."""
        shutil.rmtree(self.state_dir, ignore_errors=True)
        for folder in (self.root / "exchange" / "accounting", self.root / "exchange" / "crm"):
            for f in folder.iterdir():
                if f != self.message:
                    f.unlink()

    def onecsync(self, command: str, *options: str) -> Child:
        """`onecsync -v --json command`; with `options`, `onecsync *options command` instead."""
        c = child([sys.executable, str(_STEP_IO), "--config", str(self.config),
                   *(options or ("-v", "--json")), command], self.root)
        if c.code != 0:
            sys.stderr.write(c.stderr[-4000:])
            raise SystemExit(f"onecsync {command} exited {c.code}")
        return c

    def trace(self, *query: str) -> Child:
        c = child([sys.executable, "-m", "onecsync", "--config", str(self.config), "--json",
                   "trace", *query], self.root)
        if c.code != 0:
            sys.stderr.write(c.stderr[-4000:])
            raise SystemExit(f"onecsync trace {' '.join(query)} exited {c.code}")
        return c

    def floor(self, kind: str = "--floor") -> Child:
        c = child([sys.executable, __file__, kind, str(self.message)], self.root)
        if c.code != 0:
            sys.stderr.write(c.stderr[-4000:])
            raise SystemExit(f"the {kind[2:]} measurement exited {c.code}")
        return c

    def state_objects(self) -> int:
        """Objects the state holds (the inbox), read as `status` would: without writing."""
        path = self.state_dir / "onecsync.sqlite"
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as c:
            n = c.execute("SELECT count(*) FROM inbox").fetchone()[0]
        c.close()
        return n

    def state_mb(self) -> float:
        return sum(f.stat().st_size for f in self.state_dir.glob("onecsync.sqlite*")) / 1e6

    def sent_file(self, c: Child, peer: str) -> Path | None:
        sent = c.report().get("peers", {}).get(peer, {}).get("sent", {})
        return Path(sent["file"]) if sent.get("file") else None


def _fmt(values: list[float], unit: str = "", digits: int = 2, best=min) -> str:
    """"best / median" (best: the least, or with best=max the most, as for objects per second)."""
    if not values:
        return "-"
    best, med = best(values), statistics.median(values)
    if len(values) == 1:
        return f"{best:,.{digits}f}{unit}"
    return f"{best:,.{digits}f} / {med:,.{digits}f}{unit}"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(args) -> list[tuple[str, str, str, str, str]]:
    rows: list[tuple[str, str, str, str, str]] = []
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
    root = args.dir or Path(tempfile.mkdtemp(prefix="onecsync-bench-", dir=args.tmp))
    b = Bench(root, args.objects, args.seed, args.shape)
    try:
        gen = b.generate()
        b.compress_crm(args.compress)
        size_mb = b.message.stat().st_size / 1e6
        _, totals = plan(args.objects, args.seed, args.shape)
        print(f"onecsync benchmark: {args.objects:,} objects, {args.shape} shape"
              + (", the CRM's messages compressed (.zip) " if args.compress else " ")
              + f"({fixed_count()} fixed catalogs; "
              + ", ".join(f"{k} {v:,}" for k, v in totals.items())
              + f"), message {size_mb:,.1f} MB "
              + (f"generated in {gen:.1f} s" if gen is not None else f"reused from {root}")
              + f", seed {args.seed}", flush=True)
        print(f"python {sys.version.split()[0]}, lxml {lxml.__version__}, SQLite "
              f"{sqlite3.sqlite_version}, {os.cpu_count()} CPUs, load average at start {_load()}",
              flush=True)

        floors, relays = [], []
        for _ in range(args.repeat):  # interleaved, so that the machine's load skews both alike
            floors.append(b.floor())
            relays.append(b.floor("--relay"))
        for label, got in (("(a) bare iterparse, clearing (floor)", floors),
                           ("(a') minimal relay: iterparse, xmlfile", relays)):
            counted = int(got[0].stdout.strip() or 0)
            if got is relays and counted != args.objects:
                raise SystemExit(f"{label} counted {counted} objects, expected {args.objects}")
            w = [c.wall for c in got]
            rows.append((label, _fmt(w), _fmt([args.objects / x for x in w], "", 0, max),
                         _fmt([c.rss_mb for c in got], "", 0),
                         f"CPU {_fmt([c.cpu for c in got], ' s')}, wrote "
                         f"{_fmt([c.written / 1e6 for c in got], ' MB', 0)}; {size_mb:,.0f} MB read"))

        firsts, idles, steps, out_mb, state_mb = [], [], {}, [], []
        for _ in range(args.repeat):
            b.fresh()
            c = b.onecsync("pull-catalogs")
            firsts.append(c)
            for k, v in c.steps.items():
                steps.setdefault(k, []).append(v)
            f = b.sent_file(c, "crm")
            out_mb.append(f.stat().st_size / 1e6 if f else 0.0)
            state_mb.append(b.state_mb())
            idles += [b.onecsync("pull-catalogs") for _ in range(args.idle)]
        received = firsts[0].report()["peers"]["accounting"]["received"]
        sent = firsts[0].report()["peers"]["crm"]["sent"]
        walls = [c.wall for c in firsts]
        rows.append(("(b) pull-catalogs, first message", _fmt(walls),
                     _fmt([args.objects / w for w in walls], "", 0, max),
                     _fmt([c.rss_mb for c in firsts], "", 0),
                     f"CPU {_fmt([c.cpu for c in firsts], ' s')}, wrote "
                     f"{_fmt([c.written / 1e6 for c in firsts], ' MB', 0)}; state "
                     f"{_fmt(state_mb, ' MB', 0)}; {received.get('objects', 0):,} staged"))
        for key, label in (("receive accounting", "    receive: parse, check, stage"),
                           ("route pull-catalogs", "    route catalogs to the CRM"),
                           ("send crm", "(c) write the message to the CRM"),
                           ("send accounting", "    write the confirmation to accounting"),
                           ("after the steps", "    closing the state (its last checkpoint)")):
            if key in steps:
                extra = f"wrote {_fmt([w / 1e6 for *_, w in steps[key]], ' MB', 0)}"
                if key == "send crm":
                    extra += f": {_fmt(out_mb, ' MB', 0)}, {sent.get('objects', 0):,} objects"
                rows.append((label, _fmt([secs for secs, *_ in steps[key]]) if key != "after the steps" else "",
                             "", _fmt([rss for _, rss, _ in steps[key]], "", 0) if key != "after the steps" else "",
                             extra))
        rows.append(("(d) pull-catalogs, nothing new", _fmt([c.wall for c in idles], "", 3), "",
                     _fmt([c.rss_mb for c in idles], "", 0),
                     f"{len(idles)} runs, start-up included, CPU {_fmt([c.cpu for c in idles], ' s', 3)}"))
        for label, base in (("(e) (b) / (a), wall · CPU", floors), ("    (b) / (a'), wall · CPU", relays)):
            rows.append((label, _fmt([w / min(c.wall for c in base) for w in walls], "×"), "", "",
                         f"CPU {_fmt([c.cpu / min(x.cpu for x in base) for c in firsts], '×')}; "
                         f"target ≤ {TARGET_RATIO if base is floors else TARGET_RELAY}×"))
        rows.append(("    (b) wrote / message size", _fmt([c.written / 1e6 / size_mb for c in firsts], "×"),
                     "", "", f"target ≤ {TARGET_WRITTEN}×"))
        if not args.run:  # on the state (b) left, before the conversion case makes another
            rows += big_state_reads(b, args)
        if not args.no_convert:
            rows += measure_conversion(b, args, firsts)

        if args.run:
            runs, run_idles = [], []
            for _ in range(args.repeat):
                b.fresh()
                runs.append(b.onecsync("run"))
                run_idles += [b.onecsync("run") for _ in range(args.idle)]
            walls = [c.wall for c in runs]
            rows.append(("run (every flow), first message", _fmt(walls),
                         _fmt([args.objects / w for w in walls], "", 0, max),
                         _fmt([c.rss_mb for c in runs], "", 0), f"state {b.state_mb():,.0f} MB"))
            for key, label in (("route pull-catalogs", "    route catalogs to the CRM"),
                               ("route pull-settlements", "    route settlements (link, wait)"),
                               ("send crm", "    write the message to the CRM")):
                got = [c.steps[key] for c in runs if key in c.steps]
                if got:
                    rows.append((label, _fmt([secs for secs, *_ in got]), "", _fmt([rss for _, rss, _ in got], "", 0),
                                 f"wrote {_fmt([w / 1e6 for *_, w in got], ' MB', 0)}"))
            rows.append(("run, nothing new", _fmt([c.wall for c in run_idles], "", 3), "",
                         _fmt([c.rss_mb for c in run_idles], "", 0),
                         f"{len(run_idles)} runs, CPU {_fmt([c.cpu for c in run_idles], ' s', 3)}"))
            rows += big_state_reads(b, args)
    finally:
        if args.dir or args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return rows


def big_state_reads(b: Bench, args) -> list[tuple[str, str, str, str, str]]:
    """(g): what cron and an admin pay on the state the last first run left, every time."""
    grown = ""
    if args.grow > 1:
        secs = grow(b.state_dir / "onecsync.sqlite", args.grow)
        grown = f", grown {args.grow}× by SQL in {secs:,.0f} s"
    objects = b.state_objects()
    rows = [("(g) state", "", "", "", f"{b.state_mb():,.0f} MB, "
             f"{b.state_mb() * 1e6 / max(objects, 1):,.0f} bytes per object ({objects:,} objects)"
             + grown)]
    command = "run" if args.run else "pull-catalogs"
    idles = [b.onecsync(command, "-q") for _ in range(max(args.idle, 1))]
    rows.append((f"    {command}, nothing new", _fmt([c.wall for c in idles], "", 3), "",
                 _fmt([c.rss_mb for c in idles], "", 0),
                 f"{len(idles)} runs, start-up included, CPU {_fmt([c.cpu for c in idles], ' s', 3)}"))
    for label, options in (("    status", ("-q",)), ("    status --json", ("-q", "--json"))):
        looks = [b.onecsync("status", *options) for _ in range(max(args.idle, 1))]
        rows.append((label, _fmt([c.wall for c in looks], "", 3), "",
                     _fmt([c.rss_mb for c in looks], "", 0),
                     f"{len(looks)} runs, CPU {_fmt([c.cpu for c in looks], ' s', 3)}"))
    for label, query in trace_queries(b):
        looks = [b.trace(*query) for _ in range(max(args.idle, 1))]
        rows.append((f"    trace {label}", _fmt([c.wall for c in looks], "", 3), "",
                     _fmt([c.rss_mb for c in looks], "", 0),
                     f"{len(looks)} runs, start-up included, CPU "
                     f"{_fmt([c.cpu for c in looks], ' s', 3)}"))
    return rows


def trace_queries(b: Bench) -> list[tuple[str, tuple[str, ...]]]:
    """What an admin would ask `trace` on this state: the last object staged by its Ссылка, a
    document by its number and date, and the counterparty with the most objects by its ИНН."""
    path = b.state_dir / "onecsync.sqlite"
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as c:
        ref = c.execute("SELECT ref FROM inbox ORDER BY id DESC LIMIT 1").fetchone()
        doc = c.execute("SELECT number, substr(date, 1, 10) FROM inbox WHERE number IS NOT NULL "
                        "ORDER BY id DESC LIMIT 1").fetchone()
        inn = c.execute("SELECT inn, count(*) FROM inbox WHERE inn IS NOT NULL GROUP BY inn "
                        "ORDER BY 2 DESC LIMIT 1").fetchone()
    c.close()
    out = [("Ссылка", (ref[0],))] if ref else []
    if doc:
        out.append(("number date", doc))
    if inn:
        out.append((f"ИНН ({inn[1]:,} objects)", (inn[0],)))
    return out


def print_table(rows, args) -> None:
    head = ("", "wall s", "objects/s", "peak RSS MB", "")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    print()
    for r in [head, *rows]:
        print("  ".join([r[0].ljust(widths[0])] + [r[i].rjust(widths[i]) for i in (1, 2, 3)] + [r[4]]).rstrip())
    print()
    if args.repeat > 1:
        print(f"best / median of {args.repeat} repeats.", end=" ")
    print(f"Targets: peak RSS ≤ {TARGET_RSS_MB} MB at any N, (b) ≤ {TARGET_RATIO}× (a) and "
          f"≤ {TARGET_RELAY}× (a'), wrote ≤ {TARGET_WRITTEN}× the message, "
          f"nothing new ≤ {TARGET_IDLE_S} s. Load average at the end {_load()} on {os.cpu_count()} CPUs.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", "-n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=1, help="measure (a), (b) and run this many times")
    ap.add_argument("--idle", type=int, default=3, help="nothing-new runs after each first run")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="bench",
                    help="bench: the usual mix, indented; flat: catalogs only, not indented")
    ap.add_argument("--tmp", type=Path, default=None, help="where the temporary folder goes")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--dir", type=Path, default=None,
                    help="work in this folder and keep the message there for the next time")
    ap.add_argument("--run", action="store_true", help="also measure `onecsync run` (every flow)")
    ap.add_argument("--compress", action="store_true",
                    help="write the CRM's messages as .zip (compress: true), as 1C itself does by default")
    ap.add_argument("--no-convert", action="store_true",
                    help="leave out (f), a second first exchange that converts (at 1M objects: minutes)")
    ap.add_argument("--grow", type=int, default=1, metavar="K",
                    help="measure (g) on the state grown K times by SQL (bench/big_state.py)")
    ap.add_argument("--floor", metavar="FILE", help=argparse.SUPPRESS)
    ap.add_argument("--relay", metavar="FILE", help=argparse.SUPPRESS)
    ap.add_argument("--convert", metavar="FILE", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.floor:
        print(floor(args.floor))
        return 0
    if args.relay:
        print(relay(args.relay, args.relay + ".relay"))
        return 0
    if args.convert:
        print(json.dumps(convert_cost(args.convert)))
        return 0
    print_table(measure(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
