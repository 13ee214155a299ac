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
