"""contrib/zabbix: the template is a Zabbix 6.0 export (the keys its importer requires, only
keys it knows, valid UUIDs, references that resolve), and its items, computed from a real
`status --json` by the template's own preprocessing steps, say what status says."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import uuid

import pytest
import yaml

from tests import factory as f
from tests.test_units import REPO

ZABBIX = REPO / "contrib" / "zabbix"
EXPORT = yaml.safe_load((ZABBIX / "template_onecsync.yaml").read_text(encoding="utf-8"))
USERPARAMETER = (ZABBIX / "userparameter_onecsync.conf").read_text(encoding="utf-8")

# The 6.0 import format (ui/include/classes/import/validators/C60XmlValidator.php): per element,
# the keys it requires and the keys it knows. Anything else makes the import fail.
ELEMENTS = {
    "export": ({"version"}, {"version", "date", "groups", "templates"}),
    "group": ({"uuid", "name"}, {"uuid", "name"}),
    "template": ({"uuid", "template", "groups"},
                 {"uuid", "template", "name", "description", "groups", "items", "discovery_rules",
                  "tags", "macros", "templates", "dashboards", "valuemaps", "httptests"}),
    "item": ({"uuid", "name", "key"},
             {"uuid", "name", "type", "key", "delay", "history", "trends", "value_type", "units",
              "description", "preprocessing", "master_item", "tags", "triggers", "status",
              "valuemap", "timeout", "url", "params"}),
    "prototype": ({"uuid", "name", "key"},
                  {"uuid", "name", "type", "key", "delay", "history", "trends", "value_type",
                   "units", "description", "preprocessing", "master_item", "tags",
                   "trigger_prototypes", "status", "valuemap"}),
    "trigger": ({"uuid", "expression", "name"},
                {"uuid", "expression", "name", "priority", "description", "tags", "opdata",
                 "recovery_mode", "recovery_expression", "manual_close", "status",
                 "dependencies", "event_name", "url"}),
    "rule": ({"uuid", "name", "key"},
             {"uuid", "name", "type", "key", "delay", "lifetime", "description", "item_prototypes",
              "trigger_prototypes", "master_item", "preprocessing", "filter", "lld_macro_paths",
              "status"}),
    "macro": ({"macro"}, {"macro", "value", "description", "type"}),
    "tag": ({"tag"}, {"tag", "value"}),
    "step": ({"type", "parameters"}, {"type", "parameters", "error_handler",
                                      "error_handler_params"}),
}
ENUMS = {
    "type": {"ZABBIX_PASSIVE", "TRAP", "SIMPLE", "INTERNAL", "ZABBIX_ACTIVE", "EXTERNAL", "ODBC",
             "IPMI", "SSH", "TELNET", "CALCULATED", "JMX", "SNMP_TRAP", "DEPENDENT", "HTTP_AGENT",
             "SNMP_AGENT", "SCRIPT"},
    "value_type": {"FLOAT", "CHAR", "LOG", "UNSIGNED", "TEXT"},
    "priority": {"NOT_CLASSIFIED", "INFO", "WARNING", "AVERAGE", "HIGH", "DISASTER"},
    "step": {"JSONPATH", "JAVASCRIPT", "MULTIPLIER", "RTRIM", "LTRIM", "TRIM", "REGEX",
             "DISCARD_UNCHANGED", "DISCARD_UNCHANGED_HEARTBEAT", "CHECK_JSON_ERROR",
             "CHECK_NOT_SUPPORTED"},
    "error_handler": {"ORIGINAL_ERROR", "DISCARD_VALUE", "CUSTOM_VALUE", "CUSTOM_ERROR"},
}

TEMPLATE = EXPORT["zabbix_export"]["templates"][0]
ITEMS = TEMPLATE["items"]
[RULE] = TEMPLATE["discovery_rules"]
PROTOTYPES = RULE["item_prototypes"]


def check(element: str, node: dict, where: str) -> None:
    required, known = ELEMENTS[element]
    assert isinstance(node, dict), where
    assert required <= node.keys(), f"{where}: missing {required - node.keys()}"
    assert node.keys() <= known, f"{where}: unknown {node.keys() - known}"
    for tag in node.get("tags", []):
        check("tag", tag, f"{where}.tags")
    for step in node.get("preprocessing", []):
        check("step", step, f"{where}.preprocessing")
        assert step["type"] in ENUMS["step"], where
        assert step.get("error_handler", "ORIGINAL_ERROR") in ENUMS["error_handler"], where
    for key in ("type", "value_type", "priority"):
        if key in node and element != "step":
            assert node[key] in ENUMS[key], f"{where}.{key}: {node[key]}"
    if node.get("type") == "DEPENDENT":
        assert node.get("delay") == "0" and node["master_item"]["key"], where


def every_uuid(node) -> list[str]:
    if isinstance(node, dict):
        return ([node["uuid"]] if "uuid" in node else []) + \
            [u for v in node.values() for u in every_uuid(v)]
    if isinstance(node, list):
        return [u for v in node for u in every_uuid(v)]
    return []


def test_it_is_a_6_0_export_with_every_required_key_and_no_unknown_one():
    export = EXPORT["zabbix_export"]
    check("export", export, "zabbix_export")
    assert export["version"] == "6.0"  # 6.2+ import converts a 6.0 export; 5.x cannot read it
    groups = {g["name"] for g in export["groups"]}
    for g in export["groups"]:
        check("group", g, "groups")
    check("template", TEMPLATE, "template")
    assert {g["name"] for g in TEMPLATE["groups"]} <= groups
    for item in ITEMS:
        check("item", item, f"item {item['key']}")
        for t in item.get("triggers", []):
            check("trigger", t, f"trigger {t['name']}")
    check("rule", RULE, "discovery rule")
    for proto in PROTOTYPES:
        check("prototype", proto, f"prototype {proto['key']}")
        assert "{#BASE}" in proto["key"]
        for t in proto.get("trigger_prototypes", []):
            check("trigger", t, f"trigger prototype {t['name']}")
    for macro in TEMPLATE["macros"]:
        check("macro", macro, "macro")
    uuids = every_uuid(EXPORT)
    assert len(uuids) == len(set(uuids))
    for u in uuids:  # the importer wants a version 4 UUID as 32 lowercase hex digits
        assert re.fullmatch(r"[0-9a-f]{32}", u) and uuid.UUID(u).version == 4, u


def triggers() -> list[tuple[dict, bool]]:
    out = [(t, False) for i in ITEMS for t in i.get("triggers", [])]
    return out + [(t, True) for p in PROTOTYPES for t in p.get("trigger_prototypes", [])]


def test_every_reference_resolves():
    keys = {i["key"] for i in ITEMS}
    proto_keys = {p["key"] for p in PROTOTYPES}
    for node in ITEMS + PROTOTYPES + [RULE]:
        if node.get("type") == "DEPENDENT":
            assert node["master_item"]["key"] in keys, node["key"]
    for trigger, prototype in triggers():
        refs = re.findall(r"\(/([^/]+)/([^,)]+)", trigger["expression"])
        assert refs, trigger["expression"]
        for host, key in refs:
            assert host == TEMPLATE["template"]
            assert key in (keys | proto_keys if prototype else keys), trigger["expression"]
        if prototype:
            assert any(k in proto_keys for _, k in refs), "a prototype needs one prototype item"
    defined = {m["macro"] for m in TEMPLATE["macros"]}
    used = set(re.findall(r"\{\$[A-Z0-9_.]+\}", json.dumps(EXPORT)))
    assert used <= defined, used - defined


def test_the_alerts_an_admin_starts_with_are_there():
    expressions = {t["expression"] for t, _ in triggers()}
    for code in (3, 5, 6):
        assert f"last(/onecsync/onecsync.run.exit_code)={code}" in expressions
    assert "last(/onecsync/onecsync.run.age)>{$ONECSYNC.NORUN.MAX}" in expressions
    assert "last(/onecsync/onecsync.base.stuck[{#BASE}])>0" in expressions
    assert "last(/onecsync/onecsync.base.parked[{#BASE}])>0" in expressions
    norun = next(m for m in TEMPLATE["macros"] if m["macro"] == "{$ONECSYNC.NORUN.MAX}")
    assert norun["value"] == "900"  # 15 minutes


def test_the_userparameter_is_the_key_the_template_asks_for_and_sudo_allows():
    [line] = [x for x in USERPARAMETER.splitlines() if x.startswith("UserParameter=")]
    key, command = line.removeprefix("UserParameter=").split(",", 1)
    assert key == "onecsync.status[*]"
    master = {i["key"] for i in ITEMS if i.get("type", "ZABBIX_PASSIVE") == "ZABBIX_PASSIVE"}
    assert master == {"onecsync.status[{$ONECSYNC.PAIR}]"}
    argv = shlex.split(command)
    assert argv[:4] == ["sudo", "-n", "-u", "onecsync"]
    sudoers = re.search(r"zabbix ALL=\(onecsync\) NOPASSWD: (.+)", USERPARAMETER).group(1)
    assert " ".join(argv[4:]).replace("$1", "*") == sudoers.strip()


# --- the items, computed as Zabbix would from a real status --------------------------------

def jsonpath(path: str, data):
    """The JSONPath subset the template uses: $.name, ['name'], [index]."""
    assert path.startswith("$")
    for name, quoted, index in re.findall(r"\.(\w+)|\['([^']+)'\]|\[(\d+)\]", path[1:]):
        data = data[int(index)] if index else data[name or quoted]
    return data


def javascript(calls: list[tuple[str, str]]) -> list:
    """Run each (script, value) as Zabbix runs a JavaScript step (the script is the body of a
    function of `value`), all in one node process; a throw comes back as a ValueError."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the JavaScript steps cannot be run")
    program = ("const calls = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
               "process.stdout.write(JSON.stringify(calls.map(([script, value]) => {\n"
               "  try { return {ok: new Function('value', script)(value)}; }\n"
               "  catch (e) { return {error: String(e)}; }\n"
               "})));")
    done = subprocess.run([node, "-e", program], input=json.dumps(calls), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [ValueError(r["error"]) if "error" in r else r["ok"] for r in json.loads(done.stdout)]


def preprocess(nodes: list[tuple[dict, str | None]], value: str) -> list:
    """Each (item, {#BASE}) through its preprocessing, from the master item's `value`; None
    where a step fails and its error handler discards the value."""
    steps = []
    for node, base in nodes:
        [step] = node["preprocessing"]  # the template's items take one step each
        steps.append((step, step["parameters"][0].replace("{#BASE}", base or "{#BASE}")))
    scripts = [(p, value) for step, p in steps if step["type"] == "JAVASCRIPT"]
    results = iter(javascript(scripts) if scripts else [])
    out = []
    for step, parameter in steps:
        try:
            if step["type"] == "JSONPATH":
                got = jsonpath(parameter, json.loads(value))
            else:
                got = next(results)
                if isinstance(got, ValueError):
                    raise got
        except (KeyError, IndexError, ValueError):
            if step.get("error_handler") != "DISCARD_VALUE":
                raise
            got = None
        out.append(got)
    return out


@pytest.fixture
def status(sandbox):
    sandbox.put("accounting", f.Msg(objects=[
        f.counterparty(f.ref(1), "ООО Ромашка"),
        "<Справочник.Валюты><НаименованиеПолное>Рубль</НаименованиеПолное></Справочник.Валюты>"]))
    assert sandbox.run("run")[0] == 7
    [line] = [x for x in USERPARAMETER.splitlines() if x.startswith("UserParameter=")]
    argv = shlex.split(line.split(",", 1)[1])[4:]  # as the agent runs it, after sudo
    argv[argv.index("--config") + 1] = str(sandbox.config)
    sandbox.capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        from onecsync.cli import main
        main(argv[1:])
    assert exc.value.code == 0
    return sandbox.capsys.readouterr().out


def test_the_items_say_what_status_says(status):
    data = json.loads(status)
    by_key = {i["key"]: i for i in ITEMS}
    run_keys = ("onecsync.run.exit_code", "onecsync.run.state", "onecsync.run.age")
    [bases_json, code, state, age] = preprocess(
        [(RULE, None)] + [(by_key[k], None) for k in run_keys], status)
    assert (code, state) == (7, "ended") and 0 <= age < 60
    bases = json.loads(bases_json)
    assert bases == [{"{#BASE}": "accounting"}, {"{#BASE}": "crm"}]
    for row in bases:
        base = row["{#BASE}"]
        peer = data["peers"][base]
        values = preprocess([(p, base) for p in PROTOTYPES], status)
        got = {p["key"].split("[")[0].removeprefix("onecsync.base."): v
               for p, v in zip(PROTOTYPES, values, strict=True)}
        assert got["sent_no"] == peer["sent_no"] and got["received_no"] == peer["received_no"]
        assert got["confirmed_no"] == peer["confirmed_no"]
        assert got["unconfirmed"] == peer["unconfirmed"]["count"]
        assert got["stuck"] == 0 and got["parked"] == peer["parked"]["total"]
        for age in ("oldest_unconfirmed", "received_age", "sent_age"):
            assert 0 <= got[age] < 60, (base, age, got[age])
    assert data["peers"]["accounting"]["parked"]["total"] == 1  # the trigger would fire
    assert data["peers"]["crm"]["unconfirmed"]["count"] == 1
    assert data["peers"]["crm"]["last_received_at"] is None and got["received_age"] == 0  # never


def test_before_any_run_the_run_items_are_discarded_not_wrong(sandbox):
    _, report, _ = sandbox.run("status", "--runs", "5")
    by_key = {i["key"]: i for i in ITEMS}
    keys = ("onecsync.run.exit_code", "onecsync.run.age", "onecsync.run.state")
    assert preprocess([(by_key[k], None) for k in keys], json.dumps(report)) == [None] * 3
