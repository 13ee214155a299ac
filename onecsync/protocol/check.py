"""Check one exchange message file against the EnterpriseData format, streamed: `onecsync validate`.

Public API: `check_message(path, expected=None, archive_password=None, max_problems=100,
progress=None)` → `MessageCheck`; `Expected` (what a config says of the codes and versions: the
caller derives it, see onecsync/validate.py), `Finding`.

The same code checks every message the test suite sees onecsync write (tests/conftest.py), so
"valid" means one thing. The file is read by the exchange's own streaming reader: the header is
judged by the very functions `receive` uses (envelope.judge_header: onecsync's reading, then
the envelope schema; check_envelope), so both name the same first reason, then each body object, one
at a time, against 1C's schema of the message's version (onecsync.formats, built from 1C's XDTO
packages). Memory stays flat on a file of any size. A file the reader cannot read at all
(malformed XML, a broken zip, a DTD) is one finding at the point where reading stopped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Mapping

from lxml import etree

from onecsync import formats
from onecsync.errors import MessageRejected
from onecsync.messagefiles import open_message_file
from onecsync.progress import Task
from onecsync.protocol.envelope import Header
from onecsync.protocol.envelope import check_envelope
from onecsync.protocol.envelope import judge_header
from onecsync.protocol.envelope import local_name
from onecsync.protocol.envelope import shown
from onecsync.protocol.normal import object_ref
from onecsync.protocol.reader import DELETION
from onecsync.protocol.reader import MessageReader

OURS = "onecsync"


@dataclass(frozen=True)
class Expected:
    """What the config says a message of this exchange carries: the header is judged by it."""

    config: Path                # the config file that says so, named in the findings
    node: str                   # our node code
    bases: Mapping[str, str]    # each base's code → its name (accounting, crm)
    formats: tuple[str, ...]    # the EnterpriseData versions we offer


@dataclass(frozen=True)
class Finding:
    """One problem: where (line, object type and Ссылка, field path) and what."""

    line: int | None
    type: str | None  # "Header", a body object type, or None for the file as a whole
    ref: str | None
    path: str | None  # the field, e.g. "Справочник.Номенклатура/КлючевыеСвойства/ТипНоменклатуры"
    message: str

    def text(self) -> str:
        where = [w for w in (self.type, self.ref) if w]
        parts = [" ".join(where)] if where else []
        if self.path and self.path != self.type:
            parts.append(self.path.removeprefix(f"{self.type}/") if self.type else self.path)
        parts.append(self.message)
        return ": ".join(parts)


@dataclass
class MessageCheck:
    file: str
    config: str | None = None
    version: str | None = None
    settings_only: bool = False
    sender: str | None = None
    to: str | None = None
    message_no: int | None = None
    received_no: int | None = None
    direction: str | None = None  # "accounting → onecsync" when a config names the codes
    objects: int = 0
    by_type: Counter = field(default_factory=Counter)
    problems: list[Finding] = field(default_factory=list)
    problems_total: int = 0
    max_problems: int = 100

    @property
    def valid(self) -> bool:
        return self.problems_total == 0

    def add(self, finding: Finding) -> None:
        self.problems_total += 1
        if len(self.problems) < self.max_problems:
            self.problems.append(finding)

    def to_json(self) -> dict:
        """The `validate --json` document."""
        return {
            "file": self.file, "valid": self.valid, "exit_code": 0 if self.valid else 5,
            "config": self.config, "version": self.version, "settings_only": self.settings_only,
            "from": self.sender, "to": self.to, "message_no": self.message_no,
            "received_no": self.received_no, "direction": self.direction,
            "objects": self.objects, "by_type": dict(sorted(self.by_type.items())),
            "problems_total": self.problems_total,
            "problems": [f.__dict__ for f in self.problems],
        }


class _CheckingReader(MessageReader):
    """The exchange's reader, except that header problems are collected instead of raised."""

    def __init__(self, stream, source: str, check: MessageCheck, progress: Task | None) -> None:
        self._check = check
        self.header_read = True
        super().__init__(stream, source, progress)

    def _parse_header(self, el) -> Header:
        # The run's own judgement (envelope.judge_header): its first problem is the run's reason.
        header, problems = judge_header(el, self.source)
        for p in problems:
            self._check.add(Finding(p.line, "Header", None, p.path, p.message))
        if header is not None:
            return header
        # Only the version is taken on from a header that cannot be read: judging its codes
        # (From, To) from nothing would add problems the file does not have.
        self.header_read = False
        fmt = el.find(f"{{{formats.ENVELOPE_NS}}}Format")
        return Header(format=(fmt.text or "").strip() if fmt is not None else "")


def _without_source(exc: MessageRejected, source: str) -> str:
    return str(exc).removeprefix(f"{source}: ")


def check_message(path: Path, expected: Expected | None = None,
                  archive_password: str | None = None, max_problems: int = 100,
                  progress: Task | None = None) -> MessageCheck:
    check = MessageCheck(file=str(path),
                         config=str(expected.config.resolve()) if expected else None,
                         max_problems=max_problems)
    source = str(path)
    try:
        with open_message_file(path, archive_password) as stream:
            reader = _CheckingReader(stream, source, check, progress)
            _check_header(check, reader.header, expected if reader.header_read else None,
                          reader.header_read)
            if check.version in formats.VERSIONS:  # without its format the body cannot be checked
                _check_body(check, reader, check.version)
    except MessageRejected as exc:
        check.add(Finding(None, None, None, None, _without_source(exc, source)))
    except OSError as exc:
        check.add(Finding(None, None, None, None, f"cannot read the file: {exc.strerror or exc}"))
    return check


def _check_header(check: MessageCheck, h: Header, config: Expected | None, read: bool) -> None:
    check.sender, check.to = h.sender, h.to
    check.message_no, check.received_no = h.message_no, h.received_no
    check.settings_only = h.settings_only
    if read:
        try:
            check_envelope(h)  # as `run` judges it, in its words
        except MessageRejected as exc:
            check.add(Finding(None, "Header", None, None, str(exc)))
            return
    if not h.settings_only:
        check.version = h.version
        if h.version not in formats.VERSIONS:  # an older base's 1.6, or not a version at all
            what = f"EnterpriseData {h.version}" if h.version else repr(h.format_uri[:80])
            check.add(Finding(None, "Header", None, "Header/Format",
                              f"{what} is not a version onecsync knows "
                              f"({', '.join(formats.VERSIONS)}); the body is not checked, and "
                              "receive would reject the message (the base must exchange in one of "
                              "them: a newer release of its configuration)"))
    if config is not None:
        _check_codes(check, h, config)


def _check_codes(check: MessageCheck, h: Header, config: Expected) -> None:
    """Which base is it from, and is it addressed as `receive` (or the base) expects?"""
    ours = config.node
    bases = config.bases
    sender, to = (h.sender or "").lower(), (h.to or "").lower()
    where = f"in {config.config}"
    if sender in bases:
        check.direction = f"{bases[sender]} → {OURS}"
        if to and to != ours:
            check.add(Finding(None, "Header", None, "Header/Confirmation/To",
                              f"To is {shown(h.to)}, not our node code {ours} ({where})"))
    elif sender == ours:
        if to in bases:
            check.direction = f"{OURS} → {bases[to]}"
        else:
            check.add(Finding(None, "Header", None, "Header/Confirmation/To",
                              f"To is {shown(h.to)}, not the code of a base {where}"))
    else:
        check.add(Finding(None, "Header", None, "Header/Confirmation/From",
                          f"From is {shown(h.sender)}: neither our node code nor a base's code {where}"))
        return
    if check.version is not None and check.version not in config.formats:
        check.add(Finding(None, "Header", None, "Header/Format",
                          f"format version {check.version} is not one we offer "
                          f"({', '.join(config.formats)}); receive would reject it"))


def _check_body(check: MessageCheck, reader: MessageReader, version: str) -> None:
    ns = formats.namespace(version)
    index = formats.load(version)
    for el in reader.elements():  # the reader refuses a Body in another namespace than Format's
        local_name(el, reader.source)  # an undeclared prefix, as the run refuses it
        qname = etree.QName(el)
        name = qname.localname
        check.objects += 1
        check.by_type[name] += 1
        ref = object_ref(el, ns) if name != DELETION else _deleted_ref(el, ns)
        if qname.namespace != ns:
            check.add(Finding(el.sourceline, name, ref, None,
                              f"in namespace {qname.namespace!r}, not the body's {ns}"))
        elif name not in index.object_types:
            check.add(Finding(el.sourceline, name, ref, None,
                              f"there is no object type {name} in EnterpriseData {version}"))
        else:
            for p in formats.validate_object(version, el):
                check.add(Finding(p.line, name, ref, p.path, p.message))


def _deleted_ref(el, ns: str) -> str | None:
    target = el.find(f"{{{ns}}}СсылкаНаОбъект/{{{ns}}}СсылкаНаОбъект")
    ref = next((c for c in target if isinstance(c.tag, str)), None) if target is not None else None
    if ref is None:
        return None
    return (ref.text or "").strip().lower() or None
