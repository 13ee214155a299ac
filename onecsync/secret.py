"""Where a password lives and how it is read: from the environment, or a small file, lazily.

Public API: `Secret`, `expand_variables(text, environ, what)`, `SECRET_FILE_CAP`.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from onecsync.errors import ConfigError
from onecsync.files import read_small

log = logging.getLogger("onecsync")

SECRET_FILE_CAP = 64 * 1024  # a password or a URL; more is a wrong path (a log, /dev/zero)
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def expand_variables(text: str, environ: Mapping[str, str], what: str) -> str:
    """`${CREDENTIALS_DIRECTORY}/x` → its value; an unset variable is a config error, not ''."""
    def value(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name not in environ:
            hint = (" (systemd sets it only inside a service with LoadCredential=)"
                    if name == "CREDENTIALS_DIRECTORY" else "")
            raise ConfigError(f"{what} names ${name}, which is not set{hint}",
                              remedy="set it, or write the path out")
        return environ[name]
    return _VARIABLE.sub(value, text)


@dataclass(frozen=True)
class Secret:
    """Where a password lives; `reveal()` reads it only when it is needed.

    A `file` may start with an environment variable (``${CREDENTIALS_DIRECTORY}/crm``, where
    systemd's LoadCredential= puts credentials); it is expanded when the secret is read, so
    commands that need no secret (status, validate) run outside the service too. `value` is a
    setting that is only half a secret (a healthcheck URL written in the config itself).
    """

    env: str | None = None
    file: Path | None = None
    value: str | None = None

    def reveal(self, environ: Mapping[str, str] | None = None) -> str:
        environ = os.environ if environ is None else environ
        if self.value is not None:
            return self.value
        if self.env is not None:
            if self.env not in environ:
                raise ConfigError(f"environment variable {self.env} is not set",
                                  remedy="export it in the service's environment")
            return _utf8(environ[self.env], f"environment variable {self.env}")
        assert self.file is not None
        path = Path(expand_variables(str(self.file), environ, f"secret file {self.file}"))
        if not path.is_absolute():
            raise ConfigError(f"secret file {self.file} expands to the relative path {path}")
        try:
            data = read_small(path, SECRET_FILE_CAP)
            if path.stat().st_mode & 0o004:
                log.warning("password file %s is readable by every user of this machine "
                            "(chmod o-r it)", path)
        except OSError as exc:
            raise ConfigError(f"cannot read secret file {path}: {exc.strerror}",
                              remedy="name a regular file that holds only the secret") from None
        try:
            text = data.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:  # its bytes are the secret: show none of them
            raise ConfigError(f"secret file {path} is not UTF-8 text",
                              remedy="save it as UTF-8") from None
        return _utf8(text, f"secret file {path}")

    def __repr__(self) -> str:  # never show more than where the secret is
        if self.value is not None:
            return "Secret(value=…)"
        return f"Secret(env={self.env!r})" if self.env else f"Secret(file={str(self.file)!r})"


def _utf8(text: str, what: str) -> str:
    """Every secret passes here: it travels as UTF-8, so one Python holds as undecodable bytes
    (an environment in another encoding: surrogates) is refused now, naming only where it is.
    One leading BOM is no part of it: Notepad's "UTF-8 with BOM" (or `$(cat file)` of such a
    file) would send it, and the base answer 401 to a password that looks right (review R4 #3)."""
    text = text.removeprefix("\ufeff")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"{what} is not UTF-8", remedy="set it as UTF-8 text") from None
    # A secret is one line: FTP sends it inside a command line (ftplib would raise, and a CR LF
    # would end the command early), a header cannot hold one, and a file of two lines is a
    # mistake (the password and a note, or two passwords) that must not be sent half.
    if any(ch in text for ch in "\r\n\0"):
        raise ConfigError(f"{what} holds a line break or a NUL character",
                          remedy="keep only the secret in it, on one line")
    return text
