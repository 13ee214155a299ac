"""The test harness itself: what a missing ../shared/ does, and that an in-process onecsync run
leaves the test process as it found it."""

from __future__ import annotations

import pytest

from tests import conftest


def test_missing_shared_skips_with_its_path_and_fails_in_ci(tmp_path, monkeypatch):
    monkeypatch.setattr(conftest, "SHARED", tmp_path / "shared")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="reference data not found at .*shared/reference/x"):
        conftest.need_shared("reference", "x")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="reference data not found at .*shared/reference/x"):
        conftest.need_shared("reference", "x")
    (tmp_path / "shared" / "reference" / "x").mkdir(parents=True)
    assert conftest.need_shared("reference", "x") == tmp_path / "shared" / "reference" / "x"


def test_an_in_process_run_leaves_the_process_as_it_found_it(tmp_path, monkeypatch):
    import logging
    import os
    import signal

    from onecsync import console
    from tests.emulator.world import REPO
    from tests.emulator.world import isolated

    monkeypatch.chdir(tmp_path)
    logger = logging.getLogger("onecsync")
    before = (dict(os.environ), list(logger.handlers), logger.level, signal.getsignal(signal.SIGTERM),
              console._stderr)
    umask = os.umask(0o027)
    try:
        with isolated({"ONECSYNC_HARNESS": "1"}):
            assert os.environ["ONECSYNC_HARNESS"] == "1" and os.getcwd() == str(REPO)
            os.environ["LEFT_BEHIND"] = "x"
            os.umask(0o077)
            signal.signal(signal.SIGTERM, lambda *a: None)
            console.setup_logging(0)
            console.stderr()
        assert dict(os.environ) == before[0] and os.getcwd() == str(tmp_path)
        assert os.umask(0o027) == 0o027
        assert (list(logger.handlers), logger.level, signal.getsignal(signal.SIGTERM),
                console._stderr) == before[1:]
    finally:
        os.umask(umask)
