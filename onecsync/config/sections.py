"""The config's top level and its sections, each checked on its own, then against the others.

Public API: `parse_config(data, base_dir, path)` → `Config`, or ConfigError listing every
problem with its dotted path (``bases.crm.transport.path: missing``). Unknown keys are errors so
that typos fail loudly; relative paths are resolved against the config file's folder. The
`bases` section is bases.py's; the checks of single values are checks.py's.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import Mapping
from urllib.parse import unquote
from urllib.parse import urlsplit

from onecsync import addresses
from onecsync import topology
from onecsync.config.bases import bases_section
from onecsync.config.bases import distinct_places
from onecsync.config.checks import OBJECT_TYPE
from onecsync.config.checks import Checker
from onecsync.config.model import DEFAULT_FORMATS
from onecsync.config.model import DEFAULT_PLAN
from onecsync.config.model import DEFAULT_RUN_TIMEOUT
from onecsync.config.model import PEERS
from onecsync.config.model import Base
from onecsync.config.model import Config
from onecsync.config.model import Flow
from onecsync.config.model import Node
from onecsync.config.model import exchange_folders
from onecsync.config.nfc import composed
from onecsync.config.nfc import composed_sources
from onecsync.config.yamlsafe import Sources
from onecsync.errors import ConfigError
from onecsync.errors import listed_problems
from onecsync.i18n import N_
from onecsync.places import forbidden_place
from onecsync.places import own_folders

if TYPE_CHECKING:
    from onecsync.mapping import TypeRules


def parse_config(data: Any, base_dir: Path, path: Path,
                 sources: Sources | None = None) -> Config:
    """`sources`: the text and line of each value and key YAML typed (yamlsafe's). Its text is
    taken in NFC (config/nfc.py)."""
    v = Checker(base_dir, composed_sources(sources) if sources is not None else None)
    cfg = top_section(v, composed(data), path)
    if v.problems:
        listed = listed_problems(v.problems)
        raise ConfigError(f"{path}: 1 problem: {listed}" if len(v.problems) == 1 else
                          f"{path}: {len(v.problems)} problems: {listed}", problems=v.problems)
    assert cfg is not None
    return cfg


def top_section(c: Checker, data: Any, path: Path) -> Config | None:
    if data is None:
        c.fail("(top)", "the file is empty")
        return None
    top = c.mapping(data, "", ("node", "state", "bases", "flows", "mapping",
                               "healthcheck_url", "healthcheck_url_env",
                               "healthcheck_url_file", "metrics_file", "run_timeout"))
    if not isinstance(data, dict):
        return None
    node = node_section(c, top.get("node"))
    state = c.path(top.get("state", "onecsync-state.sqlite"), "state")
    bases = bases_section(c, top.get("bases"))
    c.versions = node.formats if node else DEFAULT_FORMATS
    flows = flows_section(c, top.get("flows"))
    mapping = mapping_section(c, top.get("mapping"))
    healthcheck = c.secret(top, "", "healthcheck_url", plain=True)
    run_timeout = float(c.number(top, "", "run_timeout", DEFAULT_RUN_TIMEOUT))
    if healthcheck and healthcheck.value:
        if not healthcheck.value.startswith(("http://", "https://")):
            c.fail("healthcheck_url", "must be an http:// or https:// URL")
        elif c.no_credentials(healthcheck.value, "healthcheck_url") and \
                (problem := addresses.url_problem(healthcheck.value)):
            c.fail("healthcheck_url", problem)
        elif ":" in unquote(urlsplit(healthcheck.value).username or ""):
            c.fail("healthcheck_url", "its user decodes to a name with ':', which HTTP Basic "
                                      "authentication cannot carry (RFC 7617)")
    if state is not None and bases:
        state_apart(c, state, bases)
    metrics = metrics_file(c, top.get("metrics_file"))
    if metrics is not None and state is not None and bases:
        metrics_apart(c, metrics, state, path, bases)
    if node and bases:
        codes = [node.code] + [b.code for b in bases.values()]
        if len(set(codes)) != len(codes):
            c.fail("bases", "node.code and the bases' codes must all differ")
        distinct_places(c, bases)
    if c.problems or node is None or state is None or bases is None:
        return None
    return Config(path=path, node=node, state=state, bases=bases, flows=flows,
                  mapping=mapping, healthcheck_url=healthcheck, metrics_file=metrics,
                  run_timeout=run_timeout)


def metrics_file(c: Checker, value: Any) -> Path | None:
    if value is None:
        return None
    path = c.path(value, "metrics_file")
    if path is not None and path.suffix != ".prom":
        # node_exporter's textfile collector reads *.prom only: another name is never seen.
        c.fail("metrics_file", f"{path.name!r} must end in .prom (node_exporter's textfile "
                               "collector reads only *.prom files)")
        return None
    return path


def metrics_apart(c: Checker, metrics: Path, state: Path, path: Path,
                  bases: dict[str, Base]) -> None:
    """The metrics file is replaced by a rename every run: never over a file of ours, never
    in a folder others write to (places.forbidden_place)."""
    why = forbidden_place(metrics, state, path, exchange_folders(bases))
    if why:
        c.fail("metrics_file", f"{metrics} {why}: point it at node_exporter's textfile "
                               "folder, outside the state's files and every exchange folder")


def state_apart(c: Checker, state: Path, bases: dict[str, Base]) -> None:
    """The state's folder must not be (inside) an exchange folder: the base's users
    (and a rename of ours) could replace the state, its lock or its -wal there, or 1C would
    read our state as messages. Judged on real paths (links and `..` resolved)."""
    mine = state.parent.resolve()
    for name, folder in exchange_folders(bases).items():
        theirs = folder.resolve()
        # (An exchange folder below the state's folder is the usual layout beside the
        # config, and the state's own names there are not 1C's: that one is allowed.)
        if mine != theirs and theirs not in mine.parents:
            continue
        c.fail("state", f"{state} is in the exchange folder bases.{name}.transport.path "
                        f"({theirs}): "
                        "keep the state in a folder of its own, outside every exchange "
                        "folder")
    # Nor is an exchange folder one that onecsync makes beside the state, or inside one: the
    # other base's rejected messages would be copied into this base's share, and the folder
    # made 0700 under the base's server.
    for what, own in own_folders(state).items():
        ours = own.resolve()
        for name, folder in exchange_folders(bases).items():
            theirs = folder.resolve()
            if theirs == ours or ours in theirs.parents:
                c.fail(f"bases.{name}.transport.path",
                       f"{folder} is {what} onecsync keeps beside its state ({ours}), or inside "
                       "it: give the base an exchange folder of its own")


def node_section(c: Checker, data: Any) -> Node | None:
    if data is None:
        c.fail("node", "missing")
        return None
    d = c.mapping(data, "node", ("code", "exchange_plan", "formats", "prefix"))
    code = c.code(d.get("code"), "node.code")
    plan = c.string(d.get("exchange_plan", DEFAULT_PLAN), "node.exchange_plan")
    formats = None if c.emptied(d, "formats", "node.formats", N_(
        "is empty: list the versions the node exchanges in, like [\"1.8\"], or remove the key for "
        "the defaults")) else formats_section(c, d.get("formats"))
    prefix = c.string(d.get("prefix"), "node.prefix", required=False)
    if prefix is not None and len(prefix) > 2:
        c.fail("node.prefix", "1C infobase prefixes are at most 2 characters")
    if code is None or plan is None or formats is None:
        return None
    return Node(code=code.lower(), exchange_plan=plan, formats=formats, prefix=prefix,
                spelled=code)


def formats_section(c: Checker, data: Any) -> tuple[str, ...] | None:
    from onecsync.formats import VERSIONS
    from onecsync.formats import version_key

    if data is None:
        return DEFAULT_FORMATS
    if not isinstance(data, list) or not data:
        c.fail("node.formats", "must be a non-empty list of versions like \"1.8\"")
        return None
    out = []
    for i, item in enumerate(data):
        v = str(item).strip()
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            c.fail(f"node.formats[{i}]", f"{item!r} is read by YAML as a number "
                                         "(1.10 becomes 1.1): quote the version "
                                         "('1.10'), as in [\"1.8\", \"1.10\"]")
        elif v not in VERSIONS:
            c.fail(f"node.formats[{i}]", f"{v!r} is not a supported EnterpriseData "
                                         f"version ({', '.join(VERSIONS)})")
        else:
            out.append(v)
    if not c.unique(data, "node.formats"):
        return None
    return tuple(sorted(out, key=version_key)) if len(out) == len(data) else None



def flows_section(c: Checker, data: Any) -> dict[str, Flow]:
    d = c.mapping(data, "flows", topology.flow_names())
    out = {}
    for spec in topology.FLOWS:
        name, default, where = spec.name, spec.default_types, f"flows.{spec.name}"
        known = ("objects", "organizations") + (("links",) if spec.links is not None else ())
        f = c.mapping(d.get(name), where, known)
        objects = f.get("objects", list(default))
        if c.emptied(f, "objects", f"{where}.objects", N_(
                "is empty: list the object types the flow carries, or remove the key for its defaults")):
            objects = list(default)
        elif not isinstance(objects, list):
            c.fail(f"{where}.objects", "must be a non-empty list of object types")
            objects = list(default)
        for i, obj in enumerate(objects):
            if not isinstance(obj, str) or not OBJECT_TYPE.match(obj):
                c.fail(f"{where}.objects[{i}]",
                       f"{obj!r} is not an object type like Справочник.Контрагенты")
        c.unique(objects, f"{where}.objects")
        orgs = []
        # Empty, the filter would be no filter: every organization's objects would go, for good.
        c.emptied(f, "organizations", f"{where}.organizations", N_(
            "is empty, which would carry every organization's objects: list the ИНН of those the "
            "flow carries, or remove the key to carry all organizations"))
        for i, inn in enumerate(c.string_list(f.get("organizations"), f"{where}.organizations")):
            text = c.string(inn, f"{where}.organizations[{i}]")
            if text is None:
                continue
            # ASCII digits only (`\d` takes "７７２８…" too, which no ИНН of 1C's equals)
            if not re.fullmatch(r"[0-9]{10}|[0-9]{12}", text):
                c.fail(f"{where}.organizations[{i}]", f"{text!r} is not an ИНН (10 or 12 digits)")
            orgs.append(text)
        c.unique(orgs, f"{where}.organizations")
        links = {}
        if spec.links is not None:
            links = links_section(c, f.get("links"), f"{where}.links", objects, spec.links)
        out[name] = Flow(name=name, objects=tuple(str(o) for o in objects),
                         organizations=tuple(orgs), links=links)
    return out


def links_section(c: Checker, data: Any, where: str, objects: list,
                  defaults: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Configured link paths are added to the defaults (an admin adds one, loses none)."""
    out = {t: defaults.get(t, ()) for t in objects if isinstance(t, str)}
    d = c.mapping(data, where, tuple(out))
    for type_name, paths in d.items():
        if type_name not in out:
            continue  # said once, as an unknown key (as written: `true:` is no "True")
        c.unique(c.string_list(paths, f"{where}.{type_name}"), f"{where}.{type_name}")
        for i, path in enumerate(c.string_list(paths, f"{where}.{type_name}")):
            checked = c.object_path(type_name, path, f"{where}.{type_name}[{i}]")
            if checked and checked not in out[type_name]:
                out[type_name] += (checked,)
    return out


def mapping_section(c: Checker, data: Any) -> dict[str, dict[str, TypeRules]]:
    d = c.mapping(data, "mapping", PEERS)
    out: dict[str, dict[str, TypeRules]] = {}
    if d:
        from onecsync.mapping import TypeRules
    for peer, types in d.items():
        where = f"mapping.{peer}"
        if not isinstance(types, dict):
            c.fail(where, "must map object types to rules")
            continue
        for type_name, raw in types.items():
            tw = f"{where}.{type_name}"
            if not isinstance(type_name, str) or not OBJECT_TYPE.match(type_name):
                c.fail(tw, "is not an object type like Справочник.Номенклатура")
                continue
            r = c.mapping(raw, tw, ("drop", "set", "values"))
            drop = tuple(p for i, p in enumerate(c.string_list(r.get("drop"), f"{tw}.drop"))
                         if c.object_path(type_name, p, f"{tw}.drop[{i}]"))
            c.unique(c.string_list(r.get("drop"), f"{tw}.drop"), f"{tw}.drop")
            sets = []
            for path, value in c.mapping(r.get("set"), f"{tw}.set").items():
                if c.object_path(type_name, path, f"{tw}.set.{path}"):
                    sets.append((str(path).strip("/"),
                                 c.string(value, f"{tw}.set.{path}", one_line=False) or ""))
            values = []
            for path, raw_table in c.mapping(r.get("values"), f"{tw}.values").items():
                if not isinstance(raw_table, dict) or not raw_table:
                    c.fail(f"{tw}.values.{path}", "must map old values to new ones")
                    continue
                table = c.mapping(raw_table, f"{tw}.values.{path}")
                for k, v in table.items():  # a new value is text, as it goes into the XML
                    if not isinstance(v, str):
                        c.fail(f"{tw}.values.{path}.{k}", c.not_text(v, f"{tw}.values.{path}.{k}"))
                if c.object_path(type_name, path, f"{tw}.values.{path}"):
                    values.append((str(path).strip("/"),
                                   tuple((str(k), str(v)) for k, v in table.items())))
            out.setdefault(peer, {})[type_name] = TypeRules(drop=drop, set=tuple(sets),
                                                            values=tuple(values))
    return out
