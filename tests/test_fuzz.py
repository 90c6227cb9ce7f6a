"""A short run of the fuzzing campaign (tools/fuzz.py, docs/security.md): every input ends in success or a
typed dtn.errors error; no crash, no hang, bounded memory. The same harnesses also run under hypothesis."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dtn.errors import DtnError

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _load_fuzz():
    spec = importlib.util.spec_from_file_location("dtn_tools_fuzz", ROOT / "tools" / "fuzz.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fuzz = _load_fuzz()

COUNTS = {"codec": 3000, "tcpcl": 2000, "plan": 1000, "config": 500, "agent": 500}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("target", sorted(COUNTS))
def test_short_campaign_finds_nothing(target, tmp_path):
    report = fuzz.run_campaign(target, COUNTS[target], seed=7, crashes_dir=tmp_path, hang_s=2.0, max_rss_mib=512)
    summary = report.summary()
    assert summary["inputs"] == COUNTS[target]
    assert report.ok, (summary, [p.name for p in tmp_path.iterdir()][:5], report.crashes[:3])


def _typed_or_success(runner, data: bytes) -> None:
    try:
        runner.run(data)
    except DtnError:
        pass


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.binary(max_size=2048)
    | st.sampled_from(fuzz._bundle_seeds()).flatmap(
        lambda seed: st.integers(0, len(seed) - 1).flatmap(
            lambda i: st.binary(min_size=1, max_size=8).map(lambda b: seed[:i] + b + seed[i + len(b) :])
        )
    )
)
def test_codec_under_hypothesis(data):
    _typed_or_success(fuzz.CodecRunner(), data)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(fuzz._tcpcl_seeds()), st.binary(max_size=256), st.integers(0, 400))
def test_tcpcl_under_hypothesis(seed, noise, at):
    _typed_or_success(fuzz.TcpclRunner(), seed[:at] + noise + seed[at:])


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(fuzz._plan_seeds()), st.text(max_size=40), st.integers(0, 400))
def test_plan_readers_under_hypothesis(seed, noise, at):
    _typed_or_success(fuzz.PlanRunner(), seed[:at] + noise.encode("utf-8", "surrogatepass") + seed[at:])


def test_cli(capsys):
    assert fuzz.main(["--target", "codec", "--count", "200"]) == 0
    assert '"inputs": 200' in capsys.readouterr().out
