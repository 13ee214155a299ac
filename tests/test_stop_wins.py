"""Review4 #2: a stop (SIGTERM, Ctrl-C, run_timeout's alarm) whose exception lands in a callback
of SQLite or lxml, which swallow it and report an error of their own, is still a stop: the
stop's line and exit code, never "state file … cannot be used" (exit 3), a rejected message or
an internal error. The signal is raised from inside the callback itself (signal.raise_signal
delivers it at once; its handler runs at the callback's next bytecode): no timing involved."""

from __future__ import annotations

import signal

import pytest

from onecsync.state import dryrun
from onecsync.state import payloads
from onecsync.state.migrations import applied
from tests import factory as f
from tests.test_migration import OLD
from tests.test_migration import a_first_exchange
from tests.test_migration import previous_layout

STOPS = {  # signal → (exit code, the line's start, its remedy)
    signal.SIGTERM: (143, "stopped (SIGTERM)", "the next run carries on"),
    signal.SIGINT: (130, "interrupted (Ctrl-C)", ""),
    signal.SIGALRM: (4, "timed out: the run went past run_timeout", "the next run carries on"),
}


def once(real, signum):
    """`real`, which raises `signum` in the process the first time it is called."""
    calls = []

    def wrapped(*args):
        if not calls:
            calls.append(args)
            signal.raise_signal(signum)
        return real(*args)

    wrapped.calls = calls
    return wrapped


def stopped_as(err: str, code: int, signum) -> None:
    want_code, line, remedy = STOPS[signum]
    assert code == want_code, err
    assert line in err and remedy in err, err
    assert "cannot be used" not in err and "raised exception" not in err, err
    assert "internal error" not in err and "Traceback" not in err, err


@pytest.mark.parametrize("signum, args", [(signal.SIGTERM, ("run",)), (signal.SIGINT, ("run",)),
                                          (signal.SIGTERM, ("--dry-run", "run"))])
def test_a_stop_inside_migration_0004s_function_is_a_stop(sandbox, monkeypatch, signum, args):
    """oldterm.sh: SIGTERM while 0004 packs the payloads said exit 3 "user-defined function
    raised exception (check the state file …)"; the state was fine. A dry run migrates a copy
    of such a state: the same door."""
    a_first_exchange(sandbox)
    previous_layout(sandbox.state_path)
    packing = once(payloads.pack, signum)
    monkeypatch.setattr(payloads, "pack", packing)

    code, _, err = sandbox.run(*args)

    assert packing.calls, "the migration did not pack anything"
    stopped_as(err, code, signum)
    with sandbox.db() as c:
        assert applied(c) == OLD  # the migration's transaction was undone: the state as it was
    monkeypatch.undo()
    code, _, err = sandbox.run("run")  # and the next run carries on
    assert code == 0, err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGALRM])
def test_a_stop_inside_the_dry_runs_authorizer_is_a_stop(sandbox, monkeypatch, signum):
    """The dry run's authorizer is asked about every statement; SQLite reports an exception
    raised in it as "not authorized", which said exit 3 "state file … cannot be used"."""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    before = sandbox.dump()
    real = dryrun._never_commit

    def never_commit(conn):
        real(conn)
        asked = []

        def authorize(action, *args):
            if action == dryrun.sqlite3.SQLITE_INSERT and not asked:
                asked.append(action)
                signal.raise_signal(signum)
            return dryrun.sqlite3.SQLITE_OK

        conn.set_authorizer(authorize)

    monkeypatch.setattr(dryrun, "_never_commit", never_commit)
    sandbox.put("accounting", f.Msg(message_no=2, received_no=0, created="2026-11-22T09:00:00",
                                    objects=[f.counterparty(f.ref(2), "ООО Лютик")]))
    code, _, err = sandbox.run("--dry-run", "pull-catalogs")

    stopped_as(err, code, signum)
    assert sandbox.dump() == before


def test_a_stop_inside_a_schema_resolver_is_a_stop(sandbox, capsys, monkeypatch):
    """lxml reports an exception raised in a resolver as the schema's parse error
    ("Failed to parse the XML resource"): an internal error (exit 1) before."""
    from onecsync.formats import schema
    from tests.conftest import invoke

    schema.object_schema.cache_clear()
    resolving = once(schema._EnvelopeResolver.resolve, signal.SIGTERM)
    monkeypatch.setattr(schema._EnvelopeResolver, "resolve", resolving)
    path = sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    try:
        code, _, err = invoke(capsys, "--config", str(sandbox.config), "validate", str(path))
    finally:
        schema.object_schema.cache_clear()
    assert resolving.calls, "no schema was built"
    assert code == 143, err
    assert "stopped (SIGTERM): it only reads: nothing was changed" in err, err
    assert "internal error" not in err and "XMLSchemaParseError" not in err, err


def test_a_stop_while_the_message_is_read_leaves_it_unjudged(sandbox, monkeypatch):
    """iterparse reading a stream whose read() the stop interrupts: the message is neither
    rejected nor kept in quarantine (lxml passes the exception on; a guard, should it not)."""
    from onecsync.protocol import prolog

    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(i), f"ООО {i}")
                                             for i in range(1, 40)]))
    reading = once(prolog.Prefixed.read, signal.SIGTERM)
    monkeypatch.setattr(prolog.Prefixed, "read", reading)
    code, _, err = sandbox.run("pull-catalogs")
    stopped_as(err, code, signal.SIGTERM)
    quarantine = sandbox.state_path.parent / "quarantine"
    assert not quarantine.exists() or not [p for p in quarantine.rglob("*") if p.is_file()]
    monkeypatch.undo()
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err


def test_a_library_callers_next_run_after_a_stop_starts_afresh(sandbox, monkeypatch):
    """The stop is remembered for the run it stopped only: an api caller whose run timed out
    gets its next run's own outcome, not that stop again."""
    from onecsync import api

    a_first_exchange(sandbox)
    previous_layout(sandbox.state_path)
    monkeypatch.setattr(payloads, "pack", once(payloads.pack, signal.SIGTERM))
    from onecsync import stopping
    from onecsync.errors import Stopped

    def stop(signum, frame):  # as a service built on the api would stop
        raise stopping.asked(Stopped("SIGTERM"))

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        config = api.load_config(sandbox.config)
        with pytest.raises(Stopped):
            api.run(config)
    finally:
        signal.signal(signal.SIGTERM, previous)
    monkeypatch.undo()
    assert api.run(config).exit_code == 0
