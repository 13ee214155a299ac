"""The local working folder of a remote transport: downloads, uploads being made, receipts.

Public API: `Spool(folder, dry_run)`.

A remote transport keeps here, per base: the base's last message as it was downloaded (so that
a rejected message can be looked at; it is replaced by the next download), our message while it
is written and uploaded, and the *receipt*: the fingerprint of our last message that the base
verifiably got. The receipt is what `in_place()` answers from, since nothing on the remote side
says "this exact file was delivered". It is written only after a successful delivery, so a
crash at any point leaves, at worst, a delivered message without its receipt: the next run sends
again, which the numbering makes harmless.

A dry run reads the real receipt but works in a private temporary folder, so it writes nothing
next to the state.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from onecsync.errors import ConfigError
from onecsync.errors import TemporaryError
from onecsync.files import TEMP_PREFIX
from onecsync.files import create_new
from onecsync.files import is_ours
from onecsync.files import replace_with

RECEIPT = "delivered.json"


class Spool:
    def __init__(self, folder: Path | None, dry_run: bool = False) -> None:
        self.receipts = folder
        self._scratch: tempfile.TemporaryDirectory | None = None
        if dry_run or folder is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="onecsync-spool-")
            self.folder = Path(self._scratch.name)
        else:
            self.folder = folder

    def ready(self) -> Path:
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(f"cannot create the transfer folder {self.folder}: "
                              f"{exc.strerror or exc}") from None
        return self.folder

    def path(self, name: str) -> Path:
        return self.ready() / name

    def temp(self, name: str) -> tuple[BinaryIO, Path]:
        """A new, empty file of ours (files.create_new), open for a download to fill: the
        descriptor create_new made, never the name opened again (it could be a link by then)."""
        fd, path = create_new(self.ready(), ".tmp-", "-" + name)
        return os.fdopen(fd, "wb"), path

    def clear_temps(self) -> None:
        """Leftovers of a killed run (we hold the run lock, so none is in use): only regular
        files of ours, never through a link."""
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return
        for entry in entries:
            if not entry.name.startswith((".tmp-", TEMP_PREFIX)):
                continue
            try:
                if is_ours(entry.stat(follow_symlinks=False)):
                    os.unlink(entry.path)
            except OSError:
                pass

    def receipt(self) -> dict | None:
        if self.receipts is None:
            return None
        try:
            data = json.loads((self.receipts / RECEIPT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # no receipt, or a torn one: "not delivered", so we send again
        return data if isinstance(data, dict) else None

    def write_receipt(self, data: dict) -> None:
        if self.receipts is None or self._scratch is not None:
            return
        target = self.receipts / RECEIPT
        try:
            self.ready()
            replace_with(target, lambda f: f.write(json.dumps(data).encode("utf-8")), 0o600)
        except OSError as exc:
            # The message did reach the base; without the receipt the next run sends again.
            raise TemporaryError(f"cannot record the delivery in {target}: "
                                 f"{exc.strerror or exc}") from None
