"""Run the real CLI and kill it (`os._exit(137)`, as `kill -9` would) at a chosen I/O boundary.

Public API: `POINTS`, `main()`, `command(config, point, nth)`, `Crash`.

    ONECSYNC_CRASH_AT=send.committed:2 python -c \
        "from tests.emulator.crashing import main; main()" --config cfg --json run

Nothing in onecsync knows about this: the chosen function is wrapped from outside before
`onecsync.cli.main` runs, and the process dies the N-th time the boundary is reached, with no
clean-up, no flush, no `finally` (the kernel still drops the run lock, as for a real crash). If
the boundary is never reached the run ends normally. A boundary whose function disappears from
onecsync makes the wrapper fail loudly (exit 70) instead of silently testing nothing.
"""

from __future__ import annotations

import os
import sys

EXIT_KILLED = 137


class Crash(BaseException):
    """A crash inside the test process, raised from a patched boundary: a BaseException, so no
    `except Exception` of onecsync's catches it, as none would catch a kill."""

# point -> (what it means, where it is reached)
POINTS = {
    "receive.read": "a base's whole message was read, nothing of it staged yet",
    "receive.staged": "a message was staged, its transaction not yet committed",
    "receive.committed": "a message was staged and committed, nothing routed or sent yet",
    "route.committed": "the routing was committed, nothing sent yet",
    "send.temp_written": "a message was written to the temporary file, state not committed",
    "send.committed": "the state of a send was committed, the file not yet renamed into place",
    "send.renamed": "a message was renamed into place, the run not finished",
}


def command(python: str, config: str, point: str, nth: int = 1) -> tuple[list[str], dict]:
    env = {"ONECSYNC_CRASH_AT": f"{point}:{nth}"}
    return [python, "-c", "from tests.emulator.crashing import main; main()",
            "--config", config, "--json", "run"], env


def _install(point: str, nth: int) -> None:
    from onecsync.flows import exchange
    from onecsync.flows import runner
    from onecsync.state import inbox
    from onecsync.transport import directory

    seen = {"n": 0}

    def reached() -> None:
        seen["n"] += 1
        if seen["n"] == nth:
            sys.stderr.write(f"crashing: killed at {point} ({POINTS[point]})\n")
            sys.stderr.flush()
            os._exit(EXIT_KILLED)

    def wrap(owner, name: str, before: bool = False, consume: bool = False) -> None:
        real = getattr(owner, name)  # AttributeError: the boundary moved; fail, do not skip

        def wrapper(*args, **kwargs):
            if consume:  # Inbox.stage(self, peer, message_no, version, objects)
                args = (*args[:4], list(args[4]))
                reached()
            if before:
                reached()
            result = real(*args, **kwargs)
            if not before and not consume:
                reached()
            return result

        setattr(owner, name, wrapper)

    if point == "receive.read":
        wrap(inbox.Inbox, "stage", consume=True)
    elif point == "receive.staged":
        wrap(inbox.Inbox, "stage")
    elif point == "receive.committed":
        wrap(exchange.Exchange, "receive")
    elif point == "route.committed":
        for flow in list(runner.ROUTERS):  # the routing function of each flow
            wrap(_Item(runner.ROUTERS, flow), "value")
    elif point == "send.temp_written":
        wrap(exchange, "write_message")
    elif point == "send.committed":
        wrap(directory._TempFile, "publish", before=True)
    elif point == "send.renamed":
        wrap(directory._TempFile, "publish")
    else:
        raise SystemExit(f"crashing: unknown point {point!r} (known: {', '.join(POINTS)})")


class _Item:
    """A dict entry seen as an attribute, so that `wrap` can replace it."""

    def __init__(self, mapping: dict, key) -> None:
        self.__dict__["_m"], self.__dict__["_k"] = mapping, key

    def __getattr__(self, name):
        return self._m[self._k]

    def __setattr__(self, name, value) -> None:
        self._m[self._k] = value


def main() -> None:
    spec = os.environ.get("ONECSYNC_CRASH_AT", "")
    point, _, nth = spec.partition(":")
    try:
        _install(point, int(nth or 1))
    except AttributeError as exc:
        sys.stderr.write(f"crashing: the boundary {point} is gone from onecsync: {exc}\n")
        sys.exit(70)
    from onecsync.cli import main as cli_main

    cli_main(sys.argv[1:])


if __name__ == "__main__":
    main()
