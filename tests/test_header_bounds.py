"""What a base can put in its header or in one start tag is bounded before it is built: the 101st
AvailableVersion, a header past HEADER_LIMIT, a start tag with more than MAX_ATTRIBUTES attributes
or a longer value than MAX_VALUE are refused with memory near a plain run's (the corpus has the
run-level cases: tests/corpus/cases.yaml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from onecsync.errors import MessageRejected
from onecsync.protocol.markup import MAX_ATTRIBUTES
from onecsync.protocol.markup import MAX_VALUE
from onecsync.protocol.markup import MarkupGuard
from tests.corpus import make

ROOT = Path(__file__).resolve().parents[1]


def attrs(n: int, value: bytes = b"1") -> bytes:
    return b"".join(b' a%d="%s"' % (i, value) for i in range(n))


CASES = {
    "plain": (b'<a b="1" c=\'2\'>' + b"x" * 100 + b"</a>", None),
    "at the limit": (b"<a" + attrs(MAX_ATTRIBUTES) + b"/>", None),
    "one more": (b"<a" + attrs(MAX_ATTRIBUTES + 1) + b"/>", "more than 10000 attributes"),
    "values holding >": (b"<a" + attrs(MAX_ATTRIBUTES + 1, b">") + b"/>", "more than 10000"),
    "lines between": (b"<a\n" + attrs(MAX_ATTRIBUTES + 1).replace(b" a", b"\n a") + b"/>",
                      "more than 10000"),
    "declarations": (b"<a" + attrs(MAX_ATTRIBUTES + 1).replace(b" a", b" xmlns:a") + b"/>",
                     "more than 10000 attributes and namespace declarations"),
    "value at the limit": (b'<a b="' + b"x" * MAX_VALUE + b'"/>', None),
    "value one longer": (b'<a b="' + b"x" * (MAX_VALUE + 1) + b'"/>', "longer than 4096 bytes"),
    "long value late": (b"<a" + b' c="1"' * 50 + b" b='" + b"x" * (MAX_VALUE + 1) + b"'/>",
                        "longer than 4096 bytes"),
    "text like attributes": (b"<a>" + b' b="1"' * (2 * MAX_ATTRIBUTES) + b"x" * 9000 + b"</a>",
                             None),
    # The shortest start tag with one attribute too many (refused before its end is read): the
    # guard counts a chunk's `=` only from its size on (markup._MANY_BYTES), so a bound one byte
    # too high would let this through.
    "shortest excess": (b"<a" + b' a=""' * (MAX_ATTRIBUTES + 1), "more than 10000"),
    "shortest at the limit": (b"<a" + b' a=""' * MAX_ATTRIBUTES + b"/>", None),
}


@pytest.mark.parametrize("chunk", [1000, 4096, 32768, 1 << 30])
@pytest.mark.parametrize("name", CASES)
def test_the_guard_counts_a_start_tag_across_any_chunking(name, chunk):
    data, refused = CASES[name]
    guard, line = MarkupGuard("m.xml"), 1
    try:
        for i in range(0, len(data), chunk):
            guard.feed(data[i:i + chunk], line)
            line += data[i:i + chunk].count(b"\n")
    except MessageRejected as exc:
        assert refused and refused in str(exc) and "<a> at line 1" in str(exc), str(exc)
    else:
        assert refused is None


# Address space for the whole reading process: Python, lxml and 1C's schemas need ~60 MB; before
# these bounds, each of the files below needed more (MemoryError), a flood in the header 211 MB.
LIMIT_MB = 150
_READ = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
sys.path.insert(0, {root!r})
from onecsync.errors import MessageRejected
from onecsync.protocol.reader import MessageReader
try:
    with open(sys.argv[1], "rb") as fh:
        reader = MessageReader(fh, "m.xml", check_schema=True)
        print("taken", sum(1 for _ in reader.objects()))
except MessageRejected as exc:
    print("rejected:", exc)
"""


@pytest.mark.parametrize("make_file, refused", [
    (make.header_300000_versions, "Header has more than 100 AvailableVersion"),
    (make.element_200000_attributes, "more than 10000 attributes"),
    (make.header_over_8mb, "the Header is larger than 8 MiB"),
])
def test_a_flood_in_the_header_or_a_tag_is_refused_in_bounded_memory(tmp_path, make_file, refused):
    path = tmp_path / "m.xml"
    make_file(path)
    script = _READ.format(limit=LIMIT_MB << 20, root=str(ROOT))
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "MemoryError" not in out.stderr, out.stderr[-2000:]
    assert out.stdout.startswith("rejected:") and refused in out.stdout, out.stdout


def test_a_long_field_is_cut_in_the_one_line_of_run_and_validate(tmp_path):
    """libxml2 quotes a bad value whole (up to 64 KB) in its message; the line shows 60 chars."""
    from onecsync.protocol.check import check_message
    from tests.test_header_numbers import run_reason

    data = make.msg().replace(b"<msg:CreationDate>", b"<msg:CreationDate>" + b"x" * 100_000)
    path = tmp_path / "m.xml"
    path.write_bytes(data)
    reason, check = run_reason(data), check_message(path)
    assert reason == check.problems[0].text()
    assert reason.startswith("Header: CreationDate: Element 'CreationDate': 'xxx") and len(reason) < 300
