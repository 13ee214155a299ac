"""What the state writes to disk for what it holds (issue 15: bytes written per object on a first
exchange): one checkpoint a run, so that a page several steps change is copied into the file once."""

from __future__ import annotations

import contextlib
import sqlite3

from onecsync.state import open_state

# More pages than SQLite's automatic checkpoint waits for (1,000), in one commit.
_ROWS = 1100
_FILL = (f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {_ROWS}) "
         "INSERT INTO scratch (x) SELECT zeroblob(15000) FROM n")


def _wal(path):
    return path.with_name(path.name + "-wal")


def test_a_runs_commits_stay_in_the_log_until_the_state_closes_then_reach_the_file(tmp_path):
    """Two big commits, the second rewriting every page of the first, as routing rewrites what
    receiving staged: the file is not written until the state closes, and then holds the last."""
    path = tmp_path / "state.sqlite"
    state = open_state(path)
    with state.atomic():
        state.conn.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY, x BLOB)")
    before = path.stat().st_size
    with state.atomic():
        state.conn.execute(_FILL)
    with state.atomic():
        state.conn.execute("UPDATE scratch SET x = randomblob(15000)")
    assert path.stat().st_size == before  # nothing copied yet: both commits in the log
    assert _wal(path).stat().st_size > 2 * _ROWS * 15000
    last = state.conn.execute("SELECT sum(length(x)), max(hex(substr(x, 1, 8))) FROM scratch").fetchone()
    state.close()
    assert not _wal(path).exists() or _wal(path).stat().st_size == 0
    assert path.stat().st_size > _ROWS * 15000
    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as c:
        assert c.execute("SELECT sum(length(x)), max(hex(substr(x, 1, 8))) FROM scratch").fetchone() == last


def test_a_reader_open_as_the_run_ends_does_not_keep_its_commits_out_of_the_file(tmp_path):
    """SQLite's own checkpoint on close needs the last connection; `status` open meanwhile
    would leave the whole run in the log, and the next run's too. The closing checkpoint
    copies what the reader does not need (it sees the last commit)."""
    path = tmp_path / "state.sqlite"
    state = open_state(path)
    with state.atomic():
        state.conn.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY, x BLOB)")
        state.conn.execute(_FILL)
    before = path.stat().st_size
    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as reader:
        assert reader.execute("SELECT count(*) FROM scratch").fetchone()[0] == _ROWS
        state.close()
        assert path.stat().st_size > before + _ROWS * 15000 // 2
        assert reader.execute("SELECT count(*) FROM scratch").fetchone()[0] == _ROWS


def test_a_run_killed_before_it_closed_loses_no_commit(tmp_path):
    """The log is the commits: a run that never closed leaves them to the next one."""
    path = tmp_path / "state.sqlite"
    state = open_state(path)
    with state.atomic():
        state.conn.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY, x BLOB)")
        state.conn.execute(_FILL)
    # killed: the connection is never closed (a copy of the files is what a kill leaves)
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in (path, _wal(path)):
        (copy / p.name).write_bytes(p.read_bytes())
    state.close()
    again = open_state(copy / path.name)
    try:
        assert again.conn.execute("SELECT count(*) FROM scratch").fetchone()[0] == _ROWS
    finally:
        again.close()
