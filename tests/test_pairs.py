"""Many pairs of bases on one host: the config search order, and `status --all`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onecsync import config as config_module
from onecsync.cli import main
from onecsync.config import find_config_path
from tests import factory as f
from tests.conftest import Sandbox
from tests.test_cli import tree_digest


def invoke(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


# --- the config search order --------------------------------------------------------------

@pytest.fixture
def places(tmp_path, monkeypatch):
    """A fake host: / (the seam), $HOME, and an empty working folder."""
    root, home, work = tmp_path / "root", tmp_path / "home", tmp_path / "work"
    for p in (root, home, work):
        p.mkdir()
    monkeypatch.setattr(config_module, "SYSTEM_ROOT", root)
    monkeypatch.chdir(work)
    etc = root / "etc" / "onecsync" / "onecsync.yaml"
    return {"etc": etc, "home": home, "work": work,
            "xdg": tmp_path / "xdg" / "onecsync" / "onecsync.yaml",
            "dot": home / ".config" / "onecsync" / "onecsync.yaml",
            "env": {"HOME": str(home), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}}


def make(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}", encoding="utf-8")
    return path


def test_the_search_order_here_then_etc_then_xdg(places):
    env = places["env"]
    assert find_config_path(None, env) == Path("onecsync.yaml")  # nothing: the first, not found
    make(places["xdg"])
    assert find_config_path(None, env) == places["xdg"]
    make(places["etc"])
    assert find_config_path(None, env) == places["etc"]
    make(places["work"] / "onecsync.yaml")
    assert find_config_path(None, env) == Path("onecsync.yaml")
    assert find_config_path(None, {**env, "ONECSYNC_CONFIG": "/x.yaml"}) == Path("/x.yaml")
    assert find_config_path("/y.yaml", {**env, "ONECSYNC_CONFIG": "/x.yaml"}) == Path("/y.yaml")


@pytest.mark.parametrize("xdg", [None, "", "relative/folder"])
def test_without_a_usable_xdg_config_home_it_is_home_dot_config(places, xdg):
    # The XDG spec: unset, empty or relative means $HOME/.config.
    env = {"HOME": places["env"]["HOME"]}
    if xdg is not None:
        env["XDG_CONFIG_HOME"] = xdg
    make(places["dot"])
    assert find_config_path(None, env) == places["dot"]


def test_a_run_finds_the_config_in_etc_and_a_missing_one_names_every_place(
        places, sandbox, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(places["home"]))
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.delenv("ONECSYNC_CONFIG", raising=False)
    code, _, err = invoke(capsys, "status")
    assert code == 3
    assert (f"no config file found (looked for onecsync.yaml, {places['etc']}, {places['dot']}) "
            "(pass --config PATH or set ONECSYNC_CONFIG)") in err
    text = sandbox.config.read_text(encoding="utf-8")
    places["etc"].parent.mkdir(parents=True)
    places["etc"].write_text(text.replace("state/", f"{sandbox.root}/state/").replace(
        "exchange/", f"{sandbox.root}/exchange/"), encoding="utf-8")
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    code, out, err = invoke(capsys, "--json", "run")
    assert code == 0, err
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", f.ref(1))]
    code, out, _ = invoke(capsys, "--json", "status")
    assert json.loads(out)["config"] == str(places["etc"].resolve())


# --- status --all ------------------------------------------------------------------------

def pair(tmp_path: Path, capsys, name: str) -> Sandbox:
    """A pair with its own folders and state, its config at pairs/<name>.yaml (as under
    /etc/onecsync), every path in it absolute."""
    box = Sandbox(tmp_path / name, capsys)
    folder = tmp_path / "pairs"
    folder.mkdir(exist_ok=True)
    config = folder / f"{name}.yaml"
    config.write_text(box.config.read_text(encoding="utf-8").replace(
        "state/", f"{box.root}/state/").replace("exchange/", f"{box.root}/exchange/"),
        encoding="utf-8")
    box.config.unlink()
    box.config = config
    return box


@pytest.fixture
def host(tmp_path, capsys):
    """Two pairs that have run (one clean, one with a parked object), a broken config and one
    that everybody may edit."""
    one, two = pair(tmp_path, capsys, "client1"), pair(tmp_path, capsys, "client2")
    one.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert one.run("run")[0] == 0
    two.put("accounting", f.Msg(objects=[
        f.counterparty(f.ref(2), "АО Василек"),
        "<Справочник.Валюты><НаименованиеПолное>Рубль</НаименованиеПолное></Справочник.Валюты>"]))
    assert two.run("run")[0] == 7
    folder = tmp_path / "pairs"
    (folder / "broken.yaml").write_text("node: [unclosed\n", encoding="utf-8")
    loose = folder / "loose.yaml"
    loose.write_text(two.config.read_text(encoding="utf-8"), encoding="utf-8")
    loose.chmod(0o666)
    (folder / "notes.txt").write_text("not a pair", encoding="utf-8")
    return {"folder": folder, "one": one, "two": two, "root": tmp_path}


def test_one_line_per_pair_the_bad_ones_too_and_a_non_zero_exit(host, capsys):
    before = tree_digest(host["root"])
    code, out, err = invoke(capsys, "status", "--all", str(host["folder"]))
    assert code == 3, err
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["broken", "client1", "client2", "loose"]
    by = {line.split()[0]: line for line in lines}
    assert "run exit 0 " in by["client1"]
    assert by["client1"].endswith("· stuck 0 · parked 0 · unconfirmed 1")
    assert "run exit 7 " in by["client2"] and "parked 1 ·" in by["client2"]
    assert "error (exit 3): " in by["broken"] and "broken.yaml" in by["broken"]
    assert "error (exit 3): " in by["loose"] and "writable by everyone" in by["loose"]
    assert tree_digest(host["root"]) == before  # read-only: nothing made, nothing changed
    code, out, _ = invoke(capsys, "--json", "status", "--all", str(host["folder"]))
    data = json.loads(out)
    assert code == 3 and data["exit_code"] == 3
    client2 = next(p for p in data["pairs"] if p["pair"] == "client2")
    assert client2["exit_code"] == 0 and client2["last_run"]["exit_code"] == 7
    assert client2["bases"]["accounting"]["parked"] == 1 and client2["stuck"] == 0
    broken = next(p for p in data["pairs"] if p["pair"] == "broken")
    assert broken["exit_code"] == 3 and "broken.yaml" in broken["error"]


def test_files_named_one_by_one_and_good_ones_exit_0(host, capsys):
    files = [str(host["folder"] / n) for n in ("client2.yaml", "client1.yaml")]
    code, out, err = invoke(capsys, "status", "--all", *files)
    assert code == 0, err
    assert [line.split()[0] for line in out.splitlines()] == ["client2", "client1"]


def test_it_answers_while_a_pair_runs_and_takes_no_lock(host, capsys):
    one = host["one"]
    with one.lock_held() as holder:
        code, out, _ = invoke(capsys, "status", "--all", str(host["one"].config))
        assert code == 0
        assert f"running now (pid {holder.pid})" in out
        assert one.run("run")[0] == 8  # the holder still holds it: status took nothing


def test_a_pair_whose_state_cannot_be_read_is_its_line(host, capsys):
    state = host["one"].state_path
    for extra in state.parent.glob(state.name + "-*"):
        extra.unlink()
    state.write_bytes(b"this is not an SQLite file" * 100)
    code, out, _ = invoke(capsys, "status", "--all", str(host["folder"]))
    assert code == 3
    by = {line.split()[0]: line for line in out.splitlines()}
    assert "error (exit 3): state file" in by["client1"]
    assert "run exit 7" in by["client2"]


def test_no_path_means_etc_onecsync_and_an_empty_folder_is_an_error(tmp_path, host, capsys,
                                                                    monkeypatch):
    monkeypatch.setattr(config_module, "SYSTEM_ROOT", tmp_path / "root")
    (tmp_path / "root" / "etc" / "onecsync").mkdir(parents=True)
    code, out, err = invoke(capsys, "status", "--all")
    assert code == 3 and out == ""
    assert f"no config files (*.yaml) in {tmp_path}/root/etc/onecsync" in err
    (tmp_path / "root" / "etc" / "onecsync" / "client1.yaml").write_text(
        host["one"].config.read_text(encoding="utf-8"), encoding="utf-8")
    code, out, _ = invoke(capsys, "status", "--all")
    assert code == 0 and out.startswith("client1  run exit 0 ")


def test_paths_without_all_or_with_config_are_usage_errors(host, capsys):
    assert invoke(capsys, "status", str(host["folder"]))[0] == 2
    code, _, err = invoke(capsys, "--config", str(host["one"].config), "status", "--all")
    assert code == 2 and "drop --config" in err
