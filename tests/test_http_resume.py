"""The base's long export or import over HTTP is waited for across runs (review R4 #3).

An UploadData or DownloadData still running after transport.wait_timeout used to be abandoned:
every run started a new one, so an export longer than wait_timeout was never read (exit 4 for
ever, one more export left on the 1C server each run). Its OperationID is now kept in the spool
and the next run polls the same operation; after operations.RESUME_RUNS runs it is given up
with one line (exit 3) and the run after starts a new one. Against the emulated service
(tests/exchange_service.py); the polls' pauses are recorded, not slept.
"""

from __future__ import annotations

import re

import pytest

from onecsync import httpclient
from onecsync.errors import ConfigError
from onecsync.errors import TemporaryError
from onecsync.transport import operations
from tests.emulator import data as d
from tests.emulator.remote import PASSWORD
from tests.emulator.remote import PASSWORD_ENV
from tests.emulator.remote import http_world
from tests.test_http_transport import deliver  # noqa: F401 (the fixture below is its module's)
from tests.test_http_transport import deliver_not_yet
from tests.test_http_transport import http  # noqa: F401

# wait_timeout 3: polls after 1 s and 2 s, two a run.
BUSY = {"wait_timeout": 3}


def test_an_export_still_running_is_waited_for_by_the_next_fetch_not_started_again(http):  # noqa: F811
    http.service.long_polls = 4
    t = http.transport(**BUSY)
    for _ in range(2):
        with pytest.raises(TemporaryError) as exc:
            t.fetch()
        assert "still busy with the export of its message" in str(exc.value)
    incoming = http.transport(**BUSY).fetch()  # a new run: a new transport, the same spool
    assert incoming is not None
    with incoming.open() as stream:
        assert [stream.read()] == http.served.exported
    assert len(http.service.calls("UploadData")) == 1 and http.base.sent_no == 1
    assert http.transport(**BUSY).operations.pending(operations.EXPORT) is None


def test_an_import_still_running_is_waited_for_before_any_new_message(http):  # noqa: F811
    http.service.long_polls = 4
    fp, error = deliver_not_yet(http.transport(**BUSY))
    assert "still busy with the import of our message" in str(error)
    with pytest.raises(TemporaryError):  # the next run: still importing, nothing new sent
        http.transport(**BUSY).in_place(fp)
    assert http.transport(**BUSY).in_place(fp)  # and the one after: imported, its receipt kept
    assert http.transport(**BUSY).in_place(fp)
    assert len(http.service.calls("DownloadData")) == 1
    assert not http.transport(**BUSY).in_place("another")


def test_an_operation_that_outlasts_its_runs_is_given_up_and_a_new_one_started(
        http, monkeypatch):  # noqa: F811
    monkeypatch.setattr(operations, "RESUME_RUNS", 3)
    http.service.long_polls = 10_000
    for _ in range(2):
        with pytest.raises(TemporaryError):
            http.transport(**BUSY).fetch()
    with pytest.raises(ConfigError) as exc:
        http.transport(**BUSY).fetch()
    assert "the base's export of its message takes longer than 3 runs of " \
           "transport.wait_timeout (3 s each): given up" in str(exc.value)
    assert len(http.service.calls("UploadData")) == 1
    with pytest.raises(TemporaryError):
        http.transport(**BUSY).fetch()
    assert len(http.service.calls("UploadData")) == 2


def test_a_failed_export_is_forgotten_and_the_next_fetch_starts_a_new_one(http, monkeypatch):  # noqa: F811
    http.service.long_polls = 1
    export, failing = http.base.export_message, [True]

    def once_broken():
        if failing:
            failing.pop()
            raise RuntimeError("Не заполнено поле Организация")
        return export()
    monkeypatch.setattr(http.base, "export_message", once_broken)
    with pytest.raises(TemporaryError) as exc:
        http.transport(**BUSY).fetch()
    assert "failed the export of its message" in str(exc.value)
    assert http.transport(**BUSY).fetch() is not None
    assert len(http.service.calls("UploadData")) == 2


def test_a_slow_base_is_exchanged_with_over_http_in_a_few_runs(tmp_path, monkeypatch):
    """The reviewer's scene: the base's export and import take longer than one run waits."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    monkeypatch.setattr(operations, "FIRST_POLL", 0.01)
    monkeypatch.setattr(httpclient, "BACKOFF_BASE", 0.001)
    # wait_timeout 1 s: ~7 polls a run (0.01 s doubling); the base answers Active 12 times.
    with http_world(tmp_path, long_polls=12) as world:
        d.seed_accounting(world.acc)
        text = world.config.read_text(encoding="utf-8")
        world.config.write_text(re.sub(r"(kind: http, [^}]*)\}", r"\1, wait_timeout: 1}", text),
                                encoding="utf-8")
        first, second = world.run(), world.run()
        assert (first.code, second.code) == (4, 4), second.stderr
        assert "still busy with the export of its message" in first.stderr
        # One export of the base's, waited for over two runs and read; not one a run.
        assert world.acc.sent_no == 1 and world.numbers("accounting")[1] == 1
        assert "still busy with the import of our message" in second.stderr
        world.run()  # waits for that import (while the base's next export runs)
        service = world.services["accounting"]
        assert len(service.calls("DownloadData")) == 1 and len(service.imported) == 1
        assert len(service.calls("UploadData")) == 2
