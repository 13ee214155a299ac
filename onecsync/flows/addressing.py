"""Is a message in a base's folder addressed with codes other than the config's? (run and check)

Public API: `misaddressed(config, name, transport)` → the `ConfigError` to report, or None.

1C names its message `Message_<its code>_<our code>`. When no file has the name the config
expects but one looks like the exchange (one of the two codes is the config's, or it comes from
the other base), a code in the config is wrong, and a run that said "no message" would leave
cron silent while nothing is exchanged. Transports that cannot list a folder are not judged.
"""

from __future__ import annotations

import re

from onecsync.config import Config
from onecsync.errors import ConfigError

_NAME = re.compile(r"^Message_([^_]+)_([^_]+)\.(?:xml|zip)$", re.IGNORECASE)


def misaddressed(config: Config, name: str, transport) -> ConfigError | None:
    listing = getattr(transport, "message_names", None)
    if listing is None:
        return None
    node, peer = config.node.code.lower(), config.bases[name].code.lower()
    others = {b.code.lower(): other for other, b in config.bases.items() if other != name}
    for file in sorted(listing()):
        m = _NAME.match(file)
        if m is None:
            continue
        sender, to = m.group(1).lower(), m.group(2).lower()
        if sender == node or (sender, to) == (peer, node):
            continue  # ours, or the one the config expects
        where = f"{name}: {file} in {transport.description}"
        if to == node and sender in others:
            return ConfigError(
                f"{where} comes from the {others[sender]} base's code {sender}, and no message "
                f"from {peer} (bases.{name}.code) is there",
                remedy=f"bases.{name}.code and bases.{others[sender]}.code look swapped, or the "
                       "two bases' folders are")
        if to == node:
            return ConfigError(
                f"{where} is from a base with code {sender}, but bases.{name}.code is {peer}",
                remedy=f"set bases.{name}.code to the code of the base that writes there "
                       f"({sender}?)")
        if sender == peer:
            return ConfigError(
                f"{where} is addressed to node code {to}, but node.code is {node}",
                remedy=f"set node.code to {to}, or enter {node} as the onecsync node's code in "
                       "the base")
    return None
