"""Every case of the hostile-input corpus (tests/corpus/cases.yaml): its exit code, one clear line
naming the file and the problem, the exchange state as it was, the quarantine, and recovery; for
a file that looks unfinished, the wait before it is rejected; for what is not a file at all, that
nothing of it is read."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat

import pytest
import yaml

from onecsync.quarantine import HEAD_LIMIT
from tests import factory as f
from tests.conftest import unblocking
from tests.corpus import make

CASES = yaml.safe_load((make.HERE / "cases.yaml").read_text(encoding="utf-8"))
BY_FILE = {c["file"]: c for c in CASES}
FIRST = [f.counterparty(f.ref(1), "ООО Ромашка")]
LATER = f.Msg(message_no=2, received_no=1, created="2026-11-22T09:00:00",
              objects=[f.counterparty(f.ref(7), "ООО Поздний")])


def test_every_corpus_file_has_a_case_and_the_committed_files_are_current():
    assert set(BY_FILE) == set(make.SMALL) | set(make.LARGE) | set(make.ENTRIES)
    assert len(BY_FILE) == len(CASES), "a file is described twice"
    assert sorted(p.name for p in make.FILES.iterdir()) == sorted(make.SMALL)
    stale = [n for n, build in make.SMALL.items() if (make.FILES / n).read_bytes() != build()]
    assert not stale, f"run `python -m tests.corpus.make`: {stale}"
    for c in CASES:
        assert c["outcome"] in ("rejected", "conflict", "config", "ignored", "accepted",
                                "incomplete", "stray"), c
        assert c["outcome"] != "rejected" or (c["exit"] == 5 and c.get("error")), c
        assert c["outcome"] != "incomplete" or (c["exit"] == 0 and c.get("error")), c
        assert c["outcome"] != "stray" or (c["exit"] == 3 and c.get("error")), c


def place(sandbox, name: str):
    """The case's file as the base's current message (large ones are made in place, sparse)."""
    suffix = ".zip" if name.endswith(".zip") else ".xml"
    if name in make.ENTRIES:
        path = sandbox.incoming("accounting", suffix)
        path.unlink()
        make.ENTRIES[name](path, sandbox.root)
        return path
    if name in make.LARGE:
        path = sandbox.put_raw("accounting", b"", suffix)
        mtime = path.stat().st_mtime_ns
        make.LARGE[name](path)
        os.utime(path, ns=(mtime, mtime))
        return path
    return sandbox.put_raw("accounting", make.FILES / name, suffix)


def lines(err: str, level: str) -> list[str]:
    return [ln for ln in err.splitlines() if f"onecsync: {level}: " in ln]


def quarantined(sandbox) -> list[dict]:
    folder = sandbox.state_path.parent / "quarantine"
    if not folder.exists():
        return []
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    out = []
    for p in sorted(folder.glob("*.json")):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
        out.append({**json.loads(p.read_text(encoding="utf-8")), "_json": p})
    return out


class Reads:
    """Bytes this process got from read calls while a step ran, counted by the kernel
    (/proc/self/io rchar), not timed: `with reads("waiting"): ...`, then `reads.steps`."""

    PROC = "/proc/self/io"

    def __init__(self) -> None:
        self.steps: dict[str, int] = {}

    @staticmethod
    def _rchar() -> int:
        with open(Reads.PROC, encoding="ascii") as fh:
            return int(next(ln for ln in fh if ln.startswith("rchar:")).split()[1])

    @contextlib.contextmanager
    def __call__(self, step: str):
        if not os.path.exists(self.PROC):
            yield
            return
        start = self._rchar()
        yield
        self.steps[step] = self._rchar() - start


def check_read_once(reads: Reads) -> None:
    """A 2 GB file is judged on a few MiB; its rejection reads it whole once, for its sha256;
    the runs after it only fingerprint it."""
    if not os.path.exists(Reads.PROC):
        pytest.skip("needs Linux /proc/self/io to count the bytes read")
    steps = reads.steps
    assert steps["waiting"] < 16 << 20, steps
    assert 2 * make.GIB <= steps["rejected"] < 2 * make.GIB + (16 << 20), steps
    assert steps["again"] < 4 << 20, steps


def digests(sandbox) -> dict[str, str]:
    """What every regular file outside the state folder holds (a link's target included)."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sandbox.root.rglob("*")
            if p.is_file() and not p.is_symlink() and "state" not in p.parts}


# What only the run can know: which base's folder the file was in (validate sees a file alone).
NOT_VALIDATED = {"from-the-other-base.xml"}


# A 2 GB sparse file costs seconds of reading zeros: slow, like the other inherently costly tests.
# Those cases also count the bytes each run reads (`check_read_once`).
@pytest.mark.parametrize("case", [pytest.param(c, id=c["file"], marks=[pytest.mark.slow]
                                               if c["file"].startswith("sparse-") else [])
                                  for c in CASES])
def test_corpus_case(sandbox, case):
    sandbox.put("accounting", f.Msg(objects=FIRST))
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    path = place(sandbox, case["file"])
    huge = case["file"].startswith("sparse-2gb")
    assert not huge or path.stat().st_size == 2 * make.GIB
    reads = Reads()
    before = sandbox.dump()
    runs = len(sandbox.journal())
    files = digests(sandbox) if case["outcome"] == "stray" else None

    with unblocking(path) if stat.S_ISFIFO(os.lstat(path).st_mode) else contextlib.nullcontext(), \
            reads("waiting"):
        code, report, err = sandbox.run("pull-catalogs")

    assert code == case["exit"], err
    assert "Traceback" not in err and "internal error" not in err, err
    assert report["exit_code"] == case["exit"]
    if case.get("warning"):
        assert any(case["warning"] in ln for ln in lines(err, "warning")), err
    errors = lines(err, "error")
    if case["outcome"] in ("rejected", "conflict", "config", "stray"):
        assert len(errors) == 1, err
        assert case["error"] in errors[0], err
        if case["outcome"] in ("rejected", "stray"):
            assert path.name in errors[0], err
        # Only the run journal records the failure; the exchange state is as it was.
        assert sandbox.dump() == before
        assert len(sandbox.journal()) == runs + 1
        assert sandbox.journal()[0][0] == case["exit"]
        assert case["error"] in sandbox.journal()[0][1]
        # Not confirmed: the base still gets our ReceivedNo 1.
        assert sandbox.outgoing("accounting")["received_no"] == 1
    else:
        assert not errors, err
    if case["outcome"] == "rejected" and case["file"] not in NOT_VALIDATED:
        # validate judges a file as the run does, for the same reason (envelope.judge_header)
        vcode, vout, verr = sandbox.human("validate", str(path))
        assert vcode == 5 and case["error"] in vout + verr, vout + verr
    if case["outcome"] == "rejected":
        check_quarantine(sandbox, case, path)
        check_skipped_then_recovered(sandbox, path, reads)
    elif case["outcome"] == "incomplete":
        (note,) = [ln for ln in lines(err, "warning") if "is not complete yet" in ln]
        assert path.name in note and case["error"] in note, err
        assert report["peers"]["accounting"]["received"]["incomplete"] is True
        assert len(sandbox.journal()) == runs + 1 and sandbox.journal()[0][0] == 0
        check_waited_then_rejected(sandbox, case, path, before, reads)
    elif case["outcome"] == "stray":
        assert quarantined(sandbox) == []
        # Nothing was read through it, nothing written anywhere but the state's journal.
        assert digests(sandbox) == files
        code, _, err = sandbox.run("pull-catalogs")  # a human must act: it is not muted
        assert code == 3 and sandbox.dump() == before, err
        code, check, err = sandbox.run("check")
        assert code == 3, err
        assert any(case["error"] in p["message"] and path.name in p["message"]
                   for p in check["problems"]), check["problems"]
    elif case["outcome"] in ("conflict", "config"):
        assert quarantined(sandbox) == []
        code, _, err = sandbox.run("pull-catalogs")  # a human must act: it is not muted
        assert code == case["exit"] and sandbox.dump() == before
    elif case["outcome"] == "ignored":
        assert sandbox.dump() == before
        assert quarantined(sandbox) == []
    else:
        received = report["peers"]["accounting"]["received"]
        assert received["objects"] == case["objects"]
        assert received.get("parked", 0) == case.get("parked", 0)
        assert sandbox.numbers("accounting")[1] == case["received_no"]
        assert sandbox.outgoing("accounting")["received_no"] == case["received_no"]
        assert len(sandbox.outgoing("crm")["objects"]) == case["objects"]
        assert quarantined(sandbox) == []
    if huge:
        check_read_once(reads)


def check_waited_then_rejected(sandbox, case, path, before, reads: Reads) -> None:
    """Noted, not rejected, while it stays unfinished for less than settle_minutes; then
    rejected (exit 5), kept and reported once like any other bad file."""
    assert sandbox.dump() == before
    assert quarantined(sandbox) == []
    assert sandbox.outgoing("accounting")["received_no"] == 1
    code, report, err = sandbox.run("pull-catalogs")  # a few minutes later: still waiting
    assert code == 0 and not lines(err, "error"), err
    received = report["peers"]["accounting"]["received"]
    assert received["incomplete"] is True and case["error"] in received["reason"]
    assert quarantined(sandbox) == [] and sandbox.dump() == before
    sandbox.settle()
    with reads("rejected"):
        code, report, err = sandbox.run("pull-catalogs")
    assert code == 5, err
    (line,) = lines(err, "error")
    assert case["error"] in line and path.name in line, err
    assert sandbox.dump() == before
    assert sandbox.outgoing("accounting")["received_no"] == 1
    assert not (sandbox.state_path.parent / "quarantine" / "accounting.pending").exists()
    check_quarantine(sandbox, case, path)
    check_skipped_then_recovered(sandbox, path, reads)


def check_quarantine(sandbox, case, path) -> None:
    (entry,) = quarantined(sandbox)
    size = path.stat().st_size
    copy = entry["_json"].parent / entry["copy"]
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert entry["peer"] == "accounting" and entry["file"] == str(path)
    assert case["error"] in entry["reason"] and entry["size"] == size
    with open(path, "rb") as fh:
        head = fh.read(HEAD_LIMIT)
    assert copy.read_bytes() == head
    assert entry["sha256"] == sha256_of(path) and entry["sha256_of"] == "the file"
    assert copy.name.endswith(".head") == (size > HEAD_LIMIT)


def sha256_of(path) -> str:
    """The file's sha256. One that is data, then a hole to its end (a sparse corpus file: the
    filesystem's layout says so) is hashed from its data and size, not by reading 2 GB of zeros."""
    with open(path, "rb") as fh:
        fd, size = fh.fileno(), os.fstat(fh.fileno()).st_size
        hole = os.lseek(fd, 0, os.SEEK_HOLE)
        if hole < size:
            try:
                os.lseek(fd, hole, os.SEEK_DATA)
            except OSError as exc:  # ENXIO: no data after the first hole
                if exc.errno == errno.ENXIO:
                    return make.sparse_sha256(os.pread(fd, hole, 0).rstrip(b"\0"), size)
                raise
        fh.seek(0)  # the lseeks moved the descriptor's offset
        whole = hashlib.sha256()
        while chunk := fh.read(1 << 24):
            whole.update(chunk)
        return whole.hexdigest()


def check_skipped_then_recovered(sandbox, path, reads: Reads) -> None:
    before = sandbox.dump()
    with reads("again"):
        code, report, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert not lines(err, "error"), err
    (notice,) = [ln for ln in lines(err, "warning") if "was rejected on" in ln]
    assert path.name in notice
    assert report["peers"]["accounting"]["received"]["rejected_before"]
    assert sandbox.dump() == before
    assert len(quarantined(sandbox)) == 1
    # The base writes its next message: it goes through as if nothing had happened.
    path.unlink()
    sandbox.put("accounting", LATER)
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert sandbox.numbers("accounting") == (2, 2, 1)
    assert ("Справочник.Контрагенты", f.ref(7)) in sandbox.outgoing("crm")["objects"]


def test_a_schema_invalid_object_is_parked_not_relayed(sandbox):
    """Found by the fuzzer: a counterparty with its КлючевыеСвойства twice is staged and sent on."""
    good = f.counterparty(f.ref(2), "АО Василек")
    keys = good[good.index("<КлючевыеСвойства>"):good.index("</КлючевыеСвойства>") + 19]
    doubled = good.replace(keys, keys + keys)
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка"), doubled]))
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 7 and report["peers"]["accounting"]["received"]["parked"] == 1, err
    out = sandbox.outgoing("crm")  # valid per 1C's schema
    assert out["objects"] == [("Справочник.Контрагенты", f.ref(1))]
    assert "parked: not valid per EnterpriseData 1.8: Справочник.Контрагенты/КлючевыеСвойства" in err \
        and "This element is not expected" in err
