"""stdout and stderr as onecsync writes to them: nothing that happens to them fails the command
writing (a reader gone, a full disk, an I/O error, a descriptor closed at start); what happened
is remembered for the exit code (cli/app.py).

Public API: `STDOUT`, `STDERR` (text streams), `write_bytes(data)`, `flush()`, `reader_gone()`,
`lost()`, `readers_back()`, `fill_closed()`.

A stream whose write failed is never written again: what is left goes to /dev/null, and its
descriptor is pointed there too, so that the buffer Python flushes at exit neither fails again
("Exception ignored", exit 120) nor lands in a file a later write could reach. A stream that was
closed when the process started (`2>&-`, `>&-`: sys.stderr is None) is taken as /dev/null: the
caller chose not to read it, which changes no exit code.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from typing import IO
from typing import Iterator
from typing import cast

_gone: set[str] = set()  # "stdout", "stderr": streams whose reader went away
_lost: dict[str, str] = {}  # streams a write failed on otherwise (ENOSPC, EIO): why, in words
_null: IO[str] | None = None


def _devnull() -> IO[str]:
    global _null
    _null = _null or open(os.devnull, "w", encoding="utf-8")
    return _null


class _Guarded:
    """sys.stdout or sys.stderr (looked up on each use, as a test's capture swaps them), whose
    failures end nothing: `| head`, `| true`, `>> /var/log/x` with /var full, EIO on a terminal
    gone. The command whose work is done finishes; `reader_gone()` and `lost()` tell."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _stream(self):
        return _devnull() if _failed(self._name) else getattr(sys, self._name)

    def write(self, text: str) -> int:
        with _guarding(self._name):
            return self._stream().write(text)
        return len(text)

    def flush(self) -> None:
        with _guarding(self._name):
            self._stream().flush()

    def __getattr__(self, name: str):
        return getattr(self._stream(), name)


def _failed(name: str) -> bool:
    """Closed at start, its reader gone, or a write to it failed: nothing more goes there."""
    return getattr(sys, name) is None or name in _gone or name in _lost


@contextlib.contextmanager
def _guarding(name: str) -> Iterator[None]:
    """Around one write or flush to sys.<name>: its failure remembered, the stream silenced."""
    try:
        yield
    except BrokenPipeError:
        _gone.add(name)
        _silence(name)
    except (OSError, ValueError) as exc:  # ValueError: a file closed under us
        _lost.setdefault(name, _why(exc))
        _silence(name)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno:
        return f"{exc.strerror or os.strerror(exc.errno)} ({errno.errorcode.get(exc.errno, exc.errno)})"
    return str(exc) or type(exc).__name__


def _silence(name: str) -> None:
    """Point the stream's descriptor at /dev/null: its buffer, flushed at exit, goes nowhere."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, getattr(sys, name).fileno())
        finally:
            os.close(null)
    except (OSError, ValueError, AttributeError):
        pass  # not a real descriptor (a test's capture): nothing more will be written to it


# Text files by delegation: __getattr__ hands rich and logging whatever else they ask of the real
# stream (isatty, encoding, fileno), which a base class declaring them would shadow.
STDOUT, STDERR = cast(IO[str], _Guarded("stdout")), cast(IO[str], _Guarded("stderr"))


def write_bytes(data: bytes) -> None:
    """`data` on stdout as it is (a message file), guarded as STDOUT's text is."""
    STDOUT.flush()  # what was written as text goes first
    if _failed("stdout"):
        return
    with _guarding("stdout"):
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def flush() -> None:
    """Both streams flushed, so that whatever fails does so here, remembered, not at exit."""
    STDOUT.flush()
    STDERR.flush()


def reader_gone() -> bool:
    """Did the reader of stdout or stderr go away?"""
    return bool(_gone)


def lost() -> tuple[str, str] | None:
    """The first stream a write failed on (not a reader gone), and why: None when none did."""
    return next(iter(_lost.items()), None)


def readers_back() -> None:
    """A new command (main is called again in-process): no stream has failed yet. A stream whose
    encoding cannot hold Cyrillic (PYTHONIOENCODING=ascii, a latin-1 terminal) writes what it
    cannot as \\uXXXX instead of failing the command: in --json that is still the same JSON."""
    _gone.clear()
    _lost.clear()
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if hasattr(stream, "reconfigure") and getattr(stream, "errors", None) != "backslashreplace":
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(errors="backslashreplace")


def fill_closed() -> None:
    """Descriptors 0-2 closed at start (`2>&-`) opened on /dev/null, as daemons do: else the
    first file the command opens (the lock, a message being written) would get one of them, and
    whatever writes to "stderr" below Python would write into it."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: this one
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
