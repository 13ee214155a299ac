"""Living with onecsync under cron/systemd: healthcheck pings, log formats, progress, secrets."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import pytest
import requests
import responses
from rich.console import Console

from onecsync import console
from onecsync.cli import main
from onecsync.config import load_config
from onecsync.flows.runner import execute
from onecsync.progress import EVERY
from onecsync.progress import Progress
from onecsync.progress import Task
from tests import factory as f

HC = "https://hc.example/ping/SECRET-TOKEN-42"


def with_healthcheck(sandbox, line: str = f"healthcheck_url: {HC}\n") -> None:
    sandbox.write_config(sandbox.config.read_text() + line)


def pings(rsps) -> list[tuple[str, str]]:
    return [(c.request.url.removeprefix(HC), (c.request.body or b"").decode())
            for c in rsps.calls]


# -- healthchecks --------------------------------------------------------------------------------
@pytest.fixture
def hc():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        for suffix in ("start", "0", "1", "3", "4", "5", "6", "7"):
            rsps.add(responses.POST, f"{HC}/{suffix}")
        yield rsps


def test_a_run_pings_start_then_its_exit_code(sandbox, hc):
    with_healthcheck(sandbox)
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    code, _, _ = sandbox.run("pull-catalogs")
    assert code == 0
    assert [p for p, _ in pings(hc)] == ["/start", "/0"]
    assert pings(hc)[1][1] == "onecsync pull-catalogs: exit 0"


def test_a_failed_run_pings_its_code_with_the_errors(sandbox, hc):
    with_healthcheck(sandbox)
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.put("crm", b"<broken/>")
    code, _, _ = sandbox.run("run")
    assert code == 5
    path, body = pings(hc)[-1]
    assert path == "/5" and "the root element is 'broken'" in body


def test_a_run_with_parked_objects_pings_7(sandbox, hc):
    with_healthcheck(sandbox)
    sandbox.put("accounting", f.Msg(objects=[
        "<Справочник.Валюты><НаименованиеПолное>Рубль</НаименованиеПолное></Справочник.Валюты>"]))
    assert sandbox.run("pull-catalogs")[0] == 7
    assert [p for p, _ in pings(hc)] == ["/start", "/7"]


def test_a_run_stopped_by_a_state_error_pings_its_code(sandbox, hc):
    with_healthcheck(sandbox)
    sandbox.state_path.parent.mkdir(mode=0o700)
    sandbox.state_path.write_bytes(b"this is not sqlite" * 100)
    code, _, _ = sandbox.run("run")
    assert code == 3
    assert [p for p, _ in pings(hc)] == ["/start", "/3"]


def test_busy_dry_run_and_read_only_commands_ping_nothing(sandbox, hc):
    with_healthcheck(sandbox)
    sandbox.run("pull-catalogs")
    hc.calls.reset()
    assert sandbox.run("--dry-run", "run")[0] == 0
    assert sandbox.run("status")[0] == 0
    with sandbox.lock_held():
        assert sandbox.run("run")[0] == 8
    assert pings(hc) == []


@pytest.mark.parametrize("failure", [requests.ConnectionError(f"cannot reach {HC}/start"),
                                     requests.Timeout(f"{HC}/start timed out")])
def test_a_failing_ping_is_a_warning_never_the_run_s_failure(sandbox, failure):
    with_healthcheck(sandbox)
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{HC}/start", body=failure)
        rsps.add(responses.POST, f"{HC}/0", status=500)
        code, report, err = sandbox.run("-v", "pull-catalogs")
    assert code == 0 and report["exit_code"] == 0
    assert f"healthcheck ping /start to hc.example failed: {type(failure).__name__}" in err
    assert "healthcheck ping /0 to hc.example: HTTP 500" in err
    assert "SECRET-TOKEN" not in err


@pytest.mark.parametrize("user, says", [
    ("a%3Ab", "the user in the configured URL holds ':' once decoded (Basic auth would split "
              "it there)"),
    ("%ff%fe", "the user or password in the configured URL is not UTF-8 once decoded"),
    ("u%0d%0aX", "the user or password in the configured URL holds a line break or a NUL once "
                 "decoded")])
def test_a_healthcheck_user_that_cannot_travel_as_basic_auth_is_never_sent(
        sandbox, monkeypatch, user, says):
    """`a%3Ab` reached the check as user "a" with password "b:pw", and `%ff` as U+FFFD: the
    rules of a transport's `user` hold for the URL's too (review 5), whatever the URL's source."""
    monkeypatch.setenv("HC_URL", f"https://{user}:pw@hc.example/ping/SECRET-TOKEN-42")
    with_healthcheck(sandbox, "healthcheck_url_env: HC_URL\n")
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert len(rsps.calls) == 0  # not pinged with a mangled user
    assert f"healthcheck: {says}; not pinging" in err
    assert "SECRET-TOKEN" not in err and "pw" not in err.replace("pull", "")


def test_an_unset_url_variable_is_a_warning_and_the_run_goes_on(sandbox, monkeypatch):
    monkeypatch.delenv("HC_URL", raising=False)
    with_healthcheck(sandbox, "healthcheck_url_env: HC_URL\n")
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0
    assert "healthcheck: environment variable HC_URL is not set" in err


def test_the_url_from_a_systemd_credential(sandbox, hc, monkeypatch, tmp_path):
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "healthcheck").write_text(HC + "\n")
    with_healthcheck(sandbox, "healthcheck_url_file: ${CREDENTIALS_DIRECTORY}/healthcheck\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert sandbox.run("pull-catalogs")[0] == 0
    assert [p for p, _ in pings(hc)] == ["/start", "/0"]
    # Outside the service the variable is not set: said plainly, and status still works.
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0 and "names $CREDENTIALS_DIRECTORY, which is not set (systemd sets it " \
                          "only inside a service with LoadCredential=)" in err
    assert sandbox.run("status")[0] == 0


@pytest.mark.parametrize("line, fragment", [
    ("healthcheck_url: hc.example/ping\n", "healthcheck_url: must be an http:// or https:// URL"),
    (f"healthcheck_url: {HC}\nhealthcheck_url_env: HC\n",
     "healthcheck_url_env: give only one of healthcheck_url, healthcheck_url_env"),
])
def test_healthcheck_config_problems(sandbox, line, fragment):
    with_healthcheck(sandbox, line)
    code, _, err = sandbox.run("run")
    assert code == 3 and fragment in err


def test_a_relative_secret_file_is_relative_to_the_config(sandbox, hc):
    (sandbox.root / "hc-url").write_text(HC)
    with_healthcheck(sandbox, "healthcheck_url_file: hc-url\n")
    assert sandbox.run("run")[0] == 0
    assert [p for p, _ in pings(hc)] == ["/start", "/0"]


# -- secrets -------------------------------------------------------------------------------------
def test_the_healthcheck_key_appears_in_no_output_and_no_file(sandbox):
    """The URL's key is the one secret the config can hold today; it must never leak."""
    with_healthcheck(sandbox)
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    seen = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, f"{HC}/start", body=requests.ConnectionError(f"no route {HC}"))
        rsps.add(responses.POST, f"{HC}/0", status=404)
        for args in (["-v", "run"], ["-v", "--log-format", "json", "run"], ["-v", "status"],
                     ["state", "export"], ["-v", "--dry-run", "run"], ["-q", "run"]):
            seen += list(sandbox.human(*args)[1:])
            seen += list(sandbox.human("--json", *args)[1:])
        code, _, err = sandbox.human("-v", "validate", str(sandbox.outgoing_path("crm")))
        seen.append(err)
    seen += [p.read_bytes().decode("utf-8", "replace") for p in sandbox.root.rglob("*")
             if p.is_file() and p != sandbox.config]
    assert not [s for s in seen if "SECRET-TOKEN" in s]
    assert any("hc.example" in s for s in seen)  # the host is named, so the test can fail


def test_a_secret_is_not_shown_by_its_repr():
    from onecsync.config import Secret
    assert "TOKEN" not in repr(Secret(value=HC))


# -- logs ----------------------------------------------------------------------------------------
def test_json_log_lines_for_journald(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.put("crm", b"<broken/>")
    code, out, err = sandbox.human("-v", "--log-format", "json", "run")
    assert code == 5
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "message"} <= set(x) for x in lines)
    assert any(x["level"] == "error" and "the root element is 'broken'" in x["message"] for x in lines)
    assert any(x["level"] == "debug" for x in lines)


def test_quiet_prints_nothing_on_success(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    code, out, err = sandbox.human("-q", "run")
    assert (code, out, err) == (0, "", "")


def test_quiet_prints_the_error_of_a_failed_run(sandbox):
    sandbox.put("crm", b"<broken/>")
    code, _, err = sandbox.human("-q", "run")
    assert code == 5 and "the root element is 'broken'" in err


@pytest.mark.parametrize("command", ["run", "pull-catalogs", "push-invoices", "pull-settlements"])
def test_quiet_busy_is_silent_for_cron(sandbox, command):
    sandbox.run("run")
    with sandbox.lock_held():
        assert sandbox.human("-q", command) == (8, "", "")
        code, _, err = sandbox.human(command)
        assert code == 8 and "another onecsync run holds" in err
        assert "(nothing to do: that run will finish)" in err


def test_quiet_still_says_that_objects_were_parked_or_drift_found(sandbox):
    """Exit 7 and 9 carry no error line of their own (their details are warnings, which -q
    hides): under cron, -q would mail nothing while the objects are never exchanged."""
    sandbox.put("accounting", f.Msg(objects=[
        "<Справочник.Валюты><НаименованиеПолное>Рубль</НаименованиеПолное></Справочник.Валюты>"]))
    assert sandbox.human("-q", "run") == (7, "", (
        "onecsync: error: run: partial: objects parked (exit 7): parked in this run: 1 object"
        "; drift: 1 parked (`onecsync status` lists them, with why)\n"))
    assert sandbox.human("-q", "run") == (9, "", (
        "onecsync: error: run: drift found (exit 9): drift: 1 parked (`onecsync status` lists "
        "them, with why)\n"))
    sandbox.put("crm", b"<broken/>")  # an error line of its own: no second line for it
    code, _, err = sandbox.human("-q", "run")
    assert code == 5 and len(err.splitlines()) == 1, err


NOT_DONE = ("onecsync: error: not done: a run is in progress since {started} "
            "(pid {pid}); run it again when it ends")


@pytest.mark.parametrize("command", [
    ("state", "set-numbers", "crm", "--sent", "5", "--yes"),
    ("state", "resend", "crm", "--yes"),
    ("retry", "--all"),
    ("reconcile",),
    ("reconcile", "--heal"),
    ("--dry-run", "run"),
], ids=" ".join)
@pytest.mark.parametrize("quiet", [True, False], ids=["-q", "default"])
def test_an_admin_command_during_a_run_says_not_done_even_with_q(sandbox, command, quiet):
    """The admin's decision was not carried out: one line says so, -q or not (-q silences
    progress, never an error), and nothing changed."""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.run("run")
    dump, journal = sandbox.dump(), sandbox.journal()
    with sandbox.lock_held() as holder:
        code, out, err = sandbox.human(*(["-q"] if quiet else []), *command)
    assert code == 8
    assert err.splitlines() == [NOT_DONE.format(pid=holder.pid, started=holder.started)]
    assert "that run will finish" not in err
    assert sandbox.dump() == dump and sandbox.journal() == journal


def test_verbose_shows_debug_lines(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    _, _, err = sandbox.human("-v", "pull-catalogs")
    assert "onecsync: debug: accounting: received message 1" in err
    _, _, err = sandbox.human("pull-catalogs")
    assert "debug" not in err


def test_no_color_on_stderr(sandbox, monkeypatch):
    colours = re.compile(r"\x1b\[[0-9;]*(3[0-7]|9[0-7]|38;)")
    for no_color, expect in ((False, True), (True, False)):
        # A new bad file each time: one already rejected is only reported again a day later.
        sandbox.put("crm", b"<broken/>" + str(no_color).encode())
        monkeypatch.setattr(console, "_stderr", None)
        monkeypatch.setenv("FORCE_COLOR", "1")
        if no_color:
            monkeypatch.setenv("NO_COLOR", "1")
        code, _, err = sandbox.human("run")
        assert code == 5
        assert bool(colours.search(err)) is expect, err
    monkeypatch.setattr(console, "_stderr", None)


# -- progress ------------------------------------------------------------------------------------
class Recorder(Progress):
    def __init__(self) -> None:
        self.tasks: list[dict] = []

    def task(self, description, *, total_bytes=None, total_objects=None) -> Task:
        record = {"description": description, "total_bytes": total_bytes,
                  "total_objects": total_objects, "updates": [], "closed": False}
        self.tasks.append(record)

        class _T(Task):
            def update(self, objects, nbytes):
                record["updates"].append((objects, nbytes))

            def close(self):
                record["closed"] = True
        return _T()


def test_the_core_reports_progress_of_reading_and_writing(sandbox):
    n = 2 * EVERY + 7
    path = sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(i), f"ООО {i}")
                                                    for i in range(n)]))
    recorder = Recorder()
    outcome = execute(load_config(sandbox.config), "pull-catalogs", progress=recorder)
    assert outcome.exit_code == 0
    reading = next(t for t in recorder.tasks if t["description"] == "accounting: reading…")
    assert reading["total_bytes"] == path.stat().st_size and reading["closed"]
    objects = [o for o, _ in reading["updates"]]
    assert objects == [EVERY, 2 * EVERY, n]  # every EVERY objects, then the total
    sizes = [b for _, b in reading["updates"]]
    assert sizes == sorted(sizes) and sizes[-1] == path.stat().st_size
    writing = next(t for t in recorder.tasks if t["description"] == "crm: writing…")
    assert writing["total_objects"] == n and writing["updates"][-1][0] == n
    assert writing["updates"][-1][1] > 0 and writing["closed"]
    sandbox.outgoing("crm")


def test_no_progress_display_off_a_terminal():
    with console.progress(True) as p:
        assert type(p) is Progress  # the core's no-op: capsys is not a terminal


def test_the_terminal_bar_shows_objects_and_bytes():
    buf = io.StringIO()
    bar = console.TerminalProgress(Console(file=buf, force_terminal=True, width=120))
    with bar:
        with bar.task("crm: writing…", total_objects=5000) as task:
            task.update(2000, 3_500_000)
            bar.bar.refresh()
    text = buf.getvalue()
    assert "crm: writing…" in text and "2,000 objects" in text and "3.5 MB" in text


def test_the_terminal_bar_shows_the_total_a_percentage_and_an_eta():
    now = [100.0]
    buf = io.StringIO()
    bar = console.TerminalProgress(Console(file=buf, force_terminal=True, width=160),
                                   get_time=lambda: now[0])
    with bar:
        with bar.task("accounting: reading…", total_bytes=400_000_000) as task:
            for seconds, done in ((1, 50_000_000), (2, 100_000_000)):  # 50 MB/s
                now[0] = 100.0 + seconds
                task.update(done // 1000, done)
            line = _render(bar)
    assert "accounting: reading…" in line
    assert "25%" in line
    assert "100.0 MB / 400.0 MB" in line
    assert "ETA 0:00:06" in line  # 300 MB left at 50 MB/s


def _render(bar) -> str:
    out = Console(file=io.StringIO(), width=160, record=True)
    out.print(bar.bar.get_renderable())
    return out.export_text()


def test_a_run_shows_a_phase_while_it_routes_not_a_blank_screen(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    recorder = Recorder()
    assert execute(load_config(sandbox.config), "run", progress=recorder).exit_code == 0
    phases = [t["description"] for t in recorder.tasks]
    assert phases.index("accounting: reading…") < phases.index("routing pull-catalogs…") \
        < phases.index("crm: writing…")
    assert "reconciling…" in phases
    assert all(t["closed"] for t in recorder.tasks)


def test_under_journald_log_lines_carry_their_syslog_priority(sandbox, tmp_path):
    """systemd sets JOURNAL_STREAM to the device:inode of the stderr it gave us; journald reads
    `<N>` as the line's priority. The process itself is under test: its stderr is a file."""
    import shutil
    shutil.rmtree(sandbox.folders["crm"])  # a run with an error line (exit 3)
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    err_path = tmp_path / "journal"

    def run(journal: bool) -> list[str]:
        with open(err_path, "wb") as err:
            st = os.fstat(err.fileno())
            env = {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}" if journal
                   else "1:1"}
            proc = subprocess.run([sys.executable, "-m", "onecsync", "--config",
                                   str(sandbox.config), "-v", "run"],
                                  stderr=err, stdout=subprocess.DEVNULL, env=env, timeout=60)
        assert proc.returncode == 3
        return err_path.read_text(encoding="utf-8").splitlines()

    lines = run(journal=True)
    errors = [x for x in lines if "onecsync: error:" in x]
    assert errors and all(x.startswith("<3>onecsync: error:") for x in errors), lines
    assert any(x.startswith("<7>onecsync: debug:") for x in lines), lines
    assert all(x[:3] in ("<3>", "<4>", "<6>", "<7>") for x in lines
               if x.startswith("<") or x.startswith("onecsync:")), lines
    # another stream in JOURNAL_STREAM (a child started by the unit, whose stderr is a file)
    assert not any(x.startswith("<") for x in run(journal=False))


def test_a_run_on_a_terminal_draws_the_bar_on_stderr_only(sandbox, monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(console, "_stderr", Console(file=buf, force_terminal=True, width=120))
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(i), "ООО") for i in range(5)]))
    drawn = []
    real = console.TerminalProgress.task

    def spy(self, description, **kw):
        drawn.append(description)
        return real(self, description, **kw)
    monkeypatch.setattr(console.TerminalProgress, "task", spy)
    code, out, _ = sandbox.human("--json", "pull-catalogs")
    assert code == 0 and json.loads(out)["exit_code"] == 0
    assert "accounting: reading…" in drawn and "crm: writing…" in drawn
    code, _, _ = sandbox.human("-q", "pull-catalogs")
    assert drawn.count("accounting: reading…") == 1  # -q: no bar
    monkeypatch.setattr(console, "_stderr", None)


# -- contrib -------------------------------------------------------------------------------------
def test_the_systemd_and_cron_command_lines_run(sandbox, monkeypatch):
    """The shipped unit and cron line use options the CLI has: run them on the sandbox."""
    root = f.REPO / "contrib"
    service = (root / "systemd" / "onecsync.service").read_text()
    timer = (root / "systemd" / "onecsync.timer").read_text()
    cron = (root / "cron" / "onecsync").read_text()
    assert "Type=oneshot" in service and "SuccessExitStatus=8" in service
    assert "LoadCredential=" in service
    assert "Persistent=true" in timer and "RandomizedDelaySec=" in timer
    exec_start = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    cron_line = next(line for line in cron.splitlines() if line.startswith("*/5"))
    monkeypatch.setenv("ONECSYNC_CONFIG", str(sandbox.config))
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    for line in (exec_start, cron_line):
        args = line.split("bin/onecsync", 1)[1].split()
        args = [str(sandbox.config) if a.endswith("onecsync.yaml") else a for a in args]
        sandbox.capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 0, line
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", f.ref(1))]


def test_a_dry_run_holding_the_lock_is_named_as_such(sandbox):
    """A dry run shares the lock and names no one; it does no exchange, so a scheduled run it
    keeps out is not told that it 'will finish' the work."""
    from onecsync.state import lock_path
    from onecsync.state.lock import DryRunLock

    sandbox.run("run")
    with DryRunLock(lock_path(sandbox.state_path)):
        assert sandbox.human("-q", "run") == (8, "", "")
        code, _, err = sandbox.human("run")
        assert code == 8 and f"(a --dry-run, pid {os.getpid()}) (nothing to do: the next " \
            "scheduled run does the exchange)" in err, err
        code, _, err = sandbox.human("-q", "state", "set-numbers", "crm", "--sent", "1", "--yes")
        assert (code, err) == (8, f"onecsync: error: not done: the lock is held (a --dry-run, "
                                  f"pid {os.getpid()}); run it again when it ends\n")
