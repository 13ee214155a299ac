"""The shipped systemd unit works with README's install steps: the 1C server's user can read our
messages under its umask, it names no file the steps never create, its Documentation= exists
after install, and the state goes where its StateDirectory= is."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
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


# --- the path unit and the templates for many pairs ----------------------------------------

SYSTEMD = REPO / "contrib" / "systemd"
UNITS = ("onecsync.service", "onecsync.timer", "onecsync.path", "onecsync@.service",
         "onecsync@.timer", "onecsync@.path")
# What may differ between onecsync.service and its template: what %i picks.
PER_PAIR = {("Unit", "Description"), ("Service", "ExecStart"), ("Service", "StateDirectory"),
            ("Service", "ReadWritePaths")}


def test_the_path_unit_watches_the_folders_the_steps_make_and_the_service_may_write():
    path = parse_unit(SYSTEMD / "onecsync.path")["Path"]
    folders = next(s for s in install_steps() if s[0] == "install" and "2770" in s)
    assert set(path["PathChanged"]) == {a for a in folders if a.startswith("/srv/")}
    writable = SERVICE["ReadWritePaths"][0].split()
    assert all(any(p.startswith(w + "/") for w in writable) for p in path["PathChanged"])
    assert path["Unit"] == ["onecsync.service"]
    assert parse_unit(SYSTEMD / "onecsync.path")["Install"]["WantedBy"] == ["paths.target"]


def test_the_template_is_the_service_with_the_pair_filled_in():
    plain, template = parse_unit(UNIT), parse_unit(SYSTEMD / "onecsync@.service")
    assert plain.keys() == template.keys()
    for section in plain:
        assert plain[section].keys() == template[section].keys(), section
        for key, values in plain[section].items():
            if (section, key) not in PER_PAIR:
                assert template[section][key] == values, f"[{section}] {key}"
    service = template["Service"]
    execstart = service["ExecStart"][0].split()
    assert execstart[execstart.index("--config") + 1] == "/etc/onecsync/%i.yaml"
    assert service["StateDirectory"] == ["onecsync/%i"]  # a state folder per pair
    writable = service["ReadWritePaths"][0]
    assert writable == "/srv/1c-exchange/%i"
    watched = parse_unit(SYSTEMD / "onecsync@.path")["Path"]["PathChanged"]
    assert watched == ["/srv/1c-exchange/%i/bp", "/srv/1c-exchange/%i/crm"]
    for name in ("onecsync@.timer", "onecsync@.path"):
        unit = parse_unit(SYSTEMD / name)
        kind = "Timer" if name.endswith("timer") else "Path"
        assert unit[kind]["Unit"] == ["onecsync@%i.service"], name
    assert parse_unit(SYSTEMD / "onecsync@.timer")["Timer"] == \
        {**parse_unit(SYSTEMD / "onecsync.timer")["Timer"], "Unit": ["onecsync@%i.service"]}


def test_the_readmes_two_pairs_go_where_the_template_looks():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Many pairs on one host"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1).replace("\\\n", " ")
    inits = [shlex.split(line) for line in block.splitlines() if " init " in line]
    assert len(inits) == 2
    for argv in inits:
        config = argv[argv.index("--config") + 1]
        pair = Path(config).stem
        assert config == f"/etc/onecsync/{pair}.yaml"
        assert argv[argv.index("--state") + 1] == f"/var/lib/onecsync/{pair}/state.sqlite"
        assert argv[argv.index("--accounting") + 1] == f"/srv/1c-exchange/{pair}/bp"
        assert argv[argv.index("--crm") + 1] == f"/srv/1c-exchange/{pair}/crm"
        assert f"onecsync@{pair}.timer" in block and f"onecsync@{pair}.path" in block


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
@pytest.mark.parametrize("name", ["onecsync.service", "onecsync.timer", "onecsync.path",
                                  "onecsync@client1.service", "onecsync@client1.timer",
                                  "onecsync@client1.path"])
def test_systemd_analyze_verify_finds_nothing(tmp_path, name):
    # verify wants ExecStart= to exist: this checkout's onecsync stands in for /opt's.
    onecsync = Path(sys.executable).with_name("onecsync")
    assert onecsync.exists()
    for unit in UNITS:
        text = (SYSTEMD / unit).read_text(encoding="utf-8")
        (tmp_path / unit).write_text(text.replace("/opt/onecsync/bin/onecsync", str(onecsync)),
                                     encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", f"./{name}"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    # verify exits 0 on an unknown key or a bad Unit=: its lines are what tell
    lines = [line for line in (done.stdout + done.stderr).splitlines()
             if "does not match strict user/group name rules" not in line]  # 1c-exchange
    assert done.returncode == 0 and lines == [], "\n".join(lines)
