"""A list of the config given empty (review R6 M2): where empty would not mean what it says, it
is exit 3 with the remedy, never taken for "all".

`flows.<flow>.organizations: []` (an admin emptied the list, or a template rendered one) was no
filter: every organization's objects went to the CRM, which cannot be undone. `node.formats`
and a flow's `objects` must hold something to mean anything. Lists that add (link paths, a
mapping's `drop`, `set`, OData `entities`) mean what they say empty: nothing is added.
"""

from __future__ import annotations

import pytest

from onecsync.config import ConfigError
from onecsync.config import parse_config
from tests import factory as f
from tests.test_config import minimal

FLOWS = ["pull-catalogs", "pull-settlements", "push-invoices"]


def parsed(tmp_path, data: dict):
    return parse_config(data, tmp_path, tmp_path / "c.yaml")


@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("empty", [[], None])
def test_an_empty_organizations_list_is_refused_not_taken_for_all(tmp_path, flow, empty):
    data = minimal()
    data["flows"] = {flow: {"organizations": empty}}
    with pytest.raises(ConfigError) as exc:
        parsed(tmp_path, data)
    assert f"flows.{flow}.organizations: is empty, which would carry every organization's " \
        "objects: list the ИНН of those the flow carries, or remove the key to carry all " \
        "organizations" in str(exc.value)
    del data["flows"][flow]["organizations"]  # left out: every organization, as documented
    assert parsed(tmp_path, data).flows[flow].organizations == ()


@pytest.mark.parametrize("where, value", [
    (("node", "formats"), None), (("node", "formats"), []),
    (("flows", "pull-catalogs", "objects"), None), (("flows", "push-invoices", "objects"), [])])
def test_a_list_that_must_hold_something_given_empty_names_the_key_to_remove(tmp_path, where, value):
    data = minimal()
    data.setdefault("flows", {"pull-catalogs": {}, "push-invoices": {}})
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    with pytest.raises(ConfigError, match=rf"{'.'.join(where)}: is empty: list the .* or remove "
                                          r"the key for (the|its) defaults"):
        parsed(tmp_path, data)
    del node[where[-1]]
    cfg = parsed(tmp_path, data)
    assert cfg.node.formats and all(fl.objects for fl in cfg.flows.values())


def test_lists_that_add_mean_nothing_added_when_empty(tmp_path):
    data = minimal()
    data["flows"] = {"pull-settlements": {"links": {"Документ.РеализацияТоваровУслуг": []}}}
    data["mapping"] = {"crm": {"Справочник.Номенклатура": {"drop": [], "set": {}}}}
    cfg = parsed(tmp_path, data)
    assert cfg.flows["pull-settlements"].links == parsed(tmp_path, minimal()).flows["pull-settlements"].links
    assert cfg.mapping["crm"]["Справочник.Номенклатура"].drop == ()


def test_a_run_with_an_empty_organizations_list_is_exit_3_in_one_line_and_sends_nothing(sandbox):
    sandbox.config.write_text(sandbox.config.read_text(encoding="utf-8")
                              + "flows:\n  pull-catalogs:\n    organizations: []\n", encoding="utf-8")
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 3, err
    assert err.strip().count("\n") == 0 and "remove the key to carry all organizations" in err, err
    assert "Traceback" not in err
    assert sandbox.outgoing_path("crm") is None and sandbox.dump() == {}
