"""files.atomic_file (and write_atomically on it): the whole new file or the old one, never half,
never a temp left behind, never written through a link planted where the temp goes."""

from __future__ import annotations

import itertools
import os
import stat

import pytest

from onecsync import files
from onecsync.errors import ConfigError
from onecsync.files import TEMP_PREFIX
from onecsync.files import atomic_file
from onecsync.files import write_atomically


def test_the_file_is_replaced_whole_with_its_mode(tmp_path):
    target = tmp_path / "onecsync.yaml"
    target.write_text("old")
    write_atomically(target, lambda f: f.write("новый".encode()), 0o640)
    assert target.read_text(encoding="utf-8") == "новый"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["onecsync.yaml"]


def test_a_failure_while_writing_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "m.xml"
    target.write_text("old")

    def half(f):
        f.write(b"<half")
        raise OSError(28, "No space left on device")

    with pytest.raises(ConfigError, match="No space left on device"):
        write_atomically(target, half, 0o644, suffix=".xml")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.xml"]


def test_a_folder_that_is_not_there_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot write .*nope"):
        write_atomically(tmp_path / "nope" / "m.xml", lambda f: f.write(b"x"), 0o644)


def test_an_interrupt_is_not_turned_into_a_config_error(tmp_path):
    def interrupted(f):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(tmp_path / "m.xml", interrupted, 0o644)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["in the block", "in the rename"])
def test_atomic_file_failing_anywhere_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch, where):
    target = tmp_path / "metrics.prom"
    target.write_bytes(b"old")
    if where == "in the rename":
        def refuse(src, dst):
            raise OSError(13, "Permission denied")
        monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises((RuntimeError, OSError)):
        with atomic_file(target, 0o644) as f:
            f.write(b"new, and half")
            if where == "in the block":
                raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.prom"]


def test_atomic_file_never_writes_through_a_link_planted_at_the_temp_name(tmp_path, monkeypatch):
    victim = tmp_path / "elsewhere" / "victim"
    victim.parent.mkdir()
    victim.write_bytes(b"precious")
    names = itertools.chain(["a" * 16], itertools.repeat("b" * 16))
    monkeypatch.setattr(files.secrets, "token_hex", lambda n: next(names))
    planted = tmp_path / f"{TEMP_PREFIX}{'a' * 16}"
    planted.symlink_to(victim)
    synced = []
    monkeypatch.setattr(files, "fsync_folder", synced.append)
    with atomic_file(tmp_path / "out.json", 0o600) as f:
        f.write(b"ours")
    assert victim.read_bytes() == b"precious"
    assert os.readlink(planted) == str(victim)  # left as it was: another name was drawn
    assert (tmp_path / "out.json").read_bytes() == b"ours"
    assert stat.S_IMODE((tmp_path / "out.json").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["elsewhere", "out.json", planted.name])
    assert synced == [tmp_path]  # the rename itself is made durable
