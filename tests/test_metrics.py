"""metrics_file: node_exporter's textfile format, written whole after every run (failed ones
too), read back here by a strict parser of the text exposition format."""

from __future__ import annotations

import datetime
import os
import re
import stat

import pytest

from tests import factory as f
from tests.conftest import DEFAULT_CONFIG

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    """(name, labels) → value. Fails on anything the text format (version 0.0.4) does not allow
    or node_exporter refuses: a sample before its TYPE, a TYPE or HELP twice, a metric's
    samples not together, a series twice, a bad name, label or value, no final newline."""
    assert text.endswith("\n"), "the file must end with a newline"
    typed: dict[str, str] = {}
    helped: set[str] = set()
    seen: dict[tuple[str, frozenset], float] = {}
    done: set[str] = set()
    current = None
    for n, line in enumerate(text.splitlines(), 1):
        assert line == line.strip() and line, f"line {n}: blank or padded: {line!r}"
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) (\S+) (.+)", line)
            assert m, f"line {n}: comment that is neither HELP nor TYPE: {line!r}"
            kind, name, rest = m.groups()
            assert NAME.fullmatch(name), f"line {n}: bad metric name {name!r}"
            assert name not in done, f"line {n}: {name} again after its samples ended"
            if kind == "TYPE":
                assert name not in typed and rest in TYPES, f"line {n}: {line!r}"
                typed[name] = rest
            else:
                assert name not in helped, f"line {n}: HELP twice"
                helped.add(name)
            continue
        m = re.fullmatch(r"([^{\s]+)(?:\{(.*)\})? (\S+)(?: (-?\d+))?", line)
        assert m, f"line {n}: not a sample: {line!r}"
        name, labels, value, _ = m.groups()
        assert NAME.fullmatch(name) and name in typed, f"line {n}: {name} has no TYPE before it"
        if current != name:
            if current is not None:
                done.add(current)
            assert name not in done, f"line {n}: samples of {name} are not together"
            current = name
        pairs = {}
        if labels:
            rest = labels
            while rest:
                lm = LABEL.match(rest)
                assert lm, f"line {n}: bad labels {labels!r}"
                assert lm.group(1) not in pairs, f"line {n}: label twice"
                pairs[lm.group(1)] = re.sub(r"\\(.)", lambda e: {"n": "\n"}.get(e[1], e[1]),
                                            lm.group(2))
                rest = rest[lm.end():]
                assert rest == "" or rest.startswith(","), f"line {n}: bad labels {labels!r}"
                rest = rest[1:]
        assert value in ("+Inf", "-Inf", "NaN") or re.fullmatch(
            r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", value), f"line {n}: bad value {value!r}"
        key = (name, frozenset(pairs.items()))
        assert key not in seen, f"line {n}: the same series twice"
        seen[key] = float(value)
    for name, kind in typed.items():
        assert name.startswith("onecsync_"), name
        assert name.endswith("_total") == (kind == "counter"), f"{name}: {kind}"
    return seen


def value(metrics: dict, name: str, **labels: str) -> float:
    labels = {"pair": "onecsync", **labels}
    return metrics[(name, frozenset(labels.items()))]


@pytest.fixture
def box(sandbox):
    sandbox.write_config(DEFAULT_CONFIG.format(
        node=f.NODE, acc=f.ACCOUNTING, crm=f.CRM, acc_extra="", crm_extra="")
        + "metrics_file: metrics/onecsync.prom\n")
    (sandbox.root / "metrics").mkdir()
    sandbox.metrics = sandbox.root / "metrics" / "onecsync.prom"
    return sandbox


def unix(iso: str) -> float:
    return datetime.datetime.fromisoformat(iso).timestamp()


def test_after_a_run_the_file_holds_what_status_says(box):
    box.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка"),
                                         f.counterparty(f.ref(2), "АО Василек")]))
    code, _, err = box.run("run")
    assert code == 0, err
    text = box.metrics.read_text(encoding="utf-8")
    m = parse(text)
    _, status, _ = box.run("status")
    assert value(m, "onecsync_run_exit_code") == 0
    assert 0 < value(m, "onecsync_run_duration_seconds") < 30
    assert value(m, "onecsync_run_info", command="run") == 1
    for base in ("accounting", "crm"):
        peer = status["peers"][base]
        assert value(m, "onecsync_sent_messages_total", base=base) == peer["sent_no"]
        assert value(m, "onecsync_received_messages_total", base=base) == peer["received_no"]
        assert value(m, "onecsync_confirmed_messages_total", base=base) == peer["confirmed_no"]
        assert value(m, "onecsync_unconfirmed_objects", base=base) == peer["unconfirmed"]["count"]
        assert value(m, "onecsync_parked_objects", base=base) == peer["parked"]["total"]
        assert value(m, "onecsync_stuck_objects", base=base) == 0
    assert box.numbers("accounting")[1] == 1  # its message 1 was taken
    assert value(m, "onecsync_received_messages_total", base="accounting") == 1
    assert value(m, "onecsync_sent_messages_total", base="crm") == 1
    assert value(m, "onecsync_unconfirmed_objects", base="crm") == 2
    assert 0 <= value(m, "onecsync_oldest_unconfirmed_age_seconds", base="crm") < 30
    assert value(m, "onecsync_oldest_unconfirmed_age_seconds", base="accounting") == 0
    received = status["peers"]["accounting"]["last_received_at"]
    assert value(m, "onecsync_last_receive_timestamp_seconds", base="accounting") == \
        pytest.approx(unix(received), abs=1)
    assert value(m, "onecsync_last_receive_timestamp_seconds", base="crm") == 0  # never
    assert value(m, "onecsync_last_send_timestamp_seconds", base="crm") == \
        pytest.approx(unix(status["peers"]["crm"]["last_sent_at"]), abs=1)
    assert value(m, "onecsync_run_timestamp_seconds") >= \
        value(m, "onecsync_last_send_timestamp_seconds", base="crm") - 1
    # node_exporter runs as its own user: the file is readable, and never a secret
    assert stat.S_IMODE(box.metrics.stat().st_mode) == 0o644
    assert os.listdir(box.metrics.parent) == ["onecsync.prom"]  # no temporary file left


def test_a_failed_run_writes_its_exit_code_too(box):
    box.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert box.run("run")[0] == 0
    box.put("accounting", f.Msg(message_no=2, version="1.3", objects=[]))
    code, _, err = box.run("run")
    assert code == 5, err
    m = parse(box.metrics.read_text(encoding="utf-8"))
    assert value(m, "onecsync_run_exit_code") == 5
    assert value(m, "onecsync_received_messages_total", base="accounting") == 1  # not taken
    # a config error found by the run itself (a flow type no version has): exit 3, written
    box.write_config(box.config.read_text(encoding="utf-8") + (
        "flows:\n  pull-catalogs:\n    objects: [Справочник.Контрагент]\n"))
    assert box.run("run")[0] == 3
    assert value(parse(box.metrics.read_text(encoding="utf-8")), "onecsync_run_exit_code") == 3


def test_busy_and_dry_runs_leave_the_file_alone(box):
    box.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert box.run("run")[0] == 0
    before = box.metrics.read_bytes(), box.metrics.stat().st_mtime_ns
    assert box.run("--dry-run", "run")[0] == 0
    with box.lock_held():
        assert box.run("run")[0] == 8
    assert (box.metrics.read_bytes(), box.metrics.stat().st_mtime_ns) == before


def test_a_link_at_the_metrics_path_is_replaced_never_followed(box, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep me", encoding="utf-8")
    box.metrics.symlink_to(victim)
    assert box.run("run")[0] == 0
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert not box.metrics.is_symlink()
    assert value(parse(box.metrics.read_text(encoding="utf-8")), "onecsync_run_exit_code") == 0


def test_a_folder_it_cannot_write_is_a_warning_not_the_runs_failure(box):
    box.metrics.parent.rmdir()
    code, report, err = box.run("run")
    assert code == 0 and report["exit_code"] == 0
    assert "metrics: cannot write" in err and "metrics/onecsync.prom" in err
    assert not box.metrics.exists()


def test_a_metrics_file_the_collector_would_never_read_is_refused(box):
    box.write_config(box.config.read_text(encoding="utf-8").replace(
        "onecsync.prom", "onecsync.txt"))
    code, _, err = box.run("run")
    assert code == 3
    assert "metrics_file: 'onecsync.txt' must end in .prom" in err
    assert not box.state_path.exists()


def test_the_parser_is_strict():
    good = '# HELP onecsync_x_total x\n# TYPE onecsync_x_total counter\nonecsync_x_total{a="1"} 2\n'
    assert parse(good) == {("onecsync_x_total", frozenset({("a", "1")})): 2.0}
    for bad in (good.rstrip("\n"), good.replace("# TYPE onecsync_x_total counter\n", ""),
                good + 'onecsync_x_total{a="1"} 3\n', good.replace('"1"', "1"),
                good.replace(" 2\n", " two\n"), good.replace("counter", "gauge")):
        with pytest.raises(AssertionError):
            parse(bad)


def test_readme_lists_every_metric():
    from onecsync.metrics import METRICS
    from tests.test_units import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("#### Prometheus (node_exporter)"):readme.index("#### Zabbix")]
    for name, (kind, _) in METRICS.items():
        assert re.search(rf"\| `{name}(\{{[^`]*\}})?` \| {kind} \|", table), name


def test_check_warns_of_a_metrics_folder_no_run_could_write(box):
    code, report, _ = box.run("check")
    assert not [w for w in report["warnings"] if "metrics_file" in w["message"]]
    box.metrics.parent.rmdir()
    code, report, _ = box.run("check")
    [warning] = [w["message"] for w in report["warnings"] if "metrics_file" in w["message"]]
    assert warning.startswith(f"metrics_file: the folder {box.metrics.parent} does not exist")
    assert box.run("check", "--strict")[0] == 3


def test_check_warns_of_a_metrics_file_that_is_a_folder(box):
    box.metrics.unlink(missing_ok=True)
    box.metrics.mkdir()
    code, report, _ = box.run("check")
    [warning] = [w["message"] for w in report["warnings"] if "metrics_file" in w["message"]]
    assert warning.startswith(f"metrics_file: {box.metrics} is a folder, so no run writes")
    code, _, err = box.run("run")
    assert code == 0 and "metrics: cannot write" in err


def test_a_state_that_cannot_be_read_still_gets_the_runs_exit_code_written(box):
    box.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert box.run("run")[0] == 0
    for extra in box.state_path.parent.glob(box.state_path.name + "*"):
        extra.unlink()
    box.state_path.write_bytes(b"this is not an SQLite file" * 100)
    code, _, err = box.run("run")
    assert code == 3, err
    m = parse(box.metrics.read_text(encoding="utf-8"))
    assert value(m, "onecsync_run_exit_code") == 3
    assert not [k for k in m if ("base", "crm") in k[1]]  # nothing it could not read
    assert "metrics: the state could not be read" in err


def test_between_two_emulated_bases_the_numbers_reach_confirmed(tmp_path):
    """A whole exchange with tests/emulator's 1C bases: after it settles, each base has
    confirmed everything, and the file says so."""
    from tests.emulator import data as d
    from tests.emulator.world import World
    from tests.emulator.world import assert_converged

    world = World(tmp_path)
    world.config.write_text(world.config.read_text(encoding="utf-8")
                            + "metrics_file: onecsync.prom\n", encoding="utf-8")
    d.seed_accounting(world.acc)
    first = world.round()
    assert first.code == 0, first.stderr
    m = parse((tmp_path / "onecsync.prom").read_text(encoding="utf-8"))
    assert value(m, "onecsync_unconfirmed_objects", base="crm") > 0
    assert value(m, "onecsync_confirmed_messages_total", base="crm") == 0
    world.settle(3)
    assert_converged(world)
    m = parse((tmp_path / "onecsync.prom").read_text(encoding="utf-8"))
    for base in ("accounting", "crm"):
        sent, received, confirmed = world.numbers(base)
        assert value(m, "onecsync_sent_messages_total", base=base) == sent > 0
        assert value(m, "onecsync_received_messages_total", base=base) == received > 0
        assert value(m, "onecsync_confirmed_messages_total", base=base) == confirmed > 0
        assert value(m, "onecsync_unconfirmed_objects", base=base) == 0
        assert value(m, "onecsync_oldest_unconfirmed_age_seconds", base=base) == 0
        assert value(m, "onecsync_last_receive_timestamp_seconds", base=base) > 0
    assert value(m, "onecsync_run_exit_code") == 0


@pytest.mark.parametrize("state, metrics, what", [
    ("state/state.prom", "state/state.prom", "is the state file"),
    ("state/s", "state/s-wal.prom", None),  # a name of its own beside the state is fine
    ("state/s.prom", "state/../state/s.prom", "is the state file"),
    ("state/x", "onecsync.yaml.prom", None),
    ("state/x", "state/quarantine/m.prom", "is inside the quarantine"),
    ("state/x", "exchange/crm/m.prom", "is inside the exchange folder bases.crm.transport.path"),
    ("state/x", "exchange/accounting/sub/m.prom",
     "is inside the exchange folder bases.accounting.transport.path"),
])
def test_a_metrics_file_over_our_files_or_in_an_exchange_folder_is_refused(
        box, state, metrics, what):
    """review3 #1, #2: the metrics rename once put the text file over the SQLite state, and a
    metrics file in the base's share was written through a link its users planted."""
    box.write_config(box.config.read_text(encoding="utf-8")
                     .replace("state/onecsync.sqlite", state)
                     .replace("metrics/onecsync.prom", metrics))
    (box.root / "state").mkdir(exist_ok=True)
    before = sorted(p.name for p in box.root.rglob("*"))
    for command in ("check", "run", "status"):
        code, _, err = box.run(command)
        if what is None:
            assert "metrics_file" not in err, err
            continue
        assert code == 3, err
        assert f"metrics_file: {box.root / metrics} {what}" in err
        assert "point it at node_exporter's textfile folder" in err
        assert sorted(p.name for p in box.root.rglob("*")) == before


def test_a_metrics_folder_the_share_turned_into_a_link_is_refused(box, tmp_path_factory):
    """review3 #2: `exchange/crm/prom` made a link to a folder elsewhere: judged on the path as
    written as well as on the real one, so the file outside is never replaced."""
    victim = tmp_path_factory.mktemp("victim")
    (victim / "m.prom").write_text("keep", encoding="utf-8")
    (box.folders["crm"] / "prom").symlink_to(victim)
    box.write_config(box.config.read_text(encoding="utf-8").replace(
        "metrics/onecsync.prom", "exchange/crm/prom/m.prom"))
    code, _, err = box.run("run")
    assert code == 3 and "is inside the exchange folder bases.crm.transport.path" in err
    assert (victim / "m.prom").read_text(encoding="utf-8") == "keep"
    assert sorted(p.name for p in victim.iterdir()) == ["m.prom"]
    # and the other way round: a link in our folders to the share
    (box.root / "prom").symlink_to(box.folders["crm"])
    box.write_config(box.config.read_text(encoding="utf-8").replace(
        "exchange/crm/prom/m.prom", "prom/m.prom"))
    code, _, err = box.run("run")
    assert code == 3 and "is inside the exchange folder bases.crm.transport.path" in err
    assert not (box.folders["crm"] / "m.prom").exists()
