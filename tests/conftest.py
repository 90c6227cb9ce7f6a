"""Shared test configuration: hypothesis profiles and the path to ../shared/data."""

from __future__ import annotations

import os
import pathlib

import pytest
from hypothesis import HealthCheck, settings

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

# "ci" is the default; HYPOTHESIS_PROFILE=nightly runs many more examples. Tests that need a minimum number of
# examples in CI (e.g. routing's >= 500) set it with @settings(max_examples=...) and scale with the profile
# through `examples(n)` below.
settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile(
    "nightly", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def examples(n_ci: int) -> int:
    """At least `n_ci` examples in CI; ten times that in the nightly profile."""
    return n_ci * 10 if PROFILE == "nightly" else n_ci


def require_shared_data(ci: bool | None = None) -> pathlib.Path:
    """../shared/data, or skip the test when it is missing; under CI (CI=true) a missing directory is a failure,
    so a CI run never passes by skipping what it was meant to check."""
    if ci is None:
        ci = os.environ.get("CI", "").lower() == "true"
    if not SHARED_DATA.is_dir():
        message = f"shared data not found at {SHARED_DATA}"
        if ci:
            pytest.fail(f"{message} (CI=true: tests that need it must run)", pytrace=False)
        pytest.skip(message)
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    return require_shared_data()
