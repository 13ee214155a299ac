"""Config loading: defaults, relative paths, every problem at once, secrets only by reference."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from onecsync.config import DEFAULT_FLOWS
from onecsync.config import ConfigError
from onecsync.config import Secret
from onecsync.config import load_config
from onecsync.config import parse_config
from tests import factory as f

EXAMPLE = f.REPO / "config.example.yaml"


def minimal() -> dict:
    return {"node": {"code": f.NODE},
            "bases": {"accounting": {"code": f.ACCOUNTING,
                                     "transport": {"kind": "directory", "path": "in/acc"}},
                      "crm": {"code": f.CRM,
                              "transport": {"kind": "directory", "path": "/srv/crm"}}}}


def test_the_example_config_is_complete_and_valid():
    cfg = load_config(EXAMPLE)
    assert cfg.node.code == f.NODE
    assert cfg.bases["accounting"].transport.path == f.REPO / "fixtures/exchange/accounting"
    assert cfg.state == f.REPO / "onecsync-state.sqlite"
    assert {k: v.objects for k, v in cfg.flows.items()} == DEFAULT_FLOWS


def test_defaults_and_relative_paths(tmp_path):
    cfg = parse_config(minimal(), tmp_path, tmp_path / "c.yaml")
    assert cfg.node.exchange_plan == "СинхронизацияДанныхЧерезУниверсальныйФормат"
    assert cfg.node.formats == ("1.8", "1.10", "1.11", "1.12", "1.15", "1.16", "1.17")
    assert cfg.bases["accounting"].transport.path == tmp_path / "in/acc"
    assert cfg.bases["crm"].transport.path == Path("/srv/crm")
    assert cfg.state == tmp_path / "onecsync-state.sqlite"
    assert cfg.flows["pull-catalogs"].objects == DEFAULT_FLOWS["pull-catalogs"]


def test_formats_are_checked_and_sorted(tmp_path):
    data = minimal()
    data["node"]["formats"] = ["1.17", "1.8", "2.0"]
    with pytest.raises(ConfigError) as exc:
        parse_config(data, tmp_path, tmp_path / "c.yaml")
    assert exc.value.problems == ["node.formats[2]: '2.0' is not a supported EnterpriseData "
                                  "version (1.8, 1.10, 1.11, 1.12, 1.15, 1.16, 1.17, 1.18, "
                                  "1.19, 1.20, 1.21)"]
    data["node"]["formats"] = ["1.17", "1.8"]
    assert parse_config(data, tmp_path, tmp_path / "c.yaml").node.formats == ("1.8", "1.17")


def test_every_problem_is_reported_with_its_path(tmp_path):
    data = minimal()
    data["bases"]["crm"]["transport"] = {"kind": "directory", "compress": "yes", "pth": "x"}
    data["bases"]["accounting"]["code"] = data["node"]["code"]
    data["flows"] = {"pull-catalogs": {"objects": ["Контрагенты"]}, "push-orders": {}}
    with pytest.raises(ConfigError) as exc:
        parse_config(data, tmp_path, tmp_path / "c.yaml")
    assert sorted(exc.value.problems) == sorted([
        "bases.crm.transport.pth: unknown key (did you mean path?)",
        "bases.crm.transport.path: missing",
        "bases.crm.transport.compress: must be true or false",
        "flows.push-orders: unknown key",
        "flows.pull-catalogs.objects[0]: 'Контрагенты' is not an object type like "
        "Справочник.Контрагенты",
    ])


def test_same_codes_are_refused(tmp_path):
    data = minimal()
    data["bases"]["crm"]["code"] = f.ACCOUNTING
    with pytest.raises(ConfigError) as exc:
        parse_config(data, tmp_path, tmp_path / "c.yaml")
    assert exc.value.problems == ["bases: node.code and the bases' codes must all differ"]


def test_codes_are_compared_case_insensitively(tmp_path):
    data = minimal()
    data["node"]["code"] = f.NODE.upper()
    assert parse_config(data, tmp_path, tmp_path / "c.yaml").node.code == f.NODE


def test_secrets_come_from_env_or_file_and_never_show(tmp_path):
    (tmp_path / "pw").write_text("s3cret\n")
    assert Secret(env="PW").reveal({"PW": "from-env"}) == "from-env"
    assert Secret(file=tmp_path / "pw").reveal({}) == "s3cret"
    assert "s3cret" not in repr(Secret(file=tmp_path / "pw"))
    with pytest.raises(ConfigError, match="PW is not set"):
        Secret(env="PW").reveal({})


def test_yaml_round_trip_of_the_example_keeps_every_key():
    raw = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert set(raw) == {"node", "state", "run_timeout", "bases", "flows"}
    assert set(raw["bases"]) == {"accounting", "crm"}


@pytest.mark.parametrize("value, expected", [(None, 3600.0), (0, 0.0), (90, 90.0), (2.5, 2.5)])
def test_run_timeout_defaults_to_an_hour_and_zero_means_no_ceiling(tmp_path, value, expected):
    data = minimal()
    if value is not None:
        data["run_timeout"] = value
    assert parse_config(data, tmp_path, tmp_path / "c.yaml").run_timeout == expected


@pytest.mark.parametrize("value", [-1, "1h", True, 10 ** 9, float("inf"), float("nan")])
def test_run_timeout_must_be_seconds(tmp_path, value):
    data = {**minimal(), "run_timeout": value}
    with pytest.raises(ConfigError) as exc:
        parse_config(data, tmp_path, tmp_path / "c.yaml")
    assert exc.value.problems == ["run_timeout: must be a finite number from 0 to 604800 "
                                  "(seconds; 0: no ceiling)"]
