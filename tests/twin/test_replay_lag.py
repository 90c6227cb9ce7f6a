"""The replay's lag meter: kept up or not, by how much, and the speed that would hold."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtn.twin.replaylag import LagMeter, lag_message


def test_kept_up_and_fell_behind():
    meter = LagMeter(speed=600.0)
    for late in (0.001, 0.002, 0.01, -0.5):  # early wake-ups count as on time
        meter.record(late)
    lag = meter.summary()
    assert lag["kept_up"] and lag["actions"] == 4 and lag["lag_max_wall_s"] == 0.01
    assert "kept up" in lag_message(lag, 600.0)

    meter = LagMeter(speed=600.0)
    for late in [0.5] * 19 + [3.0]:
        meter.record(late)
    lag = meter.summary()
    assert not lag["kept_up"]
    assert lag["lag_p95_plan_s"] == 300.0 and lag["lag_max_plan_s"] == 1800.0
    assert lag["speed_that_would_hold"] == 120.0
    text = lag_message(lag, 600.0)
    assert "could NOT keep up" in text and "300 plan s" in text and "about 120" in text


def test_nothing_measured():
    assert "nothing" in lag_message(LagMeter(speed=10.0).summary(), 10.0)


@given(
    st.lists(st.floats(min_value=-10, max_value=100, allow_nan=False), max_size=50),
    st.floats(min_value=0.1, max_value=1e4),
)
def test_summary_is_consistent(lates, speed):
    meter = LagMeter(speed=speed)
    for late in lates:
        meter.record(late)
    lag = meter.summary()
    assert lag["actions"] == len(lates)
    assert 0 <= lag["lag_p50_wall_s"] <= lag["lag_p95_wall_s"] <= lag["lag_max_wall_s"]
    values = sorted(max(0.0, x) for x in lates)
    p95 = values[round(0.95 * (len(values) - 1))] if values else 0.0
    assert lag["kept_up"] == (p95 * speed <= 60.0)
    if not lag["kept_up"]:
        assert 60.0 / p95 == pytest.approx(lag["speed_that_would_hold"], abs=0.05)
        assert lag["speed_that_would_hold"] <= round(speed, 1) + 0.05
