"""A real HTTP server on 127.0.0.1: 1C's standard OData interface over one emulated base's store.

Public API: `ODataService(base, model="bp" | "crm", user=..., password=...)` (a context manager;
`.url` is the `…/odata/standard.odata` root, `.requests` what it was asked), `BP_SETS`, `CRM_SETS`,
`EMPTY`, `USER`, `PASSWORD` (Cyrillic, as 1C users are), `expose(world)` (both bases of a
`World` served, and onecsync's config pointed at them).

What it serves, read-only, as docs/odata.md §1 describes 1C 8.3: the entity sets of the base's
documents under БП 3.0 names (`model="bp"`) or the CRM's on the УТ object model (`"crm"`), rows
shaped like shared/reference/odata/ (`Ref_Key` = the Ссылка our node knows the object by,
`Number`, `Date`, `Posted`, `DeletionMark`, `DataVersion`, references as `<Name>_Key` GUIDs with
the empty GUID for none, composites as `<Name>` + `<Name>_Type`, `LineNumber` as a string, sums
as JSON numbers), tabular sections inline and as `<Set>_<Table>` sets; `$filter` (`eq`/`ne` on
guid/string/boolean literals, `and`, `or`, parentheses; a guid compared with a composite matches
nothing, as in 1C), `$select` (`*`, `**` = headers only), `$orderby` (`asc`/`desc`), `$top`,
`$skip`, `$inlinecount=allpages` (which makes 1C ignore `$top`/`$skip`), `/$count` (with a BOM,
as seen from real servers), one entity by `Set(guid'…')`, the service document and a small
`$metadata`. Basic auth; errors as `{"odata.error": {"code": "<string>", "message": {...}}}`.
A '+' in the query string is a 400, as 1C reads it literally.

Known differences: JSON only (1C's default, Atom, is refused with code 3); a property name
1C does not know is always an error here (1C sometimes answers an empty result instead);
catalogs are not served.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import zlib
from decimal import Decimal
from urllib.parse import unquote
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

from tests.emulator.store import Obj
from tests.emulator.store import Ref
from tests.local_http import LocalServer
from tests.local_http import QuietHandler
from tests.local_http import basic_credentials

EMPTY = "00000000-0000-0000-0000-000000000000"
# A 1C user and password as they usually are: Cyrillic (they travel as UTF-8 Basic auth).
USER, PASSWORD = "Администратор", "пароль-odata"
ROOT = "/odata/standard.odata"
ORDER, INVOICE = "Документ.ЗаказКлиента", "Документ.СчетПокупателю"
SALE, RETURN = "Документ.РеализацияТоваровУслуг", "Документ.ВозвратТоваровОтПокупателя"
BANK, CASH = "Документ.ПБДСРасчетыСКонтрагентами", "Документ.ПКОРасчетыСКонтрагентами"

# Entity set -> the emulator types it holds (БП 3.0: the CRM's orders and invoices both become
# a СчетНаОплатуПокупателю; the CRM on the УТ model keeps them apart).
BP_SETS = {
    "Document_СчетНаОплатуПокупателю": (ORDER, INVOICE),
    "Document_РеализацияТоваровУслуг": (SALE,),
    "Document_ВозвратТоваровОтПокупателя": (RETURN,),
    "Document_ПоступлениеНаРасчетныйСчет": (BANK,),
    "Document_ПриходныйКассовыйОрдер": (CASH,),
}
CRM_SETS = {
    "Document_ЗаказКлиента": (ORDER,),
    "Document_СчетНаОплатуКлиенту": (INVOICE,),
    "Document_РеализацияТоваровУслуг": (SALE,),
    "Document_ВозвратТоваровОтКлиента": (RETURN,),
    "Document_ПоступлениеБезналичныхДенежныхСредств": (BANK,),
    "Document_ПриходныйКассовыйОрдер": (CASH,),
}
_HEADER = ("Ref_Key", "DataVersion", "DeletionMark", "Number", "Date", "Posted",
           "Организация_Key", "ВалютаДокумента_Key", "СуммаДокумента", "Комментарий")
_TYPES = {"DeletionMark": "Edm.Boolean", "Posted": "Edm.Boolean", "Date": "Edm.DateTime",
          "LineNumber": "Edm.Int64", "СуммаДокумента": "Edm.Double", "СуммаПлатежа": "Edm.Double",
          "Сумма": "Edm.Double"}


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _number(text) -> int | float:
    value = Decimal(str(text or "0"))
    return int(value) if value == value.to_integral_value() else float(value)


# -- rows ------------------------------------------------------------------------------------
class _View:
    """The rows of one base's entity sets, built from its store at each request."""

    def __init__(self, base, model: str) -> None:
        self.base = base
        self.model = model
        self.sets = BP_SETS if model == "bp" else CRM_SETS

    def key(self, value) -> str:
        return self.base.store.public_id(value).lower() if isinstance(value, Ref) else EMPTY

    def composite(self, name: str, value) -> dict:
        if not isinstance(value, Ref):
            return {name: "", f"{name}_Type": "StandardODATA.Undefined"}
        if value.type.startswith("Справочник."):
            target = "Catalog_" + value.type.split(".", 1)[1]
        else:
            target = next((s for s, types in self.sets.items() if value.type in types), "Undefined")
        return {name: self.key(value), f"{name}_Type": f"StandardODATA.{target}"}

    def header(self, obj: Obj) -> dict:
        f, common = obj.fields, obj.fields.get("ОбщиеДанные", {})
        stamp = zlib.crc32(repr((f, obj.deletion_mark, _posted(obj))).encode()).to_bytes(8, "big")
        row = {"Ref_Key": self.key(obj.ref), "DataVersion": base64.b64encode(stamp).decode(),
               "DeletionMark": obj.deletion_mark, "Number": f.get("Номер", ""),
               "Date": f.get("Дата", "0001-01-01T00:00:00"), "Posted": _posted(obj),
               "Организация_Key": self.key(f.get("Организация")),
               "ВалютаДокумента_Key": self.key(f.get("Валюта") or common.get("Валюта")),
               "СуммаДокумента": _number(f.get("Сумма") or common.get("Сумма")),
               "Комментарий": f.get("Комментарий", "")}
        if obj.type in (BANK, CASH) and self.model == "bp":
            row.update(self.composite("Контрагент", f.get("Контрагент")))  # composite in БП
        else:
            row["Контрагент_Key"] = self.key(f.get("Контрагент"))
        row["ДоговорКонтрагента_Key"] = self.key(f.get("ДанныеВзаиморасчетов", {}).get("Договор"))
        if obj.type == SALE:
            invoice = f.get("СчетПокупателю") or f.get("Заказ")
            if self.model == "bp":
                row["СчетНаОплатуПокупателю_Key"] = self.key(invoice)
            else:
                row.update(self.composite("ЗаказКлиента", invoice))
        elif obj.type == RETURN:
            name = "Сделка" if self.model == "bp" else "ДокументРеализации"
            row.update(self.composite(name, f.get("ДокументРеализации")))
        for table, rows in self.tables(obj).items():
            row[table] = rows
        return row

    def tables(self, obj: Obj) -> dict[str, list[dict]]:
        if obj.type not in (BANK, CASH):
            return {}
        out = []
        for n, r in enumerate(obj.fields.get("РасшифровкаПлатежа", []), 1):
            line = {"Ref_Key": self.key(obj.ref), "LineNumber": str(n),
                    "ДоговорКонтрагента_Key": self.key(r.get("ДанныеВзаиморасчетов", {})
                                                       .get("Договор")),
                    "СпособПогашенияЗадолженности": r.get("СпособПогашенияЗадолженности", "")}
            if self.model == "bp":
                line.update(self.composite("Сделка", r.get("ДокументРасчетов")))
                line["СуммаПлатежа"] = _number(r.get("Сумма"))
                line["СчетНаОплату_Key"] = self.key(r.get("Заказ"))
            else:
                line.update(self.composite("Заказ", r.get("Заказ")))
                line.update(self.composite("ОснованиеПлатежа", r.get("ДокументРасчетов")))
                line["Сумма"] = _number(r.get("Сумма"))
            out.append(line)
        return {"РасшифровкаПлатежа": out}

    def properties(self, entity: str) -> tuple[str, ...]:
        """The properties of a set, whatever the store holds (an empty set has them too)."""
        owner, _, table = entity.partition("_РасшифровкаПлатежа")
        types = self.sets[owner]
        sample = _sample(types[0])
        if table == "" and entity != owner:
            return tuple(self.tables(sample)["РасшифровкаПлатежа"][0])
        return tuple(self.header(sample))

    def rows(self, entity: str) -> list[dict]:
        owner = entity.removesuffix("_РасшифровкаПлатежа")
        objs = [o for o in self.base.objects() if o.type in self.sets.get(owner, ())]
        if owner == entity:
            return [self.header(o) for o in objs]
        return [line for o in objs for line in self.tables(o)["РасшифровкаПлатежа"]]

    def entity_sets(self) -> list[str]:
        out = []
        for name, types in self.sets.items():
            out.append(name)
            if types[0] in (BANK, CASH):
                out.append(f"{name}_РасшифровкаПлатежа")
        return out


def _posted(obj: Obj) -> bool:
    return obj.posted


def _sample(type_name: str) -> Obj:
    fields = {"РасшифровкаПлатежа": [{}]} if type_name in (BANK, CASH) else {}
    return Obj(Ref(type_name, EMPTY), fields)


# -- $filter ---------------------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(?:(\()|(\))|guid'([0-9A-Fa-f-]{36})'|'((?:[^']|'')*)'|(true|false)\b"
                    r"|(eq|ne|and|or)\b|([A-Za-zА-Яа-яЁё_][\wЁё]*))")


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text.rstrip()):
        m = _TOKEN.match(text, pos)
        if not m:
            raise _Refused(400, "14", f"Ошибка разбора параметра запроса $filter: {text[pos:pos + 30]!r}")
        kinds = ("(", ")", "guid", "str", "bool", "op", "name")
        kind = next(k for k, g in zip(kinds, m.groups(), strict=True) if g is not None)
        value = next(g for g in m.groups() if g is not None)
        out.append((kind, value.replace("''", "'") if kind == "str" else value))
        pos = m.end()
    return out


class _Filter:
    """expr := and ('or' and)*; and := atom ('and' atom)*; atom := '(' expr ')' | Name op literal."""

    def __init__(self, text: str, props: tuple[str, ...]) -> None:
        self.toks, self.i, self.props = _tokens(text), 0, props
        self.test = self.expr()
        if self.i != len(self.toks):
            raise _Refused(400, "14", f"Ошибка разбора параметра запроса $filter: {text!r}")

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str | None = None, value: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (kind and tok[0] != kind) or (value and tok[1] != value):
            raise _Refused(400, "14", f"Ошибка разбора параметра запроса $filter near {tok!r}")
        self.i += 1
        return tok[1]

    def expr(self):
        parts = [self.conj()]
        while self.peek() == ("op", "or"):
            self.take()
            parts.append(self.conj())
        return lambda row: any(p(row) for p in parts)

    def conj(self):
        parts = [self.atom()]
        while self.peek() == ("op", "and"):
            self.take()
            parts.append(self.atom())
        return lambda row: all(p(row) for p in parts)

    def atom(self):
        if self.peek() == ("(", "("):
            self.take()
            inner = self.expr()
            self.take(")")
            return inner
        name = self.take("name")
        if name not in self.props:
            raise _Refused(400, "10", f"Не найдено свойство {name}")
        op = self.take("op")
        if op not in ("eq", "ne"):
            raise _Refused(400, "14", f"Ошибка разбора параметра запроса $filter: {op}")
        kind, literal = self.toks[self.i] if self.i < len(self.toks) else ("", "")
        if kind not in ("guid", "str", "bool"):
            raise _Refused(400, "14", "Ошибка разбора параметра запроса $filter: a literal expected")
        self.i += 1
        composite = f"{name}_Type" in self.props

        def same(row) -> bool:
            if kind == "guid":  # 1C: a plain guid never equals a composite (cast() is needed)
                return not composite and str(row.get(name, "")).lower() == literal.lower()
            if kind == "bool":
                return row.get(name) is (literal == "true")
            return str(row.get(name, "")) == literal
        return same if op == "eq" else (lambda row: not same(row))


# -- the server ------------------------------------------------------------------------------
_OPTIONS = ("$format", "$select", "$filter", "$orderby", "$top", "$skip", "$inlinecount",
            "allowedOnly", "$allowedOnly")


class _Handler(QuietHandler):
    service: ODataService  # set on the subclass made per server

    def _json(self, value, status: int = 200) -> None:
        self._send(status, json.dumps(value, ensure_ascii=False).encode(),
                   "application/json;odata=minimalmetadata;charset=utf-8")

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        svc = self.service
        if basic_credentials(self.headers.get("Authorization")) != svc.credentials:
            self._send(401, "Необходима авторизация".encode(), "text/plain; charset=utf-8",
                       {"WWW-Authenticate": 'Basic realm="1C"'})
            return
        parts = urlsplit(self.path)
        with svc.lock:
            svc.requests.append((unquote(parts.path), unquote(parts.query)))
        try:
            if "+" in parts.query:  # 1C reads '+' literally: the query no longer parses
                raise _Refused(400, "14", "Ошибка разбора параметра запроса: '+' в запросе")
            path = unquote(parts.path)
            if not path.startswith(svc.root):
                raise _Refused(404, "6", f"Сегмент пути {path} не найден!")
            resource = path[len(svc.root):].strip("/")
            params = _params(parts.query)
            with svc.lock:
                raw = svc.raw.pop(0) if svc.raw else None
            if raw is not None:  # a test's hostile answer, whatever was asked
                self._send(200, raw, "application/json;odata=minimalmetadata;charset=utf-8")
                return
            with svc.lock:
                self._answer(resource, params)
        except _Refused as exc:
            self._json({"odata.error": {"code": exc.code, "message": {
                "lang": "ru", "value": exc.message}}}, exc.status)

    def _answer(self, resource: str, params: dict[str, str]) -> None:
        svc, view = self.service, self.service.view
        if resource == "$metadata":
            self._send(200, svc.metadata(), "application/xml;charset=utf-8")
            return
        fmt = params.get("$format", "")
        if not resource.endswith("/$count") and not (fmt == "json" or fmt.startswith("application/json")
                or (not fmt and "application/json" in self.headers.get("Accept", ""))):
            raise _Refused(406, "3", "Atom is not emulated: ask with $format=json")
        if resource == "":
            self._json({"odata.metadata": f"{svc.url}/$metadata",
                        "value": [{"name": n, "url": n} for n in view.entity_sets()]})
            return
        count = resource.endswith("/$count")
        resource = resource.removesuffix("/$count")
        m = re.fullmatch(r"(\w+)\(guid'([0-9a-fA-F-]{36})'\)", resource)
        entity = m.group(1) if m else resource
        if entity not in view.entity_sets():
            raise _Refused(404, "8", f"Не найден тип сущности {entity}")
        if "endless" in svc.misbehave and not m and not count:
            self._json({"odata.metadata": f"{svc.url}/$metadata#{entity}",
                        "value": self._endless(params)})
            return
        props = view.properties(entity)
        rows = view.rows(entity)
        if m:
            found = [r for r in rows if r["Ref_Key"] == m.group(2).lower()]
            if not found:
                raise _Refused(404, "9", "Entity instance not found")
            self._json({"odata.metadata": f"{svc.url}/$metadata#{entity}/@Element",
                        **_select(found[0], params.get("$select"), props)})
            return
        if "$filter" in params:
            test = _Filter(params["$filter"], props).test
            rows = [r for r in rows if test(r)]
        if count:
            self._send(200, f"\ufeff{len(rows)}".encode(), "text/plain;charset=utf-8")
            return
        rows = _order(rows, params.get("$orderby"), props)
        answer = {"odata.metadata": f"{svc.url}/$metadata#{entity}"}
        if params.get("$inlinecount") == "allpages":
            answer["odata.count"] = str(len(rows))  # and 1C ignores $skip/$top then
        else:
            skip, top = _int(params, "$skip", 0), _int(params, "$top", None)
            if "ignore-skip" in svc.misbehave:
                skip = 0
            if "ignore-top" in svc.misbehave:
                top = None
            rows = rows[skip:] if top is None else rows[skip:skip + top]
        answer["value"] = [_select(r, params.get("$select"), props) for r in rows]
        self._lie(answer)
        if "next-link" in svc.misbehave:
            answer["odata.nextLink"] = "http://elsewhere.example/odata/standard.odata/x?$skip=1"
        self._json(answer)


    def _endless(self, params: dict) -> list[dict]:
        """A page of $top rows never sent before, whatever the filter asked for."""
        svc, rows = self.service, []
        for _ in range(_int(params, "$top", 500)):
            svc.sent += 1
            fresh = f"{svc.sent:08x}-0000-4000-8000-{svc.sent:012x}"
            rows.append({n: fresh if n == "Ref_Key" else EMPTY if n.endswith("_Key")
                         else False if n in ("Posted", "DeletionMark") else 0
                         for n in (params.get("$select") or "Ref_Key").split(",")})
        return rows

    def _lie(self, answer: dict) -> None:
        """The lies of ODataService.misbehave about what a page holds."""
        svc = self.service
        for lie in svc.misbehave:
            if lie.startswith("drop:"):  # a field asked for in $select left out of every row
                for row in answer["value"]:
                    row.pop(lie[5:], None)
        if "other-set" in svc.misbehave:
            answer["odata.metadata"] = f"{svc.url}/$metadata#Catalog_Контрагенты"


def _params(query: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, query.split("&")):
        name, _, value = part.partition("=")
        name = unquote(name)
        if name.startswith("$") and name not in _OPTIONS:
            raise _Refused(400, "0", f"Не поддерживается: {name}")
        if name in out:
            raise _Refused(400, "14", f"Параметр {name} указан дважды")
        out[name] = unquote(value)
    return out


def _int(params: dict, name: str, default):
    if name not in params:
        return default
    if not params[name].isdigit():
        raise _Refused(400, "14", f"Ошибка разбора параметра запроса {name}")
    return int(params[name])


def _select(row: dict, select: str | None, props: tuple[str, ...]) -> dict:
    if not select or select.strip() == "*":
        return dict(row)
    if select.strip() == "**":
        return {k: v for k, v in row.items() if not isinstance(v, list)}
    names = [s.strip() for s in select.split(",")]
    for n in names:
        if n not in props:
            raise _Refused(400, "10", f"Не найдено свойство {n}")
    return {n: row[n] for n in names}


def _order(rows: list[dict], orderby: str | None, props: tuple[str, ...]) -> list[dict]:
    if not orderby:
        return list(reversed(rows))  # 1C promises no order: do not let a client count on one
    for term in reversed([t.strip() for t in orderby.split(",")]):
        name, _, way = term.partition(" ")
        if name not in props or way.strip() not in ("", "asc", "desc"):
            raise _Refused(400, "14", f"Ошибка разбора параметра запроса $orderby: {term!r}")
        rows = sorted(rows, key=lambda r, n=name: (str(type(r[n])), r[n]),
                      reverse=way.strip() == "desc")
    return rows


class ODataService(LocalServer):
    def __init__(self, base, *, model: str = "bp", user: str = USER,
                 password: str = PASSWORD, publication: str = "base") -> None:
        assert model in ("bp", "crm"), model
        self.view = _View(base, model)
        self.credentials = (user, password)
        self.root = f"/{publication}{ROOT}"
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []  # (path, query), unquoted
        # A server that lies, for tests: "ignore-skip", "ignore-top", "next-link" (to another
        # host), "endless" (each page new rows, whatever the filter), "drop:<field>" (left out
        # of every row), "other-set" (the answer names another entity set); `raw`: bodies
        # answered, in turn, to the next requests instead of the truth.
        self.misbehave: set[str] = set()
        self.sent = 0  # rows made up by "endless"
        self.raw: list[bytes] = []
        super().__init__(type("Handler", (_Handler,), {"service": self}))
        self.url = f"http://127.0.0.1:{self.port}{self.root}"

    def metadata(self) -> bytes:
        types = []
        for entity in self.view.entity_sets():
            props = "".join(f'<Property Name={quoteattr(p)} Type="{_edm(p)}"/>'
                            for p in self.view.properties(entity) if p != "РасшифровкаПлатежа")
            types.append(f'<EntityType Name={quoteattr(entity)}><Key><PropertyRef Name="Ref_Key"/>'
                         f"</Key>{props}</EntityType>")
        sets = "".join(f'<EntitySet Name={quoteattr(e)} EntityType={quoteattr("StandardODATA." + e)}/>'
                       for e in self.view.entity_sets())
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                '<edmx:Edmx xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" Version="1.0">'
                '<edmx:DataServices><Schema xmlns="http://schemas.microsoft.com/ado/2009/11/edm" '
                f'Namespace="StandardODATA">{"".join(types)}<EntityContainer Name="EnterpriseV8">'
                f"{sets}</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>").encode()

    def queries(self, entity: str) -> list[dict[str, str]]:
        """The query options of every request made for `entity` (a set name)."""
        with self.lock:
            seen = list(self.requests)
        return [dict(p.partition("=")[::2] for p in q.split("&") if p)
                for path, q in seen if path.rstrip("/").endswith("/" + entity)]


def _edm(name: str) -> str:
    if name == "Ref_Key" or name.endswith("_Key"):
        return "Edm.Guid"
    return _TYPES.get(name, "Edm.String")


@contextlib.contextmanager
def expose(world, *, user: str = USER, password_env: str = "ONECSYNC_TEST_ODATA_PASSWORD",
           password: str = PASSWORD):
    """Serve both bases of `world` over OData and add `odata:` to onecsync's config for each.

    The caller sets `password_env` in the environment of the runs (e.g. monkeypatch.setenv)."""
    with ODataService(world.acc, model="bp", user=user, password=password,
                      publication="bp") as acc, \
            ODataService(world.crm, model="crm", user=user, password=password,
                         publication="crm") as crm:
        text = world.config.read_text(encoding="utf-8")
        for name, svc in (("accounting", acc), ("crm", crm)):
            at = text.index(f"\n  {name}:\n") + len(f"\n  {name}:\n")  # bases.<name>, block style
            text = (text[:at]
                    + f"    odata: {{url: '{svc.url}', user: {user}, password_env: {password_env}}}\n"
                    + text[at:])
        world.config.write_text(text, encoding="utf-8")
        yield {"accounting": acc, "crm": crm}
