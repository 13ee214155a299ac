"""`onecsync init`: a starting config with a fresh node code, and the two bases' settings messages.

Public API: `BaseSpec`, `InitRequest`, `base_code(value, flag)`, `kind_of(location)`,
`previous_setup(config_path)`,
`render_config(request)`, `run_init(request, dry_run=False)` → `InitReport`, `BadRequest`.

The config is rendered as commented YAML (the admin edits it next), validated by the real config
parser before anything is written, written atomically, and never over an existing file without
`force`. The settings messages go next to it under their exchange names
(`Message_<our code>_<base code>.xml`), so they can be loaded in the 1C wizard or copied into an
exchange folder as they are.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from onecsync import clock
from onecsync.config import DEFAULT_FLOWS
from onecsync.config import DEFAULT_FORMATS
from onecsync.config import TRANSPORT_KINDS
from onecsync.config import Config
from onecsync.config import DirectoryConfig
from onecsync.config import parse_text
from onecsync.config import read_data
from onecsync.errors import ConfigError
from onecsync.errors import ExitCode
from onecsync.errors import MessageRejected
from onecsync.errors import OnecsyncError
from onecsync.errors import Refused
from onecsync.files import write_atomically
from onecsync.flows.handshake import default_file_name
from onecsync.flows.handshake import is_settings_only
from onecsync.flows.handshake import write_settings_message
from onecsync.i18n import N_
from onecsync.protocol.reader import MessageReader
from onecsync.text import one_line
from onecsync.text import utf8
from onecsync.topology import Peer

KINDS = ("directory", "ftp", "http")
DEFAULT_STATE = "onecsync-state.sqlite"
_SCHEMES = {"ftp": "ftp", "http": "http", "https": "http"}


class BadRequest(OnecsyncError):
    """The command line asks for something init cannot do."""

    exit_code = ExitCode.USAGE
    remedy = "see `onecsync init --help`"


@dataclass(frozen=True)
class BaseSpec:
    code: str
    location: str  # the shared folder, or an ftp:// or http(s):// URL


@dataclass(frozen=True)
class InitRequest:
    folder: Path
    config_path: Path
    kind: str | None  # None: each base's from its location
    node_code: str
    accounting: BaseSpec
    crm: BaseSpec
    prefix: str | None = None
    force: bool = False
    state: str | None = None  # None: next to the config


def kind_of(location: str) -> str:
    """directory for a path; ftp or http for a URL with that scheme."""
    scheme = urlsplit(location).scheme.lower()
    if scheme in _SCHEMES:
        return _SCHEMES[scheme]
    if scheme and len(scheme) > 1 and "://" in location:
        raise BadRequest(f"{location}: {scheme}:// is not a transport onecsync knows "
                         "(a folder, ftp:// or http(s)://)")
    return "directory"


def base_code(value: str, flag: str) -> str:
    """A base's node code: a UUID, or read from a message the base wrote (its `From`)."""
    text = value.strip()
    with contextlib.suppress(ValueError):
        return str(uuid.UUID(text))
    path = Path(os.path.expanduser(text))
    if path.is_file():
        try:
            with open(path, "rb") as f:
                sender = MessageReader(f, source=str(path)).header.sender or ""
        except (OSError, MessageRejected) as exc:
            raise BadRequest(f"{flag}: cannot read a node code from {path}: {exc}") from None
        with contextlib.suppress(ValueError):
            return str(uuid.UUID(sender))
        raise BadRequest(f"{flag}: {path} is from {sender!r}, which is not a node code")
    raise BadRequest(f"{flag}: {text!r} is neither a node code (a UUID such as "
                     "0b7e4f2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b) nor a message file of the base")


def _q(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar: colons, '#', Cyrillic all safe.
    if utf8(value) != value:  # a UTF-8 file cannot hold it, nor YAML an escape for it
        name = one_line(value)
        raise BadRequest(f"{name} is not UTF-8: a config file cannot name it",
                         remedy="give the folder a UTF-8 name (or a link with one)")
    return json.dumps(value, ensure_ascii=False)


def _directory(folder: Path, location: str) -> str:
    path = Path(os.path.expanduser(location))
    path = path if path.is_absolute() else (Path.cwd() / path)
    path = Path(os.path.normpath(path))
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path(os.path.normpath(folder.resolve()))))
    return str(path)


def _transport(req: InitRequest, name: str, spec: BaseSpec) -> list[str]:
    kind = kind_of(spec.location)
    env = f"ONECSYNC_{name.upper()}_PASSWORD"
    if kind == "directory":
        return ["      kind: directory                 # the folder both sides read and write",
                f"      path: {_q(_directory(req.folder, spec.location))}",
                "      compress: false                 # true: write our messages as .zip"]
    url = urlsplit(spec.location)
    lines = [f"      kind: {kind}"]
    if not url.hostname:
        raise BadRequest(f"{spec.location}: no host name in the URL")
    if kind == "ftp":
        lines += [f"      host: {_q(url.hostname or '')}", f"      port: {url.port or 21}"]
        if url.username:
            lines += [f"      user: {_q(url.username)}",
                      f"      password_env: {env}    # the password, from the environment"]
        lines.append(f"      folder: {_q(url.path or '/')}")
    else:
        netloc = url.hostname or ""
        netloc += f":{url.port}" if url.port else ""
        lines.append(f"      url: {_q(url._replace(netloc=netloc).geturl())}")
        if url.username:
            lines += [f"      user: {_q(url.username)}",
                      f"      password_env: {env}    # the password, from the environment"]
    return lines


_PRODUCTS: dict[str, str] = {Peer.ACCOUNTING: "1C:Бухгалтерия предприятия 3.0", Peer.CRM: "1C:CRM"}


def _bases(req: InitRequest) -> tuple[tuple[str, BaseSpec], ...]:
    return ((Peer.ACCOUNTING, req.accounting), (Peer.CRM, req.crm))


def render_config(req: InitRequest) -> str:
    today = clock.today().isoformat()
    out = [f"# onecsync configuration, written by `onecsync init` on {today}.",
           "# Relative paths are relative to this file's folder. Secrets never go in this file:",
           "# where a password is needed, name an environment variable (password_env) or a file",
           "# (password_file). See config.example.yaml and the README for every key.",
           "",
           "node:",
           "  # Our own node code: enter it in BOTH bases as the code of the onecsync node",
           "  # (\"другая программа\" in their universal-format synchronization).",
           f"  code: {req.node_code}",
           "  # EnterpriseData versions we offer; each base gets the highest one it also offers.",
           "  formats: [" + ", ".join(_q(v) for v in DEFAULT_FORMATS) + "]"]
    if req.prefix:
        out.append(f"  prefix: {_q(req.prefix)}            # our infobase prefix (at most 2 characters)")
    out += ["",
            "# Message numbers, what each base confirmed, what it is still owed. Keep it on local",
            "# disk; back it up with the bases, never restore one without the other.",
            f"state: {_q(_directory(req.folder, req.state)) if req.state else DEFAULT_STATE}",
            "",
            "bases:"]
    for name, spec in _bases(req):
        out += [f"  {name}:",
                f"    # The {_PRODUCTS[name]} base's own node code (\"this node\" of its exchange plan).",
                f"    code: {spec.code}",
                "    transport:",
                *_transport(req, name, spec)]
    out += ["", "# The object types each flow carries (these are the defaults).", "flows:"]
    for flow, objects in DEFAULT_FLOWS.items():
        out += [f"  {flow}:", "    objects:"] + [f"      - {o}" for o in objects]
    return "\n".join(out) + "\n"


def _validate(req: InitRequest, text: str) -> Config:
    try:
        return parse_text(text, req.folder.resolve(), req.config_path)
    except ConfigError as exc:
        # Everything in the text came from the command line: a problem in it is a usage error.
        raise BadRequest(f"the config would not be valid: {'; '.join(exc.problems) or exc}") \
            from None


def next_steps(config: Config, files: dict[str, str]) -> list[str]:
    cfg = str(config.path)
    steps = [f"In both bases, set up the universal-format synchronization with another program "
             f"(README: \"Connecting the 1C bases\") and enter {config.node.code} as the code "
             "of the onecsync node."]
    for name, base in config.bases.items():
        t = base.transport
        where = t.path if isinstance(t, DirectoryConfig) else t.kind
        steps.append(f"{name}: load {files[name]} in the base's setup wizard, or copy it as it is "
                     f"into {where}; the base's own code is {base.code}.")
    steps += [f"onecsync --config {cfg} check        (every transport reachable? what each base "
              "can do?)",
              f"onecsync --config {cfg} run          (the first exchange; then schedule it)"]
    return steps


def previous_setup(config_path: Path) -> tuple[str | None, Path | None]:
    """(node code, state path) of the config `init --force` replaces, as far as it can be read:
    the bases know us by that code, and its state holds what was exchanged under it."""
    try:
        data = read_data(config_path)
        code = str(uuid.UUID(str(data["node"]["code"])))
    except (OSError, ValueError, TypeError, KeyError, ConfigError):
        return None, None
    state = data.get("state") if isinstance(data.get("state"), str) else None
    path = Path(os.path.expanduser(state or "onecsync-state.sqlite"))
    return code, path if path.is_absolute() else config_path.parent / path


def node_code_warning(config_path: Path, new_code: str) -> str | None:
    """What to say when `init --force --node-code` changes the code of a node with a state."""
    old, state = previous_setup(config_path)
    if old is None or old == new_code or state is None or not state.exists():
        return None
    return N_(f"the state {state} was made under the old node code {old}: the new code "
              f"{new_code} needs a new state (move {state} away) and a fresh start in both bases; "
              "run and check refuse the old state under the new code")


@dataclass(frozen=True)
class InitReport:
    """What `init` wrote (or, dry, would write); `to_json` is the --json contract."""

    dry_run: bool
    config: str
    node_code: str
    transports: Mapping[str, str]
    settings_messages: Mapping[str, str]
    warnings: tuple[str, ...]
    next_steps: tuple[str, ...]

    def to_json(self) -> dict:
        return {"command": "init", "exit_code": 0, "dry_run": self.dry_run,
                "config": self.config, "node_code": self.node_code,
                "transports": dict(self.transports),
                "settings_messages": dict(self.settings_messages),
                "warnings": list(self.warnings), "next_steps": list(self.next_steps)}


def run_init(req: InitRequest, dry_run: bool = False) -> InitReport:
    for name, spec in _bases(req):
        if urlsplit(spec.location).password is not None:
            # Never echoed: it is already in the shell history; do not spread it further.
            raise BadRequest(f"--{name}: the URL holds a password; passwords never go on the "
                             "command line or in the config",
                             remedy=f"leave it out and set ONECSYNC_{name.upper()}_PASSWORD "
                                    "in the service's environment")
        kind = kind_of(spec.location)
        if req.kind is not None and kind != req.kind:
            raise BadRequest(f"--{name}: {spec.location!r} is not a {req.kind} location")
        if kind not in TRANSPORT_KINDS:
            raise BadRequest(f"--{name}: the {kind} transport is not supported by this "
                             f"onecsync's config yet (it knows: {', '.join(TRANSPORT_KINDS)})")
    if req.config_path.exists() and not req.force:
        raise Refused(f"{req.config_path} already exists",
                      remedy="pass --force to replace it, or choose another folder")
    if not req.folder.is_dir():
        raise BadRequest(f"{req.folder} is not a folder", remedy="create it first")
    text = render_config(req)
    config = _validate(req, text)
    files = {name: req.folder / default_file_name(config, name) for name in config.bases}
    for path in files.values():
        if path.exists() and not req.force and not is_settings_only(path):
            raise Refused(f"{path} exists and is not a settings-only message",
                          remedy="pass --force to replace it, or choose another folder")
    warnings = [w for w in [node_code_warning(req.config_path, config.node.code)] if w]
    # A state made under another node code is not this node's: nothing in it is kept declared.
    kept = previous_setup(req.config_path)[0] in (None, config.node.code)
    if not dry_run:
        write_atomically(req.config_path, lambda f: f.write(text.encode("utf-8")), 0o640)
        for name in config.bases:
            write_settings_message(config, name, files[name], force=True, kept=kept)
    shown = {name: str(path) for name, path in files.items()}
    return InitReport(dry_run=dry_run, config=str(req.config_path), node_code=config.node.code,
                      transports={n: b.transport.kind for n, b in config.bases.items()},
                      settings_messages=shown, warnings=tuple(warnings),
                      next_steps=tuple(next_steps(config, shown)))
