"""Read a base through 1C's standard OData interface (read-only), as docs/odata.md describes.

Public API: `ODataClient(config, ...)` with `entities(resource, select=, filter=, orderby=)`
→ Iterator[dict], `count(resource, filter=)` → int, `metadata()` (the parsed $metadata, read
at most once per client, i.e. once per run), `properties(resource)` and `probe()`.

The rules that real 1C servers impose (odata.md §1): JSON through `$format=json`; spaces in the
query encoded as %20, never '+' (1C reads '+' literally and answers 400); paging by `$top` and
`$skip` with an explicit `$orderby`, since 1C has no server-driven paging and promises no order;
`$select` to keep answers small (a document with its tables is ~64 KB); totals from `/$count`,
never `$inlinecount` (which makes 1C ignore `$skip`/`$top`); the `odata.error` code and message
shown in the one-line error. Failures are classified as in onecsync.httpclient; a 4xx with an
`odata.error` (a wrong name, an object missing from the OData composition) is a ConfigError,
500 with code -1 (the base's own code failed) a TemporaryError.
"""

from __future__ import annotations

import time
from typing import Any
from typing import Callable
from typing import Iterable
from typing import Iterator
from urllib.parse import quote
from urllib.parse import unquote

from lxml import etree

from onecsync import answers
from onecsync.config import OData
from onecsync.errors import ConfigError
from onecsync.errors import OnecsyncError
from onecsync.errors import TemporaryError
from onecsync.httpclient import HttpClient
from onecsync.httpclient import Refused

PAGE = 500
METADATA_LIMIT = 64 << 20  # БП 3.0's $metadata is ~14 MB
# What one client (one base, one reconcile) reads at most, whatever a server sends: a
# reconcile of 100,000 invoices reads ~400,000 rows in ~40,000 pages (15 keys per request).
ROW_LIMIT = 1_000_000
PAGE_LIMIT = 100_000
EDM = "http://schemas.microsoft.com/ado/2009/11/edm"


def _same_set(answer: dict, resource: str, where: str) -> None:
    """An answer naming its set (odata.metadata: …/$metadata#Set, or #Set/@Element,
    #Set&$select=…) must name the one asked for."""
    context = answer.get("odata.metadata")
    if not isinstance(context, str) or "#" not in context:
        return
    named = unquote(context.rsplit("#", 1)[1]).split("&")[0].split("/")[0]
    if named != resource:
        raise answers.Malformed(f"{where}: the answer holds rows of {named[:80]!r}, not of "
                                "the set asked for")


def _asked_for(row: dict, i: int, key: str, seen: set[str], fields: list[str],
               any_of: tuple[str, Iterable[str]] | None, wanted: set[str] | None,
               where: str) -> None:
    """Is this row one the request asked for? Malformed naming what is wrong, if not."""
    if key in seen:
        raise answers.Malformed(f"{where}: row {i} ({key.rstrip('/')}) was sent already: "
                                "the set changed while read, or the server ignores $skip")
    for name in fields:
        if name not in row:
            raise answers.Malformed(f"{where}: row {i} has no {name!r}, asked for in $select")
    if any_of is not None and wanted is not None:
        value = row.get(any_of[0])
        if not isinstance(value, str) or value.lower() not in wanted:
            raise answers.Malformed(f"{where}: row {i} has {any_of[0]} {str(value)[:40]!r}, "
                                    "none of the keys filtered for")


def _resource_path(resource: str) -> str:
    # Cyrillic names percent-encoded; the key syntax (guid'…', commas, '=') kept readable.
    return quote(resource, safe="()',=_:")


class ODataClient:
    def __init__(self, cfg: OData, *, page_size: int | None = None,
                 sleep: Callable[[float], None] = time.sleep, session=None) -> None:
        self.url = cfg.url.rstrip("/")
        self.client = HttpClient(self.url, cfg.user, cfg.password, what=f"OData {self.url}",
                                 connect_timeout=min(10.0, cfg.timeout), read_timeout=cfg.timeout,
                                 sleep=sleep, session=session,
                                 headers={"Accept": "application/json"},
                                 timeout_key="odata.timeout")
        self.page_size = page_size or PAGE  # read here, so that a test may page by 2
        self._metadata: etree._Element | None = None
        self.rows_read = self.pages_read = 0  # against ROW_LIMIT and PAGE_LIMIT

    # -- requests ---------------------------------------------------------------------------
    def _error(self, resource: str, exc: Refused) -> OnecsyncError:
        if exc.status == 404:
            return ConfigError(f"OData {self.url}: {resource}: not found ({exc.message})",
                               remedy="check the name, and that the object is in the base's "
                                      "OData composition (Настройка стандартного интерфейса "
                                      "OData)")
        return ConfigError(f"OData {self.url}: {resource}: HTTP {exc.status}: {exc.message}",
                           remedy="the request does not fit this base: check the names used "
                                  "against its $metadata")

    def _get_json(self, path: str, params: dict, schema, name: str | None = None,
                  page: str = "") -> Any:
        try:  # named as written, not percent-encoded, for the user to find
            return self.client.json("GET", path, params=params, safe=True, schema=schema,
                                    name=f"{name}{page}" if name else None)
        except Refused as exc:
            raise self._error(name or path, exc) from None

    def entities(self, resource: str, *, select: list[str] | str | None = None,
                 filter: str | None = None, any_of: tuple[str, Iterable[str]] | None = None,
                 orderby: str = "Ref_Key", page_size: int | None = None) -> Iterator[dict]:
        """Every entity of a set matching `filter`, or whose `any_of[0]` is one of the GUIDs
        `any_of[1]`, page by page in `orderby` order.

        A server may lie: each row must be what was asked for (of this set, every $select
        field there, its key among those filtered for, no row twice), else Malformed; and a
        client reads at most ROW_LIMIT rows in PAGE_LIMIT pages, so that a server sending new
        rows for ever ends the read, its memory bounded."""
        if not orderby:
            raise ValueError("paging needs an explicit $orderby")  # a caller's bug
        size = page_size or self.page_size
        base: dict[str, Any] = {"$format": "json"}
        fields = [select] if isinstance(select, str) else list(select or [])
        fields = [n.strip() for f in fields for n in f.split(",")]
        if fields:
            base["$select"] = ",".join(fields)
        wanted: set[str] | None = None
        if any_of is not None:
            field, keys = any_of[0], list(dict.fromkeys(any_of[1]))
            wanted = {k.lower() for k in keys}  # 1C writes GUIDs in lower case; we may not
            filter = " or ".join(f"{field} eq guid'{k}'" for k in keys)
        if filter:
            base["$filter"] = filter
        base["$orderby"] = orderby
        checks = [n for n in fields if n not in ("*", "**") and "/" not in n]
        skip = 0
        seen: set[str] = set()
        while True:
            where = f"OData {self.url}: {resource} $skip={skip}"
            self.pages_read += 1
            if self.pages_read > PAGE_LIMIT:
                raise answers.Malformed(f"{where}: more than {PAGE_LIMIT} pages in one "
                                        "reconcile: the server sends rows without end")
            answer = self._get_json(_resource_path(resource),
                                    {**base, "$top": size, "$skip": skip}, answers.ODATA_PAGE,
                                    resource, f" $skip={skip}")
            _same_set(answer, resource, where)
            rows = answer["value"]
            if len(rows) > size:
                raise answers.Malformed(f"{where}: {len(rows)} rows where $top={size} was "
                                        "asked: the server ignores $top")
            self.rows_read += len(rows)
            if self.rows_read > ROW_LIMIT:
                raise answers.Malformed(f"{where}: more than {ROW_LIMIT} rows in one "
                                        "reconcile: the server sends rows without end")
            # A server that ignores $skip (or whose order moves) sends rows already read: the
            # read would never end. Rows of a tabular set share their Ref_Key, hence LineNumber.
            keys = [f"{r['Ref_Key']}/{r.get('LineNumber', '')}".lower() for r in rows]
            if rows and set(keys) <= seen:
                raise answers.Malformed(f"{where}: the page brings nothing new: the server "
                                        "ignores $skip")
            for i, (row, key) in enumerate(zip(rows, keys, strict=True)):
                _asked_for(row, i, key, seen, checks, any_of, wanted, where)
                seen.add(key)
            yield from rows
            if len(rows) < size:
                return
            skip += len(rows)

    def count(self, resource: str, *, filter: str | None = None) -> int:
        params = {"$filter": filter} if filter else None
        try:
            resp = self.client.request("GET", f"{_resource_path(resource)}/$count",
                                       params=params, safe=True, name=f"{resource}/$count")
        except Refused as exc:
            raise self._error(resource, exc) from None
        text = resp.content.decode("utf-8", "replace").lstrip("\ufeff")
        return answers.parse_int(text, f"OData {self.url}: {resource}/$count", "the count")

    def metadata(self) -> etree._Element:
        """The service's $metadata (CSDL XML, ~14 MB for БП 3.0), fetched once per client."""
        if self._metadata is None:
            try:
                resp = self.client.request("GET", "$metadata", safe=True,
                                           limit=METADATA_LIMIT)
            except Refused as exc:
                raise self._error("$metadata", exc) from None
            parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
            try:
                self._metadata = etree.fromstring(resp.content, parser)
            except etree.XMLSyntaxError as exc:
                raise TemporaryError(f"OData {self.url}: $metadata is not XML: {exc}") from None
        return self._metadata

    def properties(self, resource: str) -> dict[str, str]:
        """Property name → Edm type of an entity set's type ({} when it is not published)."""
        for et in self.metadata().iter(f"{{{EDM}}}EntityType"):
            if et.get("Name") == resource:
                return {p.get("Name"): p.get("Type") for p in et.iter(f"{{{EDM}}}Property")}
        return {}

    def probe(self) -> None:
        """The service document answers with JSON (user, password and publication are right)."""
        self._get_json("", {"$format": "json"}, answers.ODATA_SERVICE, "the service document")
