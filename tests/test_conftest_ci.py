"""tests/conftest.py: a test that needs ../shared/data fails (not skips) under CI=true when it is missing."""

from __future__ import annotations

import pathlib

import pytest

from tests import conftest


def test_missing_shared_data_fails_under_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "SHARED_DATA", tmp_path / "absent")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        conftest.require_shared_data(ci=True)
    with pytest.raises(pytest.skip.Exception):
        conftest.require_shared_data(ci=False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        conftest.require_shared_data()


def test_present_shared_data_is_returned(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "SHARED_DATA", tmp_path)
    assert conftest.require_shared_data(ci=True) == pathlib.Path(tmp_path)
