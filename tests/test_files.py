"""write_atomically: the whole new file or the old one, never half, never a temp left behind."""

from __future__ import annotations

import stat

import pytest

from onecsync.errors import ConfigError
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
