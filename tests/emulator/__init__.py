"""An emulator of 1C bases that exchange EnterpriseData the way SSL (БСП) does, for tests.

Modules: `spec` (what the bases know of each object type, per version), `store` (objects, public
ids, matching), `xmlio` (objects to and from EnterpriseData elements), `base` (one base: change
registration, numbering, import rules, backups), `folder` (1C's directory transport and its
faults), `data` (realistic data), `crashing` (the real CLI, killed at an I/O boundary), `world`
(two bases and onecsync: the end-to-end harness). See README.md here for what is faithful to 1C
and how to add scenarios.
"""

from __future__ import annotations

from tests.emulator.base import Base
from tests.emulator.base import ExchangeError
from tests.emulator.store import Ref

__all__ = ["Base", "ExchangeError", "Ref"]
