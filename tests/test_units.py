"""The shipped systemd unit works with README's install steps: the 1C server's user can read our
messages under its umask, it names no file the steps never create, its Documentation= exists
after install, and the state goes where its StateDirectory= is."""

from __future__ import annotations

import os
import re
import shlex
import stat
from pathlib import Path

import pytest

from tests import factory as f

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "contrib" / "systemd" / "onecsync.service"


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """section → key → values, as systemd reads a unit (comments dropped, keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def install_steps() -> list[list[str]]:
    """README's systemd install steps, one argv per command (pipes and `&&` split)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### systemd (recommended)"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1).replace("\\\n", " ")
    steps = []
    for line in block.splitlines():
        for part in re.split(r"\s*(?:&&|\||;)\s*", line):
            argv = shlex.split(part, comments=True)
            if argv:
                steps.append(argv[1:] if argv[0] == "sudo" else argv)
    return steps


def created_by_steps() -> set[str]:
    """The paths README's steps create: install's last operand, tee's file, cp's target."""
    made = set()
    for argv in install_steps():
        if argv[0] == "install":
            flags_with_value = {"-m", "-o", "-g"}
            operands = [a for i, a in enumerate(argv[1:], 1)
                        if not a.startswith("-") and argv[i - 1] not in flags_with_value]
            made.update(operands if "-d" in argv else operands[-1:])
        elif argv[0] == "tee":
            made.update(a for a in argv[1:] if not a.startswith("-"))
    return made


SERVICE = parse_unit(UNIT)["Service"]


def test_the_unit_names_no_credential_file_the_steps_never_create():
    # A LoadCredential= whose file is missing keeps the unit from starting at all.
    made = created_by_steps()
    for value in SERVICE.get("LoadCredential", []):
        source = value.split(":", 1)[1]
        assert source in made, f"LoadCredential={value}: README's steps never create {source}"
    text = UNIT.read_text(encoding="utf-8")
    assert "#LoadCredential=healthcheck-url:" in text  # the example stays, commented out


def test_documentation_points_at_what_the_install_steps_put_there():
    docs = " ".join(parse_unit(UNIT)["Unit"]["Documentation"]).split()
    assert docs
    made = created_by_steps()
    steps = install_steps()
    for uri in docs:
        if uri.startswith("man:"):
            name, section = re.fullmatch(r"man:([\w-]+)\((\d)\)", uri).groups()
            page = f"/usr/local/share/man/man{section}/{name}.{section}"
            assert page in made, f"{uri}: no step installs {page}"
            assert ["/opt/onecsync/bin/onecsync", "manpage"] in steps
        else:
            assert uri.startswith("file://"), uri
            assert uri.removeprefix("file://") in made, f"{uri}: no step installs it"


def test_the_users_groups_and_folders_the_unit_names_are_made_by_the_steps():
    steps = install_steps()
    user, group = SERVICE["User"][0], SERVICE["SupplementaryGroups"][0]
    assert any(s[0] == "useradd" and s[-1] == user and group in s for s in steps)
    assert ["groupadd", "--system", group] in steps
    # the exchange folders: setgid and of the shared group, so our messages get that group
    folders = [s for s in steps if s[0] == "install" and "2770" in s and group in s]
    assert folders, "no step makes the exchange folders setgid in the shared group"
    writable = SERVICE["ReadWritePaths"][0].split()
    for folder in (a for a in folders[0][1:] if a.startswith("/")):
        assert any(folder.startswith(w + "/") for w in writable), folder


def test_init_in_the_steps_puts_config_and_state_where_the_unit_looks():
    init = next(s for s in install_steps() if s[1:2] == ["init"])
    assert init[0] == SERVICE["ExecStart"][0].split()[0]
    execstart = SERVICE["ExecStart"][0].split()
    config = execstart[execstart.index("--config") + 1]
    assert Path(init[2]) / "onecsync.yaml" == Path(config)
    state = Path(init[init.index("--state") + 1])
    assert state.parent == Path("/var/lib") / SERVICE["StateDirectory"][0]


@pytest.fixture
def unit_umask():
    """The process runs under the unit's UMask=, as systemd would start it."""
    value = int(SERVICE["UMask"][0], 8)
    old = os.umask(value)
    try:
        yield value
    finally:
        os.umask(old)


def test_under_the_units_umask_the_1c_user_reads_our_messages_through_the_group(
        sandbox, unit_umask):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    for peer in ("accounting", "crm"):
        mode = stat.S_IMODE(sandbox.outgoing_path(peer).stat().st_mode)
        assert mode == 0o666 & ~unit_umask
        assert mode & stat.S_IRGRP, f"{peer}: the 1C server's user (the group) cannot read it"
        assert not mode & 0o007, f"{peer}: others can reach our message ({oct(mode)})"
    # what is ours alone stays ours alone, whatever the umask
    assert stat.S_IMODE(sandbox.state_path.stat().st_mode) == 0o600


def test_a_umask_of_022_gives_messages_readable_by_all(sandbox):
    old = os.umask(0o022)
    try:
        sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
        assert sandbox.run("run")[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(sandbox.outgoing_path("crm").stat().st_mode) == 0o644
