"""What is shipped: the wheel carries the LICENSE, the sdist what README's install steps use;
`--version` names what a bug report needs; shell completion and the man page work."""

from __future__ import annotations

import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
from lxml import etree

from onecsync.cli import main
from tests.test_cli_options import commands

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """The sdist and the wheel, built from the checkout's files (tracked or not yet, but not
    ignored) through setuptools' PEP 517 hooks, as `python -m build` would call them."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    setuptools = tuple(int(x) for x in version("setuptools").split(".")[:2])
    if setuptools < (70, 1):  # older ones need the `wheel` package for bdist_wheel
        pytest.skip(f"setuptools {version('setuptools')} cannot build a wheel offline: "
                    "pip install -e '.[test]' again")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    src = tmp_path_factory.mktemp("src")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    script = ("import sys\nfrom setuptools import build_meta as b\n"
              "out = sys.argv[1]; b.build_sdist(out); b.build_wheel(out)")  # hooks rewrite argv
    proc = subprocess.run([sys.executable, "-c", script, str(out)], cwd=src,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sdist,), (wheel,) = out.glob("*.tar.gz"), out.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


def test_the_wheel_carries_the_license(built):
    with zipfile.ZipFile(built["wheel"]) as whl:
        names = whl.namelist()
        licenses = [n for n in names if re.fullmatch(r"onecsync-[^/]+\.dist-info/(licenses/)?LICENSE", n)]
        assert licenses, names
        assert whl.read(licenses[0]) == (REPO / "LICENSE").read_bytes()
        metadata = whl.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "MIT" in metadata
    assert "onecsync/formats/data/envelope.json.gz" in names
    assert "onecsync/locale/ru.po" in names  # the Russian display reads it at first use


def test_the_sdist_carries_contrib_the_example_config_and_the_license(built):
    with tarfile.open(built["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    wanted = {"LICENSE", "README.md", "config.example.yaml", "contrib/systemd/onecsync.service",
              "contrib/systemd/onecsync.timer", "contrib/systemd/onecsync.path",
              "contrib/systemd/onecsync@.service", "contrib/systemd/onecsync@.timer",
              "contrib/systemd/onecsync@.path", "contrib/zabbix/userparameter_onecsync.conf",
              "contrib/zabbix/template_onecsync.yaml", "contrib/cron/onecsync"}
    assert wanted <= names, wanted - names


def test_version_names_python_lxml_and_sqlite(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("onecsync 0.")
    assert f"Python {platform.python_version()}" in line
    assert "lxml " + ".".join(map(str, etree.LXML_VERSION[:3])) in line
    assert f"SQLite {sqlite3.sqlite_version}" in line


def test_shell_completion_as_readme_documents_it(monkeypatch, capsys):
    monkeypatch.setenv("_ONECSYNC_COMPLETE", "bash_source")
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 0
    assert "complete -o nosort -F _onecsync_completion onecsync" in capsys.readouterr().out
    # and it completes: a command, then a global option after the command
    monkeypatch.setenv("_ONECSYNC_COMPLETE", "bash_complete")
    for words, cword, wanted in (("onecsync sta", "1", {"state", "status"}),
                                 ("onecsync run --js", "2", {"--json"})):
        monkeypatch.setenv("COMP_WORDS", words)
        monkeypatch.setenv("COMP_CWORD", cword)
        with pytest.raises(SystemExit):
            main([])
        got = {line.split(",", 1)[1] for line in capsys.readouterr().out.split()}
        assert got == wanted
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "_ONECSYNC_COMPLETE=bash_source onecsync" in readme


def test_the_man_page_has_every_command_and_option(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["manpage"])
    assert exc.value.code == 0
    page = capsys.readouterr().out
    assert page.startswith(".TH ONECSYNC 1 ")
    for path, command in commands():
        assert f'.SS "onecsync {" ".join(path)}'.replace("-", "\\-") in page, path
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("-") and param.name not in ("help",):
                    assert f"\\fB{opt}".replace("-", "\\-") in page or \
                        opt.replace("-", "\\-") in page, (path, opt)
    assert "\\fB\\-\\-log\\-format" in page  # the global options, once, under OPTIONS
    if shutil.which("groff"):
        proc = subprocess.run(["groff", "-k", "-man", "-Tutf8", "-ww", "-z"], input=page,
                              capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "onecsync manpage" in (REPO / "README.md").read_text(encoding="utf-8")


def test_cli_stays_thin():
    modules = sorted((REPO / "onecsync" / "cli").glob("*.py"))
    assert len(modules) >= 7, modules  # the group, three kinds of command, options, man, i18n
    for module in modules:
        assert len(module.read_text(encoding="utf-8").splitlines()) < 400, module.name


def test_the_console_stays_a_module_per_job_each_small():
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines())
             for p in (REPO / "onecsync" / "console").glob("*.py")}
    assert len(sizes) > 1 and not (REPO / "onecsync" / "console.py").exists()
    assert max(sizes.values()) < 400, sizes


# -- README's promises about what is supported and how it installs -------------------------------
def test_readme_says_no_transport_or_setting_is_unsupported_that_onecsync_supports():
    from onecsync.config import TRANSPORT_KINDS

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert set(TRANSPORT_KINDS) == {"directory", "ftp", "http"}
    for stale in ("does not accept yet", "not supported yet", "archive password empty"):
        assert stale not in readme, stale
    assert "archive_password_env" in readme[readme.index("### 4. In each base"):]


def test_init_takes_the_ftp_and_http_locations_readme_shows(tmp_path, monkeypatch, capsys):
    from onecsync.config import load_config
    from tests import factory as f

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["init", "--accounting-code", f.ACCOUNTING, "--crm-code", f.CRM,
              "--accounting", "ftp://обмен@ftp.example/bp", "--crm", "https://Администратор@web.example/crm"])
    assert exc.value.code == 0, capsys.readouterr().err
    config = load_config(tmp_path / "onecsync.yaml")
    assert config.bases["accounting"].transport.kind == "ftp"
    assert config.bases["crm"].transport.kind == "http"


def test_the_install_section_matches_requires_python():
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    minimum = re.search(r'requires-python = ">=(\d+)\.(\d+)"', pyproject).groups()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Installing Python and onecsync"):readme.index("## How it works")]
    assert f"Python {'.'.join(minimum)} or newer" in section
    rows = [r for r in section.splitlines() if r.startswith("| ") and "---" not in r][1:]
    oses = {r.split("|")[1].strip() for r in rows}
    assert {"Debian 12", "Ubuntu 22.04", "RHEL 9 (and Alma, Rocky)", "Astra Linux SE 1.8",
            "Astra Linux SE 1.7"} == oses
    for row in rows:  # each row ends in a venv made from a Python that is new enough
        venv = row.split("|")[4]
        python = re.search(r"(python3(?:\.(\d+))?) -m venv", venv)
        assert python, row
        if python.group(2):
            assert (3, int(python.group(2))) >= tuple(map(int, minimum)), row
        else:  # the OS's own python3 must be new enough: the row says which it is
            version = re.search(r"\b3\.(\d+)\b", row.split("|")[2]).group(1)
            assert (3, int(version)) >= tuple(map(int, minimum)), row


@pytest.mark.skipif(os.environ.get("ONECSYNC_INSTALL_CHECK") != "1",
                    reason="a fresh venv install needs the package index: ONECSYNC_INSTALL_CHECK=1")
def test_a_fresh_venv_install_on_this_host_runs_the_quick_start():
    proc = subprocess.run([str(REPO / "tools" / "check_install.sh"), sys.executable], text=True,
                          capture_output=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "check_install: ok" in proc.stdout


# -- the layout's rules, read from the source ----------------------------------------------------
def _imported(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (a lazy import inside a function counts)."""
    import ast

    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def test_the_protocol_imports_neither_the_config_nor_a_transport():
    """The message format is read and judged without knowing where messages travel or how a
    config spells them: the check takes the codes it needs (protocol/check.py: Expected)."""
    for path in sorted((REPO / "onecsync" / "protocol").rglob("*.py")):
        wrong = {m for m in _imported(path)
                 if m.split(".")[:2] in (["onecsync", "config"], ["onecsync", "transport"])}
        assert not wrong, (path.name, wrong)


def test_yaml_is_read_only_in_the_config_package():
    for path in sorted((REPO / "onecsync").rglob("*.py")):
        if (REPO / "onecsync" / "config") in path.parents:
            continue
        assert not {m for m in _imported(path) if m.split(".")[0] == "yaml"}, path


def test_each_config_module_stays_small():
    modules = sorted((REPO / "onecsync" / "config").glob("*.py"))
    assert len(modules) >= 4, modules  # model, loading, checks, sections at least
    for path in modules:
        assert len(path.read_text(encoding="utf-8").splitlines()) < 400, path.name
