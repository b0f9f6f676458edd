"""Model-like latency: seeded, bounded draws and the waits before each frame (no clock)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_orchestra.testing.latency import CHARS_PER_TOKEN, Latency, Pace

bounds = st.tuples(st.floats(min_value=0, max_value=30), st.floats(min_value=0, max_value=30)).map(
    sorted
)
rates = st.tuples(
    st.floats(min_value=0.5, max_value=500), st.floats(min_value=0.5, max_value=500)
).map(sorted)


@given(
    first_token=bounds,
    tokens_per_second=rates,
    seed=st.integers(),
    number=st.integers(min_value=1, max_value=10**6),
)
def test_every_draw_is_within_its_bounds_and_repeats_for_the_same_seed_and_number(
    first_token: list[float], tokens_per_second: list[float], seed: int, number: int
) -> None:
    latency = Latency(
        first_token=(first_token[0], first_token[1]),
        tokens_per_second=(tokens_per_second[0], tokens_per_second[1]),
        seed=seed,
    )
    pace = latency.pace(number)
    assert first_token[0] <= pace.first_token <= first_token[1]
    assert tokens_per_second[0] <= pace.tokens_per_second <= tokens_per_second[1]
    same = Latency(
        first_token=(first_token[0], first_token[1]),
        tokens_per_second=(tokens_per_second[0], tokens_per_second[1]),
        seed=seed,
    )
    assert same.pace(number) == pace


def test_the_seed_decides_the_sequence_of_draws() -> None:
    def firsts(seed: int) -> list[float]:
        return [Latency(seed=seed).pace(n).first_token for n in range(1, 21)]

    assert firsts(7) == firsts(7)
    assert firsts(7) != firsts(8)
    assert len(set(firsts(7))) == 20, "each request draws its own pace"
    spread = firsts(7)
    assert min(spread) < 1.5
    assert max(spread) > 2.5, "the draws cover the range, not one corner of it"


def test_the_defaults_are_a_model_like_one_to_three_seconds_then_30_to_80_tokens_a_second() -> None:
    latency = Latency()
    assert latency.first_token == (1.0, 3.0)
    assert latency.tokens_per_second == (30.0, 80.0)


def test_equal_bounds_give_a_fixed_pace() -> None:
    latency = Latency(first_token=(2, 2), tokens_per_second=(40, 40))
    assert {latency.pace(n) for n in range(1, 10)} == {Pace(first_token=2, tokens_per_second=40)}


@pytest.mark.parametrize(
    "arguments",
    [
        {"first_token": (3.0, 1.0)},
        {"first_token": (-1.0, 1.0)},
        {"tokens_per_second": (0.0, 10.0)},
        {"chunk_chars": 0},
    ],
)
def test_impossible_bounds_are_refused(arguments: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"first_token|tokens_per_second|chunk_chars"):
        Latency(**arguments)  # type: ignore[arg-type]


def test_the_first_frame_waits_for_the_first_token_and_each_frame_for_its_tokens() -> None:
    pace = Pace(first_token=1.5, tokens_per_second=40)
    chars = [0, 0, 0, 24, 24, 10, 0, 0, 0]  # start, ping, block start, 3 deltas, stops
    delays = pace.delays(chars)
    assert delays[0] == 1.5
    assert delays[1:3] == (0.0, 0.0)
    assert delays[3] == pytest.approx(24 / CHARS_PER_TOKEN / 40)
    assert delays[5] == pytest.approx(10 / CHARS_PER_TOKEN / 40)
    assert delays[6:] == (0.0, 0.0, 0.0)
    assert math.fsum(delays) == pytest.approx(pace.total(sum(chars)))
    assert pace.total(58) == pytest.approx(1.5 + 58 / 4 / 40)
