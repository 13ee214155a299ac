"""The YAML config, checked whole into frozen dataclasses: every problem reported at once.

Public API (everything importable from `onecsync.config`): `load_config(path, environ)`,
`parse_config(data, base_dir, path)`, `find_config_path`, `config_search`, the dataclasses
(`Config`, `Node`, `Base`, `DirectoryConfig`, `FtpConfig`, `HttpConfig`, `Transport`, `OData`,
`Flow`), the defaults, `NUMBERS`, `Secret`, `ConfigError`; `SYSTEM_ROOT`, the root the
system-wide config lives under ("/" on a real host; a seam for tests).

Where things are: model.py (the dataclasses and defaults), loading.py (finding and reading the
file; yamlsafe.py, the only YAML parser), checks.py (the checks of single values: ranges,
paths, addresses, secrets), sections.py (the top level and each section; bases.py for `bases`
and the transports). Each problem carries its dotted path (``bases.crm.transport.path:
missing``).
"""

from __future__ import annotations

from pathlib import Path

from onecsync.config.checks import NUMBERS
from onecsync.config.checks import Range
from onecsync.config.loading import CONFIG_FILE_CAP
from onecsync.config.loading import CONFIG_NAME
from onecsync.config.loading import _private_group as _private_group  # tests/test_security.py
from onecsync.config.loading import check_config_mode
from onecsync.config.loading import config_search
from onecsync.config.loading import find_config_path
from onecsync.config.loading import load_config
from onecsync.config.loading import parse_text
from onecsync.config.loading import read_data
from onecsync.config.model import DEFAULT_FLOWS
from onecsync.config.model import DEFAULT_FORMATS
from onecsync.config.model import DEFAULT_PLAN
from onecsync.config.model import DEFAULT_RUN_TIMEOUT
from onecsync.config.model import DEFAULT_SETTLE_MINUTES
from onecsync.config.model import PEERS
from onecsync.config.model import TRANSPORT_KINDS
from onecsync.config.model import Base
from onecsync.config.model import Config
from onecsync.config.model import DirectoryConfig
from onecsync.config.model import Flow
from onecsync.config.model import FtpConfig
from onecsync.config.model import HttpConfig
from onecsync.config.model import Node
from onecsync.config.model import OData
from onecsync.config.model import Transport
from onecsync.config.model import exchange_folders
from onecsync.config.sections import parse_config
from onecsync.errors import ConfigError
from onecsync.secret import Secret

SYSTEM_ROOT = Path("/")

__all__ = [
    "CONFIG_FILE_CAP", "CONFIG_NAME", "DEFAULT_FLOWS", "DEFAULT_FORMATS",
    "DEFAULT_PLAN", "DEFAULT_RUN_TIMEOUT", "DEFAULT_SETTLE_MINUTES", "NUMBERS", "PEERS",
    "SYSTEM_ROOT", "TRANSPORT_KINDS", "Base", "Config", "ConfigError", "DirectoryConfig", "Flow",
    "FtpConfig", "HttpConfig", "Node", "OData", "Range", "Secret", "Transport",
    "check_config_mode", "config_search", "exchange_folders", "find_config_path", "load_config",
    "parse_config", "parse_text", "read_data",
]
