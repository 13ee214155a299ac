"""Write a small file whole or not at all (temp file in the same folder, fsync, rename).

Public API: `write_atomically(target, fill, mode, suffix="")`.

For files a person or a 1C base reads at any moment (a config `init` writes, a settings-only
message): nobody may see half of one, and a failure leaves what was there before. Exchange
messages have their own, spooled, path (transport/base.py).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO
from typing import Callable

from onecsync.errors import ConfigError


def write_atomically(target: Path, fill: Callable[[IO[bytes]], None], mode: int,
                     suffix: str = "") -> Path:
    """`fill(f)` writes the content to a binary file; `mode` is the finished file's mode.
    A folder we cannot write to is the setup's problem: ConfigError, the one-line remedy kind."""
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".onecsync-tmp-", suffix=suffix, dir=folder)
    except OSError as exc:
        raise ConfigError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            fill(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from None
        raise
    return target
