"""Which object types onecsync declares to each base, and which each base must declare in return.

Public API: `declared_to(config, peer, state)`, `declared_types(config, peer, kept)`,
`kept_receiving(state, peer)`,
`keep_receiving(state, peer, decls)`, `newly_receiving(state, peer, decls)`, `needs(config, peer)`,
`versions_in(text, available)`, `peer_findings(config, peer, peer_state)`, `config_findings(config)`,
`refuse_bad_flow_types(config)`, `Finding`.

1C decides what to send a peer, and what to accept from it, from the `AvailableObjectTypes` the
peer declares (XS `FillSupportedXDTOObjects`: an object type goes out only if the peer declared it
as *received* in the exchange version, and comes in only if the peer declared it as *sent*). So
every header we write carries our declarations, derived from the flows (their directions are
those of onecsync/topology.py), from OUR point of view:
`Sending` = the versions in which we send the type to that base, `Receiving` = those in which we
take it from that base; `*` = every version in our AvailableVersion, "" = none (XS
`ExportSupportedFormatObjects`). A base's own declarations are the mirror image: what we take
from it, it must send; what we send it, it must receive.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Iterable

from onecsync import formats
from onecsync import topology
from onecsync.config import Config
from onecsync.errors import ConfigError
from onecsync.protocol.envelope import ObjectTypeDecl
from onecsync.protocol.numbering import negotiate
from onecsync.protocol.numbering import no_common_version
from onecsync.stored import BadValue
from onecsync.stored import Damaged
from onecsync.stored import stored_json
from onecsync.stored import typed


@dataclass(frozen=True)
class Finding:
    """One line for the admin: what is wrong and what to do. `problem` ones fail `check`."""

    level: str  # "problem" | "warning"
    peer: str | None
    message: str
    remedy: str

    def line(self) -> str:
        where = f"{self.peer}: " if self.peer else ""
        return f"{where}{self.message} ({self.remedy})"


def _types(config: Config, flows: tuple[str, ...]) -> dict[str, list[str]]:
    """Object type → the flows (of `flows`) that carry it, in config order."""
    out: dict[str, list[str]] = {}
    for flow in flows:
        for t in config.flows[flow].objects:
            out.setdefault(t, []).append(flow)
    return out


# meta key: the types a message we wrote declared as received from the base (a JSON list).
KEPT_KEY = "declared-receiving:{peer}"


def _versions_having(type_name: str, offered: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v for v in offered if type_name in formats.object_types(v))


def _version_list(versions: tuple[str, ...], offered: tuple[str, ...]) -> str:
    if not versions:
        return ""
    return "*" if set(versions) == set(offered) else ",".join(versions)


def declared_types(config: Config, peer: str,
                   kept: Iterable[str] = ()) -> tuple[ObjectTypeDecl, ...] | None:
    """Our `AvailableObjectTypes` for `peer`, sorted by name as 1C writes them; None if empty.

    `kept`: the types we declared as received from `peer` before (`kept_receiving`): they stay
    declared when the flows drop them, because 1C does not register for our node what we do not
    declare, and never registers it again when we declare it anew: what the base made while the
    type was out would never arrive. Declared, it arrives, is set aside while no flow takes it,
    and is routed once the config takes the type again."""
    offered = config.node.formats
    sends = _types(config, topology.flows_to(peer))
    receives = set(_types(config, topology.flows_from(peer)))
    # A kept type no offered version has any more cannot be declared.
    receives |= {t for t in kept if _versions_having(t, offered)}
    out = []
    for name in sorted(set(sends) | receives):
        having = _versions_having(name, offered)
        out.append(ObjectTypeDecl(
            name=name,
            sending=_version_list(having, offered) if name in sends else "",
            receiving=_version_list(having, offered) if name in receives else ""))
    return tuple(out) or None


def declared_to(config: Config, peer: str, state) -> tuple[ObjectTypeDecl, ...] | None:
    """What every message we write to `peer` declares, a data message or the settings message:
    the flows' types and the ones kept declared (`declared_types`); `state` None: there is no
    state yet, so nothing is kept."""
    return declared_types(config, peer, kept_receiving(state, peer) if state is not None else ())


def kept_receiving(state, peer: str) -> list[str]:
    """The types we declared as received from `peer` in a message we wrote (see
    `declared_types`), from the state's meta; a damaged value is exit 3 naming it (stored.py)."""
    key = KEPT_KEY.format(peer=peer)
    try:
        kept = typed(stored_json(state.meta.get(key) or "[]", "its value"), list, "it")
        return [typed(name, str, "a type in it") for name in kept]
    except BadValue as exc:
        raise Damaged(state.path, "meta", repr(key), str(exc)) from None


def keep_receiving(state, peer: str, decls: tuple[ObjectTypeDecl, ...] | None) -> None:
    """Record what a message we are committing declares as received from `peer` (in the
    caller's transaction, with the message's own numbers)."""
    names = sorted({d.name for d in decls or () if d.receiving} | set(kept_receiving(state, peer)))
    state.meta.set(KEPT_KEY.format(peer=peer), json.dumps(names, ensure_ascii=False))


def newly_receiving(state, peer: str, decls: tuple[ObjectTypeDecl, ...] | None) -> list[str]:
    """The types `decls` declare as received from `peer` that no message of ours declared
    before (call it before `keep_receiving`). None while none was ever declared: the base
    registered its data for onecsync when the exchange was set up, by the declarations then."""
    kept = set(kept_receiving(state, peer))
    if not kept:
        return []
    return sorted({d.name for d in decls or () if d.receiving} - kept)


def needs(config: Config, peer: str) -> list[tuple[str, str, list[str]]]:
    """(object type, direction from the PEER's point of view, flows needing it) for `peer`."""
    out = [(t, "send", fl) for t, fl in _types(config, topology.flows_from(peer)).items()]
    out += [(t, "receive", fl) for t, fl in _types(config, topology.flows_to(peer)).items()]
    return out


def versions_in(text: str | None, available: tuple[str, ...]) -> set[str]:
    """The versions a `Sending`/`Receiving` value names: `*` = all of `available`."""
    text = (text or "").strip()
    if text == "*":
        return set(available)
    return {v.strip() for v in text.split(",") if v.strip()}


def _flows_text(flows: list[str]) -> str:
    return ", ".join(f"flows.{f}.objects" for f in flows)


def peer_findings(config: Config, peer: str, state) -> list[Finding]:
    """What the base `peer` can do, judged from its last message (a `PeerState`, or None)."""
    ours = config.node.formats
    if state is None or state.versions is None:
        return [Finding("warning", peer, "no message from the base yet: the format versions it "
                        "offers and the object types it sends and receives are unknown",
                        f"load `onecsync settings-message {peer}` into the base and run its "
                        "first exchange")]
    theirs = tuple(state.versions)
    if problem := no_common_version(peer, ours, theirs):
        return [Finding("problem", peer, f"no common format version: {problem}", problem.remedy)]
    if state.object_types is None:
        return []  # the base declared nothing: 1C then assumes the peer handles everything
    version = negotiate(ours, theirs)
    declared = {d["name"]: d for d in state.object_types}
    out = []
    for name, direction, flows in needs(config, peer):
        decl = declared.get(name, {})
        have = versions_in(decl.get("sending" if direction == "send" else "receiving"), theirs)
        if version in have:
            continue
        if have:
            listed = ", ".join(sorted(have, key=_sort_key))
            out.append(Finding(
                "warning", peer, f"the base sends {name} only in format {listed}, not in "
                f"{version}, the version we exchange in" if direction == "send" else
                f"the base receives {name} only in format {listed}, not in "
                f"{version}, the version we exchange in",
                f"limit node.formats so that the highest common version is one of those, or "
                f"remove it from {_flows_text(flows)}"))
        elif direction == "send":
            out.append(Finding(
                "warning", peer, f"the base does not send {name}: it will never arrive",
                f"remove it from {_flows_text(flows)}, or check the base's release and its "
                "synchronization settings"))
        else:
            out.append(Finding(
                "warning", peer, f"the base does not receive {name}: it would ignore what we "
                "send", f"remove it from {_flows_text(flows)}"))
    return out


def _sort_key(v: str) -> tuple[int, ...]:
    try:
        return formats.version_key(v)
    except ValueError:
        return (0,)


def config_findings(config: Config) -> list[Finding]:
    """Flow object types that no offered format version has (they could never be exchanged),
    that the flow's router cannot carry, or that another flow carries too."""
    out = _misplaced(config)
    offered = config.node.formats
    for flow in config.flows.values():
        for i, name in enumerate(flow.objects):
            if not _versions_having(name, offered):
                known = {t for v in offered for t in formats.object_types(v)}
                close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
                out.append(Finding(
                    "problem", None, f"flows.{flow.name}.objects[{i}]: {name} is not an object "
                    f"type of EnterpriseData {offered[0]}–{offered[-1]}",
                    f"did you mean {close[0]}?" if close else "fix the type name or remove it"))
    return out


def _misplaced(config: Config) -> list[Finding]:
    """A type in two flows: whichever routes first claims the other's rows (push-invoices,
    which receives from accounting too, set accounting's customers aside as no invoice of the
    CRM's); a type of a kind the flow's router does not handle: it lands in the wrong registry."""
    out: list[Finding] = []
    first: dict[str, str] = {}  # type → the key that named it first
    for spec in topology.FLOWS:
        for i, name in enumerate(config.flows[spec.name].objects):
            key = f"flows.{spec.name}.objects[{i}]"
            if name.split(".", 1)[0] not in spec.kinds:
                takes = ", ".join(k + ".*" for k in spec.kinds)
                out.append(Finding(
                    "problem", None, f"{key}: {name} is not a type {spec.name} carries (it "
                    f"takes only {takes})",
                    "remove it from there"))
            elif name in first:
                out.append(Finding(
                    "problem", None, f"{key}: {name} is in {first[name]} too: one type goes "
                    "with one flow", "remove it from one of the two"))
            else:
                first[name] = key
    return out


def refuse_bad_flow_types(config: Config) -> None:
    """`run` refuses what `check` calls a config problem: a flow type no version has would
    otherwise be set aside in silence on every run (exit 3, as `check`)."""
    problems = [f.line() for f in config_findings(config) if f.level == "problem"]
    if problems:
        raise ConfigError(f"{config.path}: " + "; ".join(problems), problems=problems,
                          remedy="fix flows.*.objects")
