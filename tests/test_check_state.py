"""`check` says what a run would meet at the state: a folder or file this user cannot write, a
lock it cannot take (exit 3), a state owned by another user (a warning). As `nobody` when the
tests run as root (see test_faults)."""

from __future__ import annotations

import os
import pwd  # noqa: F401  (imported before a run drops privileges, as are these)

import pytest
import rich.markup  # noqa: F401
import rich.style  # noqa: F401
import rich.table  # noqa: F401

import onecsync.console  # noqa: F401
import onecsync.flows.check  # noqa: F401
import onecsync.flows.runner  # noqa: F401
from tests import factory as f
from tests.test_faults import NOBODY
from tests.test_faults import usandbox  # noqa: F401  (the fixture)


def first_run(box) -> None:
    box.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    code, _, err = box.run("run")
    assert code == 0, err


@pytest.mark.parametrize("what", ["state file", "folder", "lock"])
def test_check_fails_where_a_run_would(usandbox, what):  # noqa: F811
    box = usandbox
    with box.unprivileged():
        first_run(box)
        target = {"state file": box.state_path, "folder": box.state_path.parent,
                  "lock": box.state_path.with_name("onecsync.sqlite.lock")}[what]
        mode = target.stat().st_mode
        os.chmod(target, 0o500 if what == "folder" else 0o400)
        try:
            code, out, err = box.human("check")
            run_code, _, run_err = box.human("run")
        finally:
            os.chmod(target, mode)
    assert code == 3, out + err
    assert str(target) in out + err and "not writable by this user" in out + err
    assert run_code != 0  # check said no, and so does the run


@pytest.mark.skipif(os.geteuid() != 0, reason="needs a state of another user")
def test_check_warns_when_the_state_belongs_to_another_user(sandbox):
    first_run(sandbox)
    for p in [sandbox.state_path.parent, *sandbox.state_path.parent.iterdir()]:
        os.chown(p, NOBODY, NOBODY)
    code, out, err = sandbox.human("check")
    assert code == 0, out + err
    assert f"{sandbox.state_path} belongs to user nobody, not to user root" in out + err
    assert sandbox.human("check", "--strict")[0] == 3


@pytest.mark.parametrize("kind", ["fifo", "symlink", "directory"])
def test_check_says_what_the_run_says_of_a_lock_file_that_is_no_file(sandbox, kind, tmp_path):
    """A lock file that is no regular file stops every run (exit 3): check said ok (exit 0)."""
    import os

    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert sandbox.run("pull-catalogs")[0] == 0
    lock = sandbox.state_path.with_name(sandbox.state_path.name + ".lock")
    lock.unlink(missing_ok=True)
    victim = tmp_path / "victim"
    {"fifo": lambda: os.mkfifo(lock), "symlink": lambda: lock.symlink_to(victim),
     "directory": lock.mkdir}[kind]()
    before = sandbox.dump()
    for command in ("check", "run"):
        code, _, err = sandbox.run(command)
        assert code == 3, err
        assert f"lock file {lock} is a " in err and "not a regular file" in err, err
    assert sandbox.dump() == before and not victim.exists()
