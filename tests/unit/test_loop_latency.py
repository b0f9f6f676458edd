"""The loop's event latency figures."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_orchestra.latency import WINDOW, LoopLatency, percentile


def test_before_any_event_there_is_no_figure() -> None:
    assert LoopLatency().as_json() == {"events": 0, "p50Ms": None, "p99Ms": None, "maxMs": None}


def test_percentiles_in_milliseconds() -> None:
    latency = LoopLatency()
    for ms in range(1, 101):
        latency.record(ms / 1000)
    assert latency.as_json() == {"events": 100, "p50Ms": 50.0, "p99Ms": 99.0, "maxMs": 100.0}


def test_the_window_keeps_the_latest_events_but_counts_and_max_keep_all() -> None:
    latency = LoopLatency()
    latency.record(5.0)
    for _ in range(WINDOW):
        latency.record(0.001)
    figures = latency.as_json()
    assert figures["events"] == WINDOW + 1
    assert figures["p99Ms"] == 1.0
    assert figures["maxMs"] == 5000.0


def test_a_clock_step_backwards_counts_as_no_wait() -> None:
    latency = LoopLatency()
    latency.record(-0.5)
    assert latency.as_json()["maxMs"] == 0.0


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1), st.floats(0, 1))
def test_a_percentile_is_one_of_the_values_and_ordered(values: list[float], f: float) -> None:
    ordered = sorted(values)
    assert percentile(ordered, f) in ordered
    assert percentile(ordered, 0.5) <= percentile(ordered, 0.99)


def test_no_percentile_of_nothing() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)
