"""Find the config file, read it safely, and hand its data to the checks.

Public API: `load_config(path, environ)` → `Config` (or ConfigError), `find_config_path`,
`config_search` (the search order DESIGN.md §3 gives), `check_config_mode`, `parse_text`, `read_data(path)`
(a YAML file's plain data, for `init --force` reading the config it replaces),
`CONFIG_FILE_CAP`, `CONFIG_NAME`. The YAML text goes through yamlsafe.py, the only place that
parses YAML; passwords stay where they are (an environment variable or a file, read when a
transport needs them: onecsync/secret.py).
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import stat
from pathlib import Path
from typing import Any
from typing import Mapping

from onecsync.config import yamlsafe
from onecsync.config.model import Config
from onecsync.config.sections import parse_config
from onecsync.errors import ConfigError
from onecsync.files import read_small
from onecsync.places import too_long

log = logging.getLogger("onecsync")

CONFIG_FILE_CAP = 1024 * 1024  # a full config with a large mapping section is ~100 KiB
CONFIG_NAME = "onecsync.yaml"


def _system_root() -> Path:
    """The root the system-wide config lives under: `onecsync.config.SYSTEM_ROOT`, "/" on a
    real host, a seam the tests set on the package."""
    from onecsync import config

    return config.SYSTEM_ROOT


def config_search(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where a config is looked for when neither --config nor $ONECSYNC_CONFIG names one, in
    order: ./onecsync.yaml, /etc/onecsync/onecsync.yaml, $XDG_CONFIG_HOME/onecsync/onecsync.yaml
    ($XDG_CONFIG_HOME unset, empty or relative: ~/.config, as the XDG spec says)."""
    environ = os.environ if environ is None else environ
    places = [Path(CONFIG_NAME), _system_root() / "etc" / "onecsync" / CONFIG_NAME]
    xdg = environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(xdg):
        xdg = os.path.join(environ["HOME"], ".config") if environ.get("HOME") else ""
    if xdg:
        places.append(Path(xdg) / "onecsync" / CONFIG_NAME)
    return places


def find_config_path(path: str | os.PathLike | None,
                     environ: Mapping[str, str] | None = None) -> Path:
    """--config, else $ONECSYNC_CONFIG, else the first of `config_search` that exists (none:
    ./onecsync.yaml, which load_config reports as not found, naming every place). DESIGN.md §3."""
    environ = os.environ if environ is None else environ
    if path:
        return Path(path)
    if environ.get("ONECSYNC_CONFIG"):
        return Path(environ["ONECSYNC_CONFIG"])
    places = config_search(environ)
    for p in places:
        why = too_long(p, tail=0)
        if why:
            variable = "XDG_CONFIG_HOME" if environ.get("XDG_CONFIG_HOME") else "HOME"
            raise ConfigError(f"the config place {str(p)[:60]}… (from ${variable}) {why}",
                              remedy=f"set {variable} to a shorter path, or pass --config PATH")
        if p.exists():
            return p
    return places[0]


def load_config(path: str | os.PathLike | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    environ = os.environ if environ is None else environ
    cfg_path = find_config_path(path, environ)
    try:
        text = read_small(cfg_path, CONFIG_FILE_CAP).decode("utf-8")
    except FileNotFoundError:
        searched = not path and not environ.get("ONECSYNC_CONFIG")
        where = (f"no config file found (looked for {', '.join(map(str, config_search(environ)))})"
                 if searched else f"config file {cfg_path} not found")
        raise ConfigError(where, remedy="pass --config PATH or set ONECSYNC_CONFIG") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {cfg_path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {cfg_path} is not UTF-8 text (byte {exc.start})",
                          remedy="save it as UTF-8") from None
    data, sources = yamlsafe.load_with_sources(text, str(cfg_path))
    check_config_mode(cfg_path, _secret_files(data))
    return parse_config(data, cfg_path.resolve().parent, cfg_path, sources)


def check_config_mode(path: Path, secret_files: list[str]) -> None:
    """Refuse a config others may edit; warn when others may read where the secrets are.

    Whoever can edit the config can point onecsync at other folders, bases and secret files.
    A group-writable file is accepted only when the group is the owner's own (the "user private
    group" of a umask 002 system, where a fresh clone's files are 0664).
    """
    try:
        st = os.stat(path)
    except OSError:
        return  # it was just read; a race is not worth a second error
    mode = stat.S_IMODE(st.st_mode)
    who = "everyone" if mode & 0o002 else "its group" if mode & 0o020 and \
        not _private_group(st) else None
    if who:
        raise ConfigError(f"config file {path} is writable by {who} (mode {mode:04o}): whoever "
                          "can edit it can redirect the exchange",
                          remedy=f"chmod go-w {path}")
    if mode & 0o004 and secret_files:
        log.warning("config file %s is readable by every user (mode %04o) and names the secret "
                    "file(s) %s: chmod o-r it", path, mode, ", ".join(secret_files))


def _private_group(st: os.stat_result) -> bool:
    try:
        owner = pwd.getpwuid(st.st_uid)
        group = grp.getgrgid(st.st_gid)
    except KeyError:
        return False
    return (owner.pw_gid == st.st_gid and group.gr_name == owner.pw_name
            and set(group.gr_mem) <= {owner.pw_name})


_NOT_SECRET = ("metrics_file",)  # a *_file key we write, not a secret we read


def _secret_files(data: Any) -> list[str]:
    """Every `*_file` value in the raw YAML: the places secrets are read from."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and key.endswith("_file") and key not in _NOT_SECRET \
                    and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_secret_files(value))
    elif isinstance(data, list):
        for item in data:
            found.extend(_secret_files(item))
    return found


def read_data(path: Path) -> Any:
    """The plain data of a YAML file of at most CONFIG_FILE_CAP bytes (never blocking on a FIFO
    there, never reading a device whole); OSError, UnicodeDecodeError or ConfigError if it is
    not one."""
    return yamlsafe.load(read_small(path, CONFIG_FILE_CAP).decode("utf-8"), str(path))


def parse_text(text: str, base_dir: Path, path: Path) -> Config:
    """A config written as YAML text (`init` checks the one it is about to write)."""
    data, sources = yamlsafe.load_with_sources(text, str(path))
    return parse_config(data, base_dir, path, sources)
