"""Is a message in a base's folder addressed with codes other than the config's? (run and check)

Public API: `scan(config, name, transport)` → `Addressing` (the `ConfigError` to report, and one
warning for names that are not the exchange's, or near misses of the base's name: a space, an
invisible character); `judge(...)`, the rule itself; `by_header(...)`, the rule for a
transport that has no names to list (HTTP), from the message's header.

1C names its message `Message[_<prefix>]_<its code>_<our code>` (messagefiles.py: the rule,
with codes compared case-insensitively). When no file has a name the config expects but one
looks like the exchange (one of the two codes is the config's, or it comes from
the other base), a code in the config is wrong, and a run that said "no message" would leave
cron silent while nothing is exchanged. A name whose codes are not node codes at all (not
UUIDs, or not even UTF-8) is no 1C message: ignored with one warning, never offered as a code
to put in the config. Run and check judge alike, by this module, for every transport that
lists a folder (directory, FTP); over HTTP the header's From and To are judged instead.
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass

from onecsync.config import Config
from onecsync.errors import ConfigError
from onecsync.i18n import N_
from onecsync.messagefiles import addressed
from onecsync.messagefiles import message_stem
from onecsync.messagefiles import parse_name
from onecsync.protocol.envelope import Header
from onecsync.transport.candidates import shown


@dataclass
class Addressing:
    wrong: ConfigError | None = None
    warning: str | None = None


def _trimmed(name: str) -> str:
    """`name` without spaces and invisible characters (a name copied by hand, a trailing
    space a share kept): a near miss of the base's name, which nothing reads (review R7)."""
    return "".join(c for c in name if unicodedata.category(c) not in ("Zs", "Cf"))


def _is_code(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return text.isascii()


def scan(config: Config, name: str, transport) -> Addressing:
    listing = getattr(transport, "message_names", None)
    if listing is None:
        return Addressing()
    node, base = config.node.code, config.bases[name]
    names = sorted(listing())
    # Sets: a folder another writer flooded with names costs a linear scan, not a quadratic one.
    theirs = {f for f in names if any(addressed(f, s, node) for s in base.senders)}
    near = {f for f in names if f not in theirs
            and any(addressed(_trimmed(f), s, node) for s in base.senders)}
    parsed = {f: p for f in names if f not in theirs | near and (p := parse_name(f)) is not None}
    ignored = {f for f, p in parsed.items() if not (_is_code(p.sender) and _is_code(p.to))}
    result = Addressing()
    if ignored:
        result.warning = (f"{name}: ignored in {transport.description}: "
                          f"{shown(sorted(ignored))}: named like a 1C message, but its codes "
                          "are not node codes (UUIDs); remove it if nothing of yours needs it")
    if theirs:
        return result  # the base's message is there: a stale name beside it misleads no one
    if near:
        expected = message_stem(base.code, node) + ".xml"
        result.warning = "; ".join(filter(None, [result.warning, N_(
            f"{name}: {shown(sorted(near))} in {transport.description} is named almost like the "
            f"base's message to us, {expected}, but with a space or an invisible character: "
            "it is not read (rename it so, if the base wrote it)")]))
    for file, p in parsed.items():
        if file in ignored:
            continue
        result.wrong = judge(config, name, p.sender, p.to,
                             N_(f"{name}: {file} in {transport.description}"))
        if result.wrong is not None:
            break
    return result


def judge(config: Config, name: str, sender: str, to: str, where: str) -> ConfigError | None:
    """What a message From `sender` To `to`, met where base `name` writes to us, says of the
    config: the one rule for every transport (None: ours, the expected one, or not the
    exchange's at all)."""
    node, peer = config.node.code.lower(), config.bases[name].code.lower()
    others = {b.code.lower(): other for other, b in config.bases.items() if other != name}
    sender, to = sender.lower(), to.lower()
    if sender == node or (sender, to) == (peer, node):
        return None  # ours, or the one the config expects
    if to == node and sender in others:
        return ConfigError(
            f"{where} comes from the {others[sender]} base's code {sender}, and no message "
            f"from {peer} (bases.{name}.code) is there",
            remedy=f"bases.{name}.code and bases.{others[sender]}.code look swapped, or the "
                   "two bases' folders are")
    if to == node:
        return ConfigError(
            f"{where} is from a base with code {sender}, but bases.{name}.code is {peer}",
            remedy=f"set bases.{name}.code to the code of the base that writes there, "
                   f"probably {sender}")
    if sender == peer:
        return ConfigError(
            f"{where} is addressed to node code {to}, but node.code is {node}",
            remedy=f"set node.code to {to}, or enter {node} as the onecsync node's code in "
                   "the base")
    return None


def by_header(config: Config, name: str, transport, header: Header) -> ConfigError | None:
    """For a transport without a folder to list (HTTP: the base exports for the node code we
    give it, under no name of its own), the same rule judged from the message's header: From
    another code is a wrong code in the config, not a bad message (exit 3, not 5)."""
    sender, to = header.sender or "", header.to or config.node.code
    if getattr(transport, "message_names", None) is not None \
            or not _is_code(sender) or not _is_code(to):
        return None  # named files (their names were judged), or no code: the file's fault
    return judge(config, name, sender, to, N_(f"{name}: the message from {transport.description}"))
