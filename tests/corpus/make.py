"""Build the hostile-input corpus: small files are committed under files/, large ones are made at
test time (never committed).

    python -m tests.corpus.make      # rewrite tests/corpus/files/ (tests check it is up to date)

Every file is the accounting base's message 2 to onecsync (ReceivedNo 1), broken in one way; the
tests first let the base's good message 1 through, so that "the state did not change" means
something. Builders are deterministic: the same bytes on every run.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import zlib
from pathlib import Path

from onecsync import formats
from tests import factory as f

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
GOOD = [f.counterparty(f.ref(1), "ООО Ромашка"), f.counterparty(f.ref(2), "АО Василек"),
        f.currency(f.ref(3))]
ZIP_TIME = (2026, 11, 21, 9, 0, 0)


def msg(**kw) -> bytes:
    kw.setdefault("objects", GOOD)
    return f.Msg(message_no=2, received_no=1, created="2026-11-21T09:00:00", **kw).xml()


def _in_namespace(obj: str, ns: str) -> str:
    tag = obj[1:obj.index(">")]
    return obj.replace(f"<{tag}>", f'<{tag} xmlns="{ns}">', 1)


def between(data: bytes, start: bytes, end: bytes, new: bytes) -> bytes:
    """Replace the text between two markers."""
    i = data.index(start) + len(start)
    return data[:i] + new + data[data.index(end, i):]


def header_out(data: bytes) -> bytes:
    i, j = data.index(b"<msg:Header>"), data.index(b"</msg:Header>") + len(b"</msg:Header>")
    return data[:i] + data[j:]


DOCTYPE_XXE = ('<!DOCTYPE Message [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n')
LAUGHS = ("<!DOCTYPE Message [<!ENTITY lol \"lol\">"
          + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                    for i in range(1, 10)) + "]>\n")


def with_prolog(prolog: str, data: bytes, entity: str | None = None) -> bytes:
    decl, rest = data.split(b"\n", 1)
    if entity:
        rest = rest.replace("Ромашка".encode(), f"&{entity};".encode(), 1)
    return decl + b"\n" + prolog.encode() + rest


# -- zips, written byte by byte: zipfile refuses to write most of what we need -------------------

def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC = _crc_table()


def zipcrypto(data: bytes, password: bytes, check: int) -> bytes:
    """PKWARE traditional encryption ("ZIP 2.0"), the one zipfile can read with a password."""
    keys = [0x12345678, 0x23456789, 0x34567890]

    def update(c: int) -> None:
        keys[0] = _CRC[(keys[0] ^ c) & 0xFF] ^ (keys[0] >> 8)
        keys[1] = ((keys[1] + (keys[0] & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        keys[2] = _CRC[(keys[2] ^ (keys[1] >> 24)) & 0xFF] ^ (keys[2] >> 8)

    for c in password:
        update(c)
    out = bytearray()
    for c in bytes(range(11)) + bytes([check]) + data:
        t = (keys[2] | 2) & 0xFFFF
        out.append(c ^ (((t * (t ^ 1)) >> 8) & 0xFF))
        update(c)
    return bytes(out)


def raw_zip(entries: list[dict]) -> bytes:
    """A zip from entries: name, data (as stored), method, crc, size (inflated), flags."""
    out, central = bytearray(), bytearray()
    for e in entries:
        name = e["name"].encode("utf-8")
        flags = e.get("flags", 0) | 0x800
        fields = (e.get("method", 0), 0x4A00, 0x5575, e["crc"], len(e["data"]), e["size"])
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, *fields, len(name), 0)
        out += name + e["data"]
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, *fields,
                               len(name), 0, 0, 0, 0, e.get("attr", 0), offset) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central),
                      len(out), 0)
    return bytes(out + central + end)


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


ENTRY = f"Message_{f.ACCOUNTING}_{f.NODE}.xml"


def entry(name: str = ENTRY, data: bytes | None = None, **kw) -> dict:
    data = msg() if data is None else data
    return {"name": name, "data": deflate(data), "method": 8, "crc": zlib.crc32(data),
            "size": len(data), **kw}


def encrypted(password: bytes = b"corpus", data: bytes | None = None) -> bytes:
    data = msg() if data is None else data
    crc = zlib.crc32(data)
    return raw_zip([{"name": ENTRY, "data": zipcrypto(deflate(data), password, crc >> 24),
                     "method": 8, "crc": crc, "size": len(data), "flags": 0x1}])


def with_end(data: bytes, **fields: int) -> bytes:
    """The zip with fields of its end record changed: disk, cd_disk, on_disk, total, cd_size."""
    names = ("disk", "cd_disk", "on_disk", "total", "cd_size", "cd_offset", "comment")
    values = dict(zip(names, struct.unpack("<HHHHIIH", data[-18:]), strict=True))
    values.update(fields)
    return data[:-18] + struct.pack("<HHHHIIH", *(values[n] for n in names))


def lying_zip() -> bytes:
    """Declares a small, plausible size; the deflate stream holds far more (and another CRC)."""
    data = msg() + b" " * 200_000
    e = entry(data=data)
    return raw_zip([{**e, "size": 4000, "crc": zlib.crc32(data[:4000]) ^ 1}])


# name -> bytes; each one is described (expected exit code and error) in cases.yaml
SMALL = {
    "empty.xml": lambda: b"",
    "zeros.xml": lambda: b"\x00" * 4096,
    "binary.xml": lambda: bytes(range(256)) * 4,
    "truncated-in-header.xml": lambda: msg()[:msg().index(b"<msg:MessageNo>") + 18],
    "truncated-in-body.xml": lambda: msg()[:msg().index("АО Василек".encode())],
    "truncated-before-end.xml": lambda: msg()[:-len(b"</Body></Message>")],
    "unclosed-element.xml": lambda: msg().replace(b"</Body>", b"<Broken></Body>"),
    "content-after-root.xml": lambda: msg() + b"<Message/>",
    "undefined-entity.xml": lambda: msg().replace("Ромашка".encode(), b"&nbsp;"),
    "undeclared-prefix.xml": lambda: msg().replace("<Справочник.Валюты>".encode(),
                                                   "<x:Справочник.Валюты>".encode())
    .replace("</Справочник.Валюты>".encode(), "</x:Справочник.Валюты>".encode()),
    "nul-in-body.xml": lambda: msg().replace("Ромашка".encode(), b"\x00"),
    "invalid-utf8-in-body.xml": lambda: msg().replace("Ромашка".encode(), b"\xff\xfe\xfa"),
    "invalid-utf8-in-header.xml": lambda: msg().replace("СинхронизацияДанных".encode(),
                                                        b"\xd0\x28\xc3"),
    "utf16-with-bom.xml": lambda: msg().decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    .encode("utf-16"),
    "utf16le-without-bom.xml": lambda: msg().decode().replace('encoding="UTF-8"',
                                                               'encoding="UTF-16"').encode("utf-16-le"),
    "utf16be-without-bom.xml": lambda: msg().decode().replace('encoding="UTF-8"',
                                                               'encoding="UTF-16"').encode("utf-16-be"),
    "windows-1251.xml": lambda: msg().decode().replace('encoding="UTF-8"',
                                                        'encoding="windows-1251"').encode("cp1251"),
    "wrong-root.xml": lambda: msg().replace(b"<Message ", b"<Envelope ")
    .replace(b"</Message>", b"</Envelope>"),
    "root-in-other-namespace.xml": lambda: msg().replace(b"<Message ", b'<Message xmlns="urn:x" '),
    "header-in-other-namespace.xml": lambda: msg().replace(
        b'<msg:Header>', b'<msg:Header xmlns:msg="urn:wrong">'),
    "header-attribute-on-format.xml": lambda: msg().replace(b"<msg:Format>", b'<msg:Format a="1">'),
    "creationdate-not-a-date.xml": lambda: between(msg(), b"<msg:CreationDate>",
                                                   b"</msg:CreationDate>", b"yesterday"),
    "body-in-other-namespace.xml": lambda: msg().replace(
        b'<Body xmlns="http://v8.1c.ru/edi/edi_stnd/EnterpriseData/1.8">',
        b'<Body xmlns="http://v8.1c.ru/edi/edi_stnd/EnterpriseData/1.10">'),
    "attribute-value-over-4k.xml": lambda: msg().replace(
        "<Справочник.Валюты>".encode(), "<Справочник.Валюты a='".encode() + b"x" * 5000 + b"'>"),
    "no-header.xml": lambda: header_out(msg()),
    "body-before-header.xml": lambda: header_out(msg()).replace(
        b"</Message>", msg()[msg().index(b"<msg:Header>"):msg().index(b"</msg:Header>") + 13]
        + b"</Message>"),
    "header-out-of-order.xml": lambda: msg().replace(
        b"<msg:Format>", b"<msg:AvailableVersion>1.8</msg:AvailableVersion><msg:Format>"),
    "confirmation-out-of-order.xml": lambda: msg().replace(
        f"<msg:To>{f.NODE}</msg:To><msg:From>{f.ACCOUNTING}</msg:From>".encode(),
        f"<msg:From>{f.ACCOUNTING}</msg:From><msg:To>{f.NODE}</msg:To>".encode()),
    "no-confirmation.xml": lambda: between(msg(), b"<msg:CreationDate>2026-11-21T09:00:00"
                                           b"</msg:CreationDate>", b"<msg:AvailableVersion>", b""),
    "no-available-version.xml": lambda: f.Msg(message_no=2, received_no=1, versions=(),
                                               objects=GOOD).xml(),
    "two-message-numbers.xml": lambda: msg().replace(
        b"<msg:MessageNo>2</msg:MessageNo>",
        b"<msg:MessageNo>2</msg:MessageNo><msg:MessageNo>1</msg:MessageNo>"),
    "format-not-enterprisedata.xml": lambda: msg().replace(
        b"http://v8.1c.ru/edi/edi_stnd/EnterpriseData/1.8</msg:Format>",
        b"http://example.com/Other/1.0</msg:Format>"),
    "format-empty.xml": lambda: between(msg(), b"<msg:Format>", b"</msg:Format>", b""),
    "unsupported-version.xml": lambda: f.Msg(message_no=2, received_no=1, version="1.21",
                                              objects=[]).xml(),
    "unknown-version.xml": lambda: msg().replace(
        b"EnterpriseData/1.8</msg:Format>", b"EnterpriseData/9.99</msg:Format>"),
    "to-another-node.xml": lambda: msg().replace(f"<msg:To>{f.NODE}".encode(),
                                                 b"<msg:To>11111111-2222-3333-4444-555555555555"),
    "from-the-other-base.xml": lambda: msg().replace(f"<msg:From>{f.ACCOUNTING}".encode(),
                                                     f"<msg:From>{f.CRM}".encode()),
    "from-nobody.xml": lambda: msg().replace(f"<msg:From>{f.ACCOUNTING}</msg:From>".encode(), b""),
    "messageno-not-a-number.xml": lambda: msg().replace(b"<msg:MessageNo>2<",
                                                        b"<msg:MessageNo>two<"),
    "messageno-fraction.xml": lambda: msg().replace(b"<msg:MessageNo>2<", b"<msg:MessageNo>2.5<"),
    "messageno-negative.xml": lambda: msg().replace(b"<msg:MessageNo>2<", b"<msg:MessageNo>-7<"),
    "messageno-huge.xml": lambda: msg().replace(b"<msg:MessageNo>2<",
                                                b"<msg:MessageNo>1" + b"0" * 30 + b"<"),
    "messageno-arabic-indic-digit.xml": lambda: msg().replace(b"<msg:MessageNo>2<",
                                                              "<msg:MessageNo>٢<".encode()),
    "messageno-fullwidth-digit.xml": lambda: msg().replace(b"<msg:MessageNo>2<",
                                                           "<msg:MessageNo>２<".encode()),
    "messageno-underscore.xml": lambda: msg().replace(b"<msg:MessageNo>2<", b"<msg:MessageNo>0_2<"),
    "receivedno-blank-before.xml": lambda: msg().replace(b"<msg:ReceivedNo>1<",
                                                         "<msg:ReceivedNo>\u00a01<".encode()),
    "receivedno-not-a-number.xml": lambda: msg().replace(b"<msg:ReceivedNo>1<",
                                                         b"<msg:ReceivedNo>1e3<"),
    "receivedno-beyond-sent.xml": lambda: msg().replace(b"<msg:ReceivedNo>1<",
                                                        b"<msg:ReceivedNo>5<"),
    "unknown-type.xml": lambda: msg(objects=GOOD + [
        "<Справочник.НетТакогоТипа><КлючевыеСвойства><Ссылка>" + f.ref(9)
        + "</Ссылка></КлючевыеСвойства></Справочник.НетТакогоТипа>"]),
    "body-object-in-another-namespace.xml": lambda: msg(objects=GOOD + [
        _in_namespace(f.counterparty(f.ref(8), "АО Чужое"), "urn:evil")]),
    "body-object-of-another-version.xml": lambda: msg(objects=GOOD + [
        _in_namespace(f.counterparty(f.ref(8), "АО Чужое"), formats.namespace("1.17"))]),
    "body-text.xml": lambda: msg().replace(b"</Body>", "ЦР00-000153</Body>".encode()),
    "body-twice.xml": lambda: msg().replace(b"</Body>", (
        '</Body><Body xmlns="http://v8.1c.ru/edi/edi_stnd/EnterpriseData/1.8">'
        + f.counterparty(f.ref(8), "АО Чужое") + "</Body>").encode()),
    "object-in-header.xml": lambda: msg().replace(b"</msg:Header>", (
        _in_namespace(f.counterparty(f.ref(8), "АО Чужое"), formats.namespace("1.8"))
        + "</msg:Header>").encode()),
    "missing-key-properties.xml": lambda: msg(objects=GOOD + [
        "<Справочник.Контрагенты><Наименование>Без ключа</Наименование></Справочник.Контрагенты>"]),
    "deletion-of-nothing.xml": lambda: msg(objects=GOOD + [
        "<УдалениеОбъекта><СсылкаНаОбъект><СсылкаНаОбъект/></СсылкаНаОбъект></УдалениеОбъекта>"]),
    "xxe-local-file.xml": lambda: with_prolog(DOCTYPE_XXE, msg(), entity="secret"),
    "billion-laughs.xml": lambda: with_prolog(LAUGHS, msg(), entity="lol9"),
    "external-dtd.xml": lambda: with_prolog(
        '<!DOCTYPE Message SYSTEM "http://127.0.0.1:9/onecsync-corpus.dtd">\n', msg()),
    "dtd-after-comment-and-pi.xml": lambda: with_prolog(
        "<!-- a comment --><?pi x?>\n" + DOCTYPE_XXE, msg(), entity="secret"),
    "xinclude-local-file.xml": lambda: msg(objects=GOOD + [
        '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" '
        'parse="text"/>']),
    "deep-nesting.xml": lambda: msg(objects=GOOD + [
        "<Справочник.Контрагенты>" + "<a>" * 5000 + "</a>" * 5000 + "</Справочник.Контрагенты>"]),
    "zip-not-a-zip.zip": lambda: msg(),
    "zip-empty.zip": lambda: raw_zip([]),
    "zip-two-entries.zip": lambda: raw_zip([entry(), entry("second.xml")]),
    "zip-directory-entry.zip": lambda: raw_zip([{"name": "Message/", "data": b"", "crc": 0,
                                                 "size": 0, "attr": 0x10}]),
    "zip-parent-path.zip": lambda: raw_zip([entry("../../x")]),
    "zip-absolute-path.zip": lambda: raw_zip([entry("/tmp/x.xml")]),
    "zip-empty-name.zip": lambda: raw_zip([entry("")]),
    "zip-dot-name.zip": lambda: raw_zip([entry(".")]),
    "zip-slash-name.zip": lambda: raw_zip([entry("/")]),
    "zip-nul-name.zip": lambda: raw_zip([entry("\0")]),
    "zip-long-name.zip": lambda: raw_zip([entry("я" * 200 + ".xml")]),
    "zip-encrypted.zip": lambda: encrypted(),
    "zip-lies-about-size.zip": lying_zip,
    "zip-unknown-method.zip": lambda: raw_zip([{**entry(), "method": 99}]),
    "zip-holding-a-zip.zip": lambda: raw_zip([entry(data=raw_zip([entry()]))]),
    "zip-count-lies.zip": lambda: with_end(raw_zip([entry()]), on_disk=0xFFFF, total=0xFFFF),
    "zip-central-directory-lies.zip": lambda: with_end(raw_zip([entry()]), cd_size=50 << 20),
    "zip-split.zip": lambda: with_end(raw_zip([entry()]), disk=1, cd_disk=1),
    "zip-cut-short.zip": lambda: raw_zip([entry()])[:-100],
}


# -- large cases, made at test time ---------------------------------------------------------------
GIB = 1 << 30


def zip_bomb(path: Path) -> None:
    """64 MiB of zeros in 64 KiB: the ratio check refuses it before a byte is inflated."""
    size = 64 << 20
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\x00" * (1 << 20)
    crc, data = 0, bytearray()
    for _ in range(size // len(chunk)):
        data += c.compress(chunk)
        crc = zlib.crc32(chunk, crc)
    data += c.flush()
    path.write_bytes(raw_zip([{"name": ENTRY, "data": bytes(data), "method": 8, "crc": crc,
                               "size": size}]))


def sparse_zeros(path: Path, size: int = 2 * GIB, head: bytes = b"") -> None:
    """A 2 GB file that takes no disk space: `head`, then a hole."""
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(size)


# sha256 of `head` then zeros to `size`, by (sha256 of head, size): hashing 2 GB costs seconds of
# CPU, and a test needs the digest of each sparse file. Any other head is hashed in full.
_SPARSE_SHA256 = {
    ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 2 * GIB):
        "a7c744c13cc101ed66c29f672f92455547889cc586ce6d44fe76ae824958ea51",
    ("9d4c9297584ef2928878b0c63b195d74bd54a5c525e41b80433fafa933fc4f4a", 2 * GIB):
        "f4651e6c34a8d6a49191c0bd9a0266f027d49f37cd340cdd73d83e503eb852be",
}


def sparse_sha256(head: bytes, size: int) -> str:
    """The sha256 of a file that holds `head`, then zeros up to `size` bytes."""
    pinned = _SPARSE_SHA256.get((hashlib.sha256(head).hexdigest(), size))
    if pinned:
        return pinned
    whole, zeros, left = hashlib.sha256(head), bytes(1 << 24), size - len(head)
    while left:
        whole.update(zeros[:min(left, len(zeros))])
        left -= min(left, len(zeros))
    return whole.hexdigest()


def sparse_after_header(path: Path) -> None:
    data = msg()
    sparse_zeros(path, head=data[:data.index(b"<Body")])


def big_prolog(path: Path) -> None:
    """A DTD hidden behind 70 KB of comment: refused without searching further."""
    path.write_bytes(with_prolog("<!--" + "x" * 70_000 + "-->" + DOCTYPE_XXE, msg(),
                                 entity="secret"))


def text_over_10mb(path: Path) -> None:
    """One field of 12 MB: beyond libxml2's limit for a text node (no huge_tree)."""
    name = "я" * 6_000_000
    path.write_bytes(msg(objects=GOOD + [f.counterparty(f.ref(9), name)]))


def header_300000_versions(path: Path) -> None:
    """14 MB of AvailableVersion, where 1C's schema allows 100: refused at the 101st."""
    many = b"<msg:AvailableVersion>1.8</msg:AvailableVersion>" * 300_000
    path.write_bytes(msg().replace(b"<msg:AvailableVersion>", many + b"<msg:AvailableVersion>", 1))


def header_over_8mb(path: Path) -> None:
    """A 9 MB Prefix: a header held whole while read is refused past HEADER_LIMIT."""
    path.write_bytes(msg().replace(b"</msg:Header>", b"<msg:Prefix>" + b"x" * 9_000_000
                                   + b"</msg:Prefix></msg:Header>"))


def element_200000_attributes(path: Path) -> None:
    """One object with 200,000 attributes (2.3 MB): 500 MB once libxml2 has built them."""
    attrs = b"".join(b' a%d="1"' % i for i in range(200_000))
    path.write_bytes(msg().replace("<Справочник.Валюты>".encode(),
                                   "<Справочник.Валюты".encode() + attrs + b">"))


def zip_many_entries(path: Path, count: int = 600_000) -> None:
    """A zip64 whose central directory really lists `count` entries (30 MB): zipfile would
    build an object for each before anyone could count them."""
    name = b"m.xml"
    one = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 20, 0x800, 0, 0x4A00, 0x5575, 0, 0, 0,
                      len(name), 0, 0, 0, 0, 0, 0) + name
    central = one * count
    end64 = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, len(central), 0)
    locator = struct.pack("<IIQI", 0x07064B50, 0, len(central), 1)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path.write_bytes(central + end64 + locator + end)


LARGE = {"text-over-10mb.xml": text_over_10mb, "zip-bomb.zip": zip_bomb, "sparse-2gb-zeros.xml": sparse_zeros,
         "sparse-2gb-after-header.xml": sparse_after_header,
         "sparse-2gb-zeros.zip": sparse_zeros, "prolog-over-64k.xml": big_prolog,
         "zip-600000-entries.zip": zip_many_entries,
         "header-300000-versions.xml": header_300000_versions, "header-over-8mb.xml": header_over_8mb,
         "element-200000-attributes.xml": element_200000_attributes}


# -- not a file: what else can sit under the base's message name, made at test time -------------
# Each takes the path to make and a folder outside the exchange folders (for links to point at).

def _link(target: Path, path: Path) -> None:
    path.symlink_to(target)


def _outside_message(path: Path, outside: Path) -> None:
    target = outside / "Message.xml"
    target.write_bytes(msg())
    _link(target, path)


def _inside_message(path: Path, outside: Path) -> None:
    target = path.with_name("copy-of-the-message.xml")
    target.write_bytes(msg())
    _link(Path(target.name), path)


def _inside_folder(path: Path, outside: Path) -> None:
    sub = path.with_name("sub")
    sub.mkdir()
    _link(Path("sub"), path)


ENTRIES = {
    "entry-directory.xml": lambda path, outside: path.mkdir(),
    "entry-fifo.xml": lambda path, outside: os.mkfifo(path),
    "entry-socket.xml": lambda path, outside: os.mknod(path, stat.S_IFSOCK | 0o600),
    # the state file itself (`outside` is the sandbox's root)
    "entry-link-to-the-state.xml": lambda path, outside: _link(
        outside / "state" / "onecsync.sqlite", path),
    "entry-link-to-a-message-outside.xml": _outside_message,
    "entry-link-to-nothing.xml": lambda path, outside: _link(path.with_name("gone.xml"), path),
    "entry-link-to-a-folder-inside.xml": _inside_folder,
    "entry-link-to-a-file-inside.xml": _inside_message,
}


def build(name: str, folder: Path) -> Path:
    """The case's file: the committed one, or made in `folder` when large."""
    if name in LARGE:
        path = folder / name
        LARGE[name](path)
        return path
    return FILES / name


def main() -> None:
    FILES.mkdir(exist_ok=True)
    for old in FILES.iterdir():
        if old.name not in SMALL:
            old.unlink()
    for name, make in SMALL.items():
        (FILES / name).write_bytes(make())
    print(f"{len(SMALL)} files in {FILES}")


if __name__ == "__main__":
    main()
