"""`state set-numbers --received`: a typed number never skips the base's messages unseen (review
R4 #1). A typo (1000 for 57), or the number of the message in the folder itself, would have every
later message of the base skipped as received earlier (exit 0) and our ReceivedNo make the base
drop their registrations: its edits lost for good. Such a number is refused unless --force, and a
run that skips the base's messages under a typed number stops (exit 6) and says so."""

from __future__ import annotations

import contextlib
import sqlite3

import pytest

from tests.emulator.world import World
from tests.emulator.world import scratch_dir


@pytest.fixture
def world(tmp_path):
    with scratch_dir(tmp_path) as root:
        yield World(root)


def name_in_crm(world, s) -> str:
    return world.copy_in("crm", s.vector).fields["Наименование"]


def edit_reaches_the_crm(world, s) -> None:
    for _ in range(3):
        run = world.round()
        assert run.code == 0, run.stderr
    assert name_in_crm(world, s) == "Вектор-М ООО"


def test_a_received_typo_above_the_message_in_the_folder_is_refused_and_nothing_changes(world):
    s = world.seed()
    before = world.numbers("accounting")
    waiting = world.acc.sent_no  # the base's message in its folder, taken already
    r = world.cli("state", "set-numbers", "accounting", "--received", "1000", "--yes")
    assert r.code == 2, r.stderr
    assert (f"--received 1000 is at or above {waiting}, the number of accounting's message in "
            "its folder now") in r.stderr
    assert "nothing needs setting" in r.stderr and "--force" in r.stderr
    assert world.numbers("accounting") == before
    world.acc.edit(s.vector, Наименование="Вектор-М ООО")
    edit_reaches_the_crm(world, s)


def test_the_number_of_the_message_in_the_folder_is_refused_naming_the_one_that_reads_it(world):
    """The old help said `--received N-1, N the number it now writes`: typing N skipped it."""
    s = world.seed()
    world.acc.edit(s.vector, Наименование="Вектор-М ООО")
    world.exchange("accounting")  # the base writes message n, with the edit
    n = world.acc.sent_no
    r = world.cli("state", "set-numbers", "accounting", "--received", str(n), "--yes")
    assert r.code == 2 and f"use --received {n - 1}" in r.stderr, r.stderr
    r = world.cli("state", "set-numbers", "accounting", "--received", str(n - 1), "--yes")
    assert r.code == 0, r.stderr
    run = world.run()
    assert run.code == 0, run.stderr
    assert run.report["peers"]["accounting"]["received"]["message_no"] == n
    edit_reaches_the_crm(world, s)


def test_above_every_message_ever_received_is_refused_with_no_message_in_the_folder(world):
    world.seed()
    world.theirs("accounting").unlink()
    high = world.numbers("accounting")[1]
    r = world.cli("state", "set-numbers", "accounting", "--received", str(high + 1), "--yes")
    assert r.code == 2, r.stderr
    assert (f"--received {high + 1} is above {high}, the last message received from "
            "accounting") in r.stderr and f"use at most --received {high}" in r.stderr
    r = world.cli("state", "set-numbers", "accounting", "--received", str(high - 1), "--yes")
    assert r.code == 0, r.stderr


def test_a_forced_typo_stops_every_run_with_exit_6_and_the_base_keeps_its_changes(world):
    s = world.seed()
    high = world.numbers("accounting")[1]
    r = world.cli("state", "set-numbers", "accounting", "--received", "1000", "--force", "--yes")
    assert r.code == 0, r.stderr
    world.acc.edit(s.vector, Наименование="Вектор-М ООО")
    for _ in range(2):  # not once: every run while it lasts
        run = world.round()
        assert run.code == 6, run.stderr
        n = world.acc.sent_no
        assert f"accounting's message {n} (" in run.stderr
        assert "is at or below 1000, the number set by `state set-numbers`" in run.stderr
        # the highest it ever took: message n is read, and carries what n - 1 did
        assert f"set-numbers accounting --received {high} --yes" in run.stderr
    assert world.acc.registrations  # no ReceivedNo 1000 reached it: nothing dropped
    assert name_in_crm(world, s) != "Вектор-М ООО"
    r = world.cli("state", "set-numbers", "accounting", "--received", str(high), "--yes")
    assert r.code == 0, r.stderr
    run = world.run()
    assert run.code == 0, run.stderr
    edit_reaches_the_crm(world, s)


def test_a_forced_skip_of_the_message_in_the_folder_skips_it_alone_and_says_so(world):
    s = world.seed()
    world.exchange("accounting")
    n = world.acc.sent_no
    r = world.cli("state", "set-numbers", "accounting", "--received", str(n), "--force", "--yes")
    assert r.code == 0, r.stderr
    run = world.run()
    assert run.code == 0, run.stderr
    assert f"its message {n}, is skipped, as `state set-numbers --received {n} --force` said" \
        in run.stderr
    assert run.report["peers"]["accounting"]["received"]["duplicate"] is True
    world.acc.edit(s.vector, Наименование="Вектор-М ООО")
    edit_reaches_the_crm(world, s)  # the next message is taken as ever


def test_a_state_from_before_0012_is_read_and_bounded_by_what_it_received(world):
    """`status` and a set-numbers plan read it unmigrated; the upgrade takes the highest
    MessageNo the state holds as the bound."""
    world.seed()
    high = world.numbers("accounting")[1]
    path = world.root / "state" / "onecsync.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as c, c:
        c.execute("ALTER TABLE peers DROP COLUMN received_set")
        c.execute("ALTER TABLE peers DROP COLUMN received_high")
        c.execute("DELETE FROM _sqlite_migrations WHERE name = '0012_received_set'")
    assert world.cli("status").code == 0
    r = world.cli("state", "set-numbers", "accounting", "--received", str(high - 1))
    assert r.code == 2 and "refused" not in r.stderr, r.stderr  # the plan, unapplied
    world.theirs("accounting").unlink()
    r = world.cli("state", "set-numbers", "accounting", "--received", str(high + 1), "--yes")
    assert r.code == 2 and f"is above {high}, the last message received" in r.stderr, r.stderr
    with contextlib.closing(sqlite3.connect(path)) as c:
        assert c.execute("SELECT received_high FROM peers WHERE name = 'accounting'"
                         ).fetchone() == (high,)
