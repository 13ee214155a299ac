"""A conversion's result is a function of the object and the two versions alone, not of what the
process converted before: the same objects converted each in a process that converted nothing
yet, and in one that converted them all already, come out the same.

Which path a conversion takes does depend on that history: `formats.relabel` checks a VAT rate's
new content by example (its `_Guide.checked`, which `formats.bytewise` consults too), so the
first object with a rate goes through the target's schema, the next with the same rate does not.
The probe counts the objects the byte path took in each, to show that the paths differed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from onecsync import formats
from onecsync.protocol.normal import normalize_object
from onecsync.protocol.objects import convert
from onecsync.protocol.objects import parse_object
from tests import reference_convert as reference
from tests.conversions import PAIRS
from tests.conversions import against_a_bank_loan
from tests.conversions import objects_of
from tests.conversions import outcome
from tests.conversions import valid_in

_ROOT = Path(__file__).resolve().parent.parent


def _jobs() -> list[tuple[str, str, bytes]]:
    """(source, target, object): every fourth object of the corpus over `PAIRS` (a fork each:
    the whole corpus took 90 s), a receipt the target cannot carry, and one object of each type
    with a rate given every value of 1.8's list, both ways (the rates are what the memory
    holds, so all of them)."""
    jobs = [(s, t, x) for s, t in PAIRS for x in objects_of(s)[::4]]
    jobs.append(("1.17", "1.8", against_a_bank_loan()))
    ns = formats.namespace("1.8")
    values = formats.load("1.8").types[formats.vat.ENUM_TYPE].enumerations
    seen = set()
    for xml in objects_of("1.8"):
        el = parse_object(xml, "1.8")
        rates = [e for e in el.iter(f"{{{ns}}}СтавкаНДС") if not len(e)]
        if not rates or el.tag in seen:
            continue
        seen.add(el.tag)
        for value in values:
            for e in rates:
                e.text = value
            changed = normalize_object(el, ns)
            if not valid_in("1.8", changed):
                continue
            jobs.append(("1.8", "1.17", changed))
            try:
                up = reference.convert(changed, "1.8", "1.17", check=True)[0]
            except formats.Unconvertible:
                continue
            jobs.append(("1.17", "1.8", up))
    return jobs


def _convert(job: tuple[str, str, bytes]) -> list:
    """What `convert(..., valid=True)` makes of `job`, checked and not (digests of the bytes),
    and whether the byte path gave the result."""
    source, target, xml = job
    byte_path = formats.bytewise(xml, source, target) is not None
    out = []
    for check in (True, False):
        got = outcome(lambda *a, **k: convert(*a, **k, valid=True), xml, source, target, check)
        if isinstance(got[0], bytes):
            got = (hashlib.sha256(got[0]).hexdigest(), got[1])
        out.append(list(got))
    return [out, byte_path]


def _fresh(job: tuple[str, str, bytes]) -> list:
    """`_convert(job)` in a child of this process, which has converted nothing yet."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one conversion, its result down the pipe, and out
        os.close(read)
        try:
            with os.fdopen(write, "w") as pipe:
                json.dump(_convert(job), pipe)
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(text)


def probe(warm: bool) -> None:
    """Print the results of `_jobs`, each converted fresh, or after all were converted once."""
    jobs = _jobs()
    if warm:
        for job in reversed(jobs):
            _convert(job)
    print(json.dumps([_convert(job) if warm else _fresh(job) for job in jobs]))


def _run(warm: bool) -> list:
    done = subprocess.run(
        [sys.executable, "-c", f"from tests.test_convert_history import probe; probe({warm})"],
        cwd=_ROOT, capture_output=True, text=True, timeout=900, check=True)
    return json.loads(done.stdout)


@pytest.mark.slow  # two processes, and a child of one for each of ~340 conversions
def test_a_conversion_does_not_depend_on_what_was_converted_before():
    fresh, warm = _run(False), _run(True)
    assert len(fresh) == len(warm) > 300
    assert [r[0] for r in fresh] == [r[0] for r in warm]
    # The histories did make the paths differ (the byte path needs the rates seen before).
    assert sum(r[1] for r in fresh) < sum(r[1] for r in warm)
    assert any(r[0][0][0] == "Unconvertible" for r in fresh)  # refusals compared too
