"""One emulated 1C base: its data, its change registration for our node, and 1C's message rules.

Public API: `Base`, `ExchangeError`, `Backup`, `Faults`, `Event`.

The rules are those of SSL (БСП) as `enterprisedata-protocol.md` §1, §2 and §5 describe them:

- Every user change registers the object for our node (if the exchange plan carries its type);
  a physical deletion leaves a registration whose object no longer exists.
- `export_message()` numbers the message `sent_no + 1`, stamps the registrations not yet sent
  with it and writes *every* registration not yet confirmed, with `received_no` as ReceivedNo,
  in the version negotiated from our AvailableVersion (the highest common one; before our list
  is known, the lowest the base offers). 1C writes a message on every exchange, even with nothing
  to carry: so does the base (set `write_empty=False` to get None instead, e.g. for a transport
  that polls).
- `import_message(data)` checks the header as 1C does; a MessageNo at or below `received_no` is
  skipped as "ранее принято" (body not read, ReceivedNo not processed); otherwise our ReceivedNo
  first drops the registrations stamped up to it and binds what they carried to their UUIDs, then
  the body is imported object by object (1C writes them as it goes), deletions last, and only a
  fully successful import advances `received_no`. A MessageNo missing or ≤ 0 imports the body
  and changes no number. Failures raise `ExchangeError` and are kept in `errors`.
- Objects written by an import are not registered back for the node they came from.
- The object types our node declares (`AvailableObjectTypes`) decide what goes each way, as
  XS `FillSupportedXDTOObjects` does: a registration of a type our node does not declare as
  *receiving* in the exchange version is stamped but not written (and so dropped when our
  ReceivedNo confirms that message); an incoming object (or deletion) of a type our node does
  not declare as *sending* in the message's version is skipped. A versioned header without
  `AvailableObjectTypes` means our node handles everything (SSL's 2.x compatibility).

`Backup` is the whole state (store, public ids, registrations, numbers): `restore()` puts an
older one back, as an administrator restoring a 1C base from a dump would.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from dataclasses import field

from lxml import etree

from onecsync import clock as onecsync_clock
from tests.emulator import xmlio
from tests.emulator.spec import DOCUMENTS
from tests.emulator.spec import SPECS
from tests.emulator.spec import VERSIONS
from tests.emulator.spec import vkey
from tests.emulator.store import InRef
from tests.emulator.store import Obj
from tests.emulator.store import Ref
from tests.emulator.store import Store
from tests.emulator.store import refs_in

PLAN = "СинхронизацияДанныхЧерезУниверсальныйФормат"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=True)
# The order 1C selects changes in: the exchange plan's content (catalogs, then documents).
_TYPE_ORDER = {name: i for i, name in enumerate(SPECS)}


class ExchangeError(Exception):
    """An exchange message the base could not import (1C: "Ошибка при загрузке данных")."""


@dataclass
class Registration:
    seq: int                       # registration order, kept when the object changes again
    message_no: int | None = None  # the message that first carried it; None: not yet sent


@dataclass
class Event:
    """One line of the base's exchange log, for tests to look at."""

    kind: str                      # exported | imported | skipped | settings | failed
    message_no: int | None
    received_no: int | None = None
    version: str | None = None
    objects: list = field(default_factory=list)  # (type, public id) or ("delete", type, pid)
    note: str = ""


@dataclass
class Faults:
    """Switches a test flips; each applies to the next exchange and then resets itself."""

    drop_next: bool = False        # the message is written but never reaches the folder
    corrupt_next: str | None = None  # "truncate" | "garbage": the file in the folder is broken
    unreachable_next: bool = False  # the folder cannot be reached: nothing read, nothing written
    fail_next_import: int | None = None  # the import fails after this many objects
    refuse_next_import: bool = False  # the import fails before it reads anything, even an empty one


@dataclass
class Backup:
    store: Store
    registrations: dict
    sent_no: int
    received_no: int
    peer_versions: tuple | None
    seq: int
    deleted: frozenset
    peer_types: dict | None = None


class Base:
    def __init__(self, name: str, code: str, node_code: str, versions=VERSIONS, *,
                 registers=(), prefix: str | None = None, seed: int = 0,
                 clock=None, write_empty: bool = True) -> None:
        self.name = name
        self.code = code
        self.node_code = node_code
        self.versions = tuple(versions)
        self.registers = frozenset(registers)
        self.prefix = prefix
        self.write_empty = write_empty
        self.rng = random.Random(seed)
        self.store = Store(self.rng)
        self.registrations: dict[Ref, Registration] = {}
        self.sent_no = 0
        self.received_no = 0
        self.peer_versions: tuple[str, ...] | None = None
        # Our node's AvailableObjectTypes: type -> (Sending, Receiving), None: not declared.
        self.peer_types: dict[str, tuple[str, str]] | None = None
        self.log: list[Event] = []
        self.errors: list[str] = []
        self.faults = Faults()
        self.deleted: set[Ref] = set()      # deleted physically by a user of this base
        self.confirmed: list[Ref] = []      # registrations our node confirmed, in order
        self.created: set[Ref] = set()      # every object a user of this base ever created;
        #                                     a restore does not take it back (tests' own view)
        self._seq = 0
        self._last_confirmation = 0
        self._clock = clock or onecsync_clock.utc_now  # the host's: frozen where a test freezes it

    def __repr__(self) -> str:
        return f"<Base {self.name} sent {self.sent_no} received {self.received_no}>"

    # -- what a user does ----------------------------------------------------------------
    def create(self, type_name: str, fields: dict, ref_id: str | None = None, *,
               register: bool = True) -> Ref:
        """A user enters an object. `register=False`: the exchange plan's rules leave it out
        (1C does so e.g. for a document dated before the synchronization's start date)."""
        r = Ref(type_name, ref_id or self.store.new_id())
        if r in self.store.objects:
            raise ValueError(f"{r!r} exists")
        self._check_refs(fields)
        self.store.objects[r] = Obj(r, copy.deepcopy(fields))
        self.created.add(r)
        if register:
            self._register(r)
        return r

    def register(self, r: Ref) -> None:
        """A user registers the object for our node again ("Зарегистрировать изменения")."""
        self.get(r)
        self._register(r)

    def edit(self, r: Ref, **changes) -> None:
        obj = self.get(r)
        self._check_refs(changes)
        obj.fields.update(copy.deepcopy(changes))
        obj.fields = {k: v for k, v in obj.fields.items() if v is not None}
        self._register(r)

    def mark_deleted(self, r: Ref, mark: bool = True) -> None:
        """A deletion mark is a change like any other: the object is sent again, as it is."""
        self.get(r).deletion_mark = mark
        self.get(r).marked_by_exchange = False
        self._register(r)

    def delete(self, r: Ref) -> None:
        """Physical deletion ("удаление помеченных"): refused while anything refers to it."""
        self.get(r)
        users = self.store.referencing(r)
        if users:
            raise ValueError(f"{r!r} is still referenced by {users}")
        del self.store.objects[r]
        self.deleted.add(r)
        self._register(r)

    def enter(self, element: str | bytes) -> Ref:
        """A user enters (or edits, or deletes) what an EnterpriseData element describes, e.g.
        one built by tests/factory.py: its references are matched or created from their key
        properties as an import does, and the change is registered for our node. A
        `УдалениеОбъекта` deletes the object it names (`delete`). Fields the spec does not know
        are dropped, as in `import_message`."""
        text = element if isinstance(element, str) else element.decode("utf-8")
        el = etree.fromstring(f'<Body xmlns="{xmlio.namespace(self.negotiated())}">{text}</Body>',
                              _PARSER)[0]
        parsed = xmlio.parse(el)
        if parsed is None:
            raise ValueError(f"the emulator has no rule for {etree.QName(el).localname}")
        if parsed.kind == "delete":
            r = self.store.by_public_id(parsed.type, parsed.keys["Ссылка"]) \
                or Ref(parsed.type, parsed.keys["Ссылка"])
            self.delete(r)
            return r
        known = set(self.store.objects)
        r = self._write(parsed)
        if r not in known:
            self.store.objects[r].origin = "user"
            self.created.add(r)
        self._register(r)
        return r

    def get(self, r: Ref) -> Obj:
        try:
            return self.store.objects[r]
        except KeyError:
            raise KeyError(f"{self.name} holds no {r!r}") from None

    def objects(self, type_name: str | None = None) -> list[Obj]:
        return [o for o in self.store.objects.values()
                if type_name is None or o.type == type_name]

    def _check_refs(self, fields: dict) -> None:
        for r in refs_in(fields):
            if r not in self.store.objects:
                raise ValueError(f"{r!r} is not in {self.name}")

    def _register(self, r: Ref) -> None:
        if r.type not in self.registers:
            return
        reg = self.registrations.get(r)
        if reg is None:
            self._seq += 1
            self.registrations[r] = Registration(self._seq)
        else:
            reg.message_no = None  # changed again: it must go in the next message, whatever

    # -- numbers and versions -------------------------------------------------------------
    def negotiated(self) -> str:
        common = set(self.versions) & set(self.peer_versions or ())
        if common:
            return max(common, key=vkey)
        return min(self.versions, key=vkey)

    def peer_declares(self, type_name: str, direction: str, version: str) -> bool:
        """Does our node send (`direction` "sending") / receive ("receiving") the type in
        `version`? Without declarations it handles everything."""
        if self.peer_types is None:
            return True
        decl = self.peer_types.get(type_name)
        if decl is None:
            return False
        text = (decl[0] if direction == "sending" else decl[1]).strip()
        if text == "*":
            return version in (self.peer_versions or ())
        return version in {v.strip() for v in text.split(",") if v.strip()}

    def pending(self) -> list[Ref]:
        """Registrations not yet confirmed by our node, in the order they are written."""
        return sorted(self.registrations,
                      key=lambda r: (_TYPE_ORDER.get(r.type, 99), self.registrations[r].seq))

    # -- export ---------------------------------------------------------------------------
    def export_message(self) -> bytes | None:
        if not self.write_empty and not self.registrations and not self._owes_confirmation():
            return None
        number = self.sent_no + 1
        version = self.negotiated()
        ns = xmlio.namespace(version)
        root = etree.Element("Message", nsmap={"msg": xmlio.ENVELOPE_NS,
                                               "xs": "http://www.w3.org/2001/XMLSchema",
                                               "xsi": "http://www.w3.org/2001/XMLSchema-instance"})
        self._header(root, version, number)
        body = etree.SubElement(root, f"{{{ns}}}Body", nsmap={None: ns})
        carried = []
        withheld = []
        for r in self.pending():
            reg = self.registrations[r]
            if reg.message_no is None:
                reg.message_no = number
            if not self.peer_declares(r.type, "receiving", version):
                withheld.append(r)  # stamped all the same: our next ReceivedNo drops it
                continue
            obj = self.store.objects.get(r)
            if obj is None:
                pid = self.store.public_id(r)
                body.append(xmlio.render_deletion(r.type, pid, version))
                carried.append(("delete", r.type, pid))
            else:
                body.append(xmlio.render(obj, version, self.store))
                carried.append((r.type, self.store.public_id(r)))
        self.sent_no = number
        self._last_confirmation = self.received_no
        self.log.append(Event("exported", number, self.received_no, version, carried,
                              note=f"not declared by our node: {withheld}" if withheld else ""))
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def _owes_confirmation(self) -> bool:
        return self.received_no != self._last_confirmation

    def _header(self, root, version: str, number: int) -> None:
        m = xmlio.ENVELOPE_NS

        def leaf(parent, name, value):
            etree.SubElement(parent, f"{{{m}}}{name}").text = str(value)

        header = etree.SubElement(root, f"{{{m}}}Header")
        leaf(header, "Format", xmlio.namespace(version))
        leaf(header, "CreationDate", self._clock().strftime("%Y-%m-%dT%H:%M:%S"))
        conf = etree.SubElement(header, f"{{{m}}}Confirmation")
        leaf(conf, "ExchangePlan", PLAN)
        leaf(conf, "To", self.node_code)
        leaf(conf, "From", self.code)
        leaf(conf, "MessageNo", number)
        leaf(conf, "ReceivedNo", self.received_no)
        for v in self.versions:
            leaf(header, "AvailableVersion", v)
        if self.prefix:
            leaf(header, "Prefix", self.prefix)

    # -- import ---------------------------------------------------------------------------
    def import_message(self, data: bytes) -> None:
        if self.faults.refuse_next_import:
            self.faults.refuse_next_import = False
            self._fail(None, "the exchange node is locked by another session (import refused)")
        try:
            root = etree.fromstring(data, _PARSER)
        except etree.XMLSyntaxError as exc:
            self._fail(None, f"the exchange file is not well-formed XML: {exc}")
        header, body = self._read_envelope(root)
        number = header.get("MessageNo")
        if header["settings_only"]:
            self.log.append(Event("settings", number, header.get("ReceivedNo")))
            return
        if number is not None and number > 0 and number <= self.received_no:
            self.log.append(Event("skipped", number, header.get("ReceivedNo"),
                                  header["version"], note="ранее принято"))
            return
        if number is not None and number > 0:
            self._confirmed(header.get("ReceivedNo") or 0)
        carried = self._import_body(number, body, header["version"])
        if number is not None and number > 0:
            self.received_no = number
        self.log.append(Event("imported", number, header.get("ReceivedNo"), header["version"],
                              carried))

    def _fail(self, number, why: str):
        self.errors.append(why)
        self.log.append(Event("failed", number, note=why))
        raise ExchangeError(f"{self.name}: {why}")

    def _read_envelope(self, root) -> tuple[dict, object]:
        m = xmlio.ENVELOPE_NS
        if etree.QName(root).localname != "Message":
            self._fail(None, "the root element is not Message")
        header_el = root.find(f"{{{m}}}Header")
        if header_el is None:
            self._fail(None, "no Header")
        h: dict = {"versions": tuple(v.text for v in header_el.findall(f"{{{m}}}AvailableVersion"))}
        fmt = (header_el.findtext(f"{{{m}}}Format") or "").split()
        fmt = fmt[0] if fmt else ""
        conf = header_el.find(f"{{{m}}}Confirmation")
        if conf is None:
            self._fail(None, "exchange file format error: no Confirmation")
        for name in ("MessageNo", "ReceivedNo"):
            text = conf.findtext(f"{{{m}}}{name}")
            h[name] = int(text) if text not in (None, "") else None
        if conf.findtext(f"{{{m}}}From") != self.node_code:
            self._fail(h["MessageNo"], f"cannot find the exchange node {conf.findtext(f'{{{m}}}From')}")
        if conf.findtext(f"{{{m}}}To") not in (None, self.code):
            self._fail(h["MessageNo"], "unexpected destination (178)")
        h["settings_only"] = fmt.rstrip("/") == xmlio.BASE_URI
        if h["versions"]:
            self.peer_versions = h["versions"]  # recomputed on every header, as SSL does
        declared = header_el.find(f"{{{m}}}AvailableObjectTypes")
        if declared is not None:
            self.peer_types = {
                (ot.findtext(f"{{{m}}}Name") or "").strip():
                    (ot.findtext(f"{{{m}}}Sending") or "", ot.findtext(f"{{{m}}}Receiving") or "")
                for ot in declared.findall(f"{{{m}}}ObjectType")}
        elif fmt.rstrip("/") != xmlio.BASE_URI:
            self.peer_types = None  # a versioned message without them: everything (XS 8148)
        if h["settings_only"]:
            return h, None
        if not fmt.startswith(xmlio.BASE_URI + "/"):
            self._fail(h["MessageNo"], f"format {fmt!r} is not EnterpriseData")
        h["version"] = fmt.rsplit("/", 1)[1]
        if h["version"] not in self.versions:
            self._fail(h["MessageNo"], f"format version {h['version']} is not supported")
        body = root.find(f"{{{xmlio.namespace(h['version'])}}}Body")
        return h, body

    def _confirmed(self, upto: int) -> None:
        """Our ReceivedNo: drop what it covers, and bind what it carried to its UUID."""
        for r in list(self.registrations):
            stamp = self.registrations[r].message_no
            if stamp is not None and stamp <= upto:
                del self.registrations[r]
                self.confirmed.append(r)
                if r in self.store.objects:
                    self.store.public_ids.setdefault(r, r.id)

    def _import_body(self, number, body, version: str) -> list:
        carried: list = []
        if body is None:
            return carried
        imported: set[Ref] = set()
        deletions: list[xmlio.Parsed] = []
        fail_at = self.faults.fail_next_import
        self.faults.fail_next_import = None
        for el in body:
            if not isinstance(el.tag, str):
                continue
            if fail_at is not None and len(carried) >= fail_at:
                self._fail(number, f"cannot write {etree.QName(el).localname}: the object is "
                                   "locked by another session (import stopped)")
            try:
                parsed = xmlio.parse(el)
            except (ValueError, StopIteration) as exc:
                self._fail(number, f"{etree.QName(el).localname}: {exc}")
            if parsed is None:
                continue
            if not self.peer_declares(parsed.type, "sending", version):
                carried.append(("skipped", parsed.type, parsed.keys.get("Ссылка")))
                continue  # no rule for a type our node does not declare it sends
            if parsed.kind == "delete":
                deletions.append(parsed)
                carried.append(("delete", parsed.type, parsed.keys["Ссылка"]))
                continue
            imported.add(self._write(parsed))
            carried.append((parsed.type, parsed.keys.get("Ссылка")))
        for d in deletions:
            self._delete_incoming(d, imported)
        return carried

    def _resolve(self, value: InRef, create: bool = True) -> Ref | None:
        found = self.store.find(value.type, value.keys, self._resolve)
        if found is not None or not create:
            if found is not None and value.keys.get("Ссылка"):
                self.store.public_ids.setdefault(found, value.keys["Ссылка"])
            return found
        # Not found: an object is created from the key properties (a reference's only data).
        pid = value.keys.get("Ссылка")
        r = Ref(value.type, pid if pid and Ref(value.type, pid) not in self.store.objects
                else self.store.new_id())
        keys = {k: v for k, v in value.keys.items() if k != "Ссылка"}
        self.store.objects[r] = Obj(r, {}, from_keys=True, origin="import")
        self.store.objects[r].fields = self._resolved(keys)
        if pid:
            self.store.public_ids[r] = pid
        return r

    def _resolved(self, value):
        if isinstance(value, InRef):
            return self._resolve(value)
        if isinstance(value, dict):
            return {k: self._resolved(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._resolved(v) for v in value]
        return value

    def _write(self, parsed: xmlio.Parsed) -> Ref:
        r = self._resolve(InRef(parsed.type, parsed.keys))
        obj = self.store.objects[r]
        keys = {k: v for k, v in parsed.keys.items() if k != "Ссылка"}
        obj.fields = self._resolved({**keys, **parsed.fields})
        obj.from_keys = False
        return r

    def _delete_incoming(self, d: xmlio.Parsed, imported: set[Ref]) -> None:
        """Deletions match by public id or UUID only; the object is marked, never removed."""
        pid = d.keys["Ссылка"]
        r = self.store.by_public_id(d.type, pid)
        same = Ref(d.type, pid)
        if r is None and same in self.store.objects and \
                self.store.public_ids.get(same, pid) == pid:
            r = same
        if r is None or r in imported:
            return
        self.store.objects[r].deletion_mark = True
        self.store.objects[r].marked_by_exchange = True

    # -- backups ---------------------------------------------------------------------------
    def backup(self) -> Backup:
        return Backup(self.store.clone(), copy.deepcopy(self.registrations), self.sent_no,
                      self.received_no, self.peer_versions, self._seq, frozenset(self.deleted),
                      copy.deepcopy(self.peer_types))

    def restore(self, b: Backup) -> None:
        self.store = b.store.clone()
        self.registrations = copy.deepcopy(b.registrations)
        self.sent_no, self.received_no = b.sent_no, b.received_no
        self.peer_versions = b.peer_versions
        self.peer_types = copy.deepcopy(b.peer_types)
        self._seq = b.seq
        self.deleted = set(b.deleted)  # what was deleted after the backup never was
        self.log.append(Event("restored", self.sent_no, self.received_no))

    # -- transport ------------------------------------------------------------------------
    def exchange(self, folder, compress: bool = False, receive: bool = True, entered=()):
        """One session over the directory transport (see `folder.exchange`)."""
        from tests.emulator.folder import exchange

        return exchange(self, folder, compress, receive, entered)

    # -- convenience ----------------------------------------------------------------------
    def identity(self, r: Ref) -> str:
        """The id our node knows `r` by."""
        return self.store.public_id(r)

    def imported_numbers(self) -> list[int | None]:
        """The numbers of our messages the base imported completely, in order."""
        return [e.message_no for e in self.log if e.kind == "imported"]

    def received(self) -> dict[str, str]:
        """Ссылка → type of every object (not deletion) the base imported from our node."""
        return {pid: t for e in self.log if e.kind == "imported"
                for (t, pid) in (o for o in e.objects if len(o) == 2)}

    def documents(self) -> list[Obj]:
        return [o for o in self.store.objects.values() if o.type in DOCUMENTS]
