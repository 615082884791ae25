"""The arithmetic of A/B tests: Wilson intervals, two-proportion z-tests and the
deterministic split of visitors, checked against published values."""

from __future__ import annotations

from collections import Counter

import pytest

from membership_sdk.experiments import (
    ExperimentError,
    assign,
    compare,
    two_proportion_z_test,
    wilson_interval,
)


# -- Wilson score interval ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17, table I (method 3, Wilson score).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        # A textbook case: 10 of 100.
        (10, 100, 0.0552, 0.1744),
    ],
)
def test_the_wilson_interval_matches_published_values(
    successes: int, trials: int, low: float, high: float
) -> None:
    got = wilson_interval(successes, trials)

    assert got == pytest.approx((low, high), abs=1e-4)


def test_the_interval_of_no_trials_is_everything() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_a_wider_confidence_gives_a_wider_interval() -> None:
    low95, high95 = wilson_interval(30, 200, 0.95)
    low99, high99 = wilson_interval(30, 200, 0.99)

    assert low99 < low95
    assert high99 > high95


def test_the_interval_stays_within_zero_and_one() -> None:
    assert wilson_interval(50, 50) == pytest.approx((0.9287, 1.0), abs=1e-4)


@pytest.mark.parametrize(("successes", "trials"), [(-1, 10), (11, 10), (1, -2)])
def test_impossible_counts_are_refused_naming_them(successes: int, trials: int) -> None:
    with pytest.raises(ExperimentError, match=repr(successes)):
        wilson_interval(successes, trials)


def test_a_confidence_outside_zero_and_one_is_refused() -> None:
    with pytest.raises(ExperimentError, match=r"1\.5"):
        wilson_interval(1, 10, 1.5)


# -- two-proportion z-test ------------------------------------------------------------------
def test_the_z_test_matches_a_worked_example() -> None:
    # 200/1000 against 250/1000: pooled p = 0.225, SE = 0.018675, z = 2.6774, p = 0.0074.
    result = two_proportion_z_test(200, 1000, 250, 1000)

    assert result.z == pytest.approx(2.6774, abs=1e-4)
    assert result.p_value == pytest.approx(0.00742, abs=1e-5)
    assert result.significant()


def test_a_z_just_above_196_is_just_below_five_percent() -> None:
    # 120/1000 against 150/1000: pooled p = 0.135, SE = 0.015282, z = 1.9630, p = 0.0496.
    result = two_proportion_z_test(120, 1000, 150, 1000)

    assert result.z == pytest.approx(1.9630, abs=1e-4)
    assert result.p_value == pytest.approx(0.0496, abs=1e-4)
    assert result.significant()


def test_a_lower_rate_gives_a_negative_z_and_the_same_p_value() -> None:
    up = two_proportion_z_test(200, 1000, 250, 1000)
    down = two_proportion_z_test(250, 1000, 200, 1000)

    assert down.z == pytest.approx(-up.z)
    assert down.p_value == pytest.approx(up.p_value)


def test_equal_rates_are_not_significant() -> None:
    result = two_proportion_z_test(30, 300, 10, 100)

    assert result.z == pytest.approx(0.0)
    assert result.p_value == pytest.approx(1.0)
    assert not result.significant()


@pytest.mark.parametrize("counts", [(0, 0, 5, 50), (0, 100, 0, 100), (100, 100, 50, 50)])
def test_nothing_to_compare_gives_p_one(counts: tuple[int, int, int, int]) -> None:
    assert two_proportion_z_test(*counts).p_value == 1.0


# -- comparing variants ---------------------------------------------------------------------
def test_compare_tests_every_variant_against_the_first() -> None:
    control, better = compare([(1000, 200), (1000, 250)])

    assert control.versus_control is None
    assert control.rate == pytest.approx(0.2)
    assert better.versus_control is not None
    assert better.versus_control.p_value == pytest.approx(0.00742, abs=1e-5)


def test_compare_caps_conversions_at_exposures() -> None:
    (only,) = compare([(3, 5)])

    assert only.conversions == 3
    assert only.rate == 1.0


def test_a_variant_nobody_saw_has_no_rate() -> None:
    (nobody,) = compare([(0, 0)])

    assert nobody.rate is None


# -- assignment -----------------------------------------------------------------------------
def test_a_visitor_always_gets_the_same_variant() -> None:
    picks = {assign("member-42", "test:1", [1, 1, 1]) for _ in range(20)}

    assert len(picks) == 1


def test_tests_split_independently() -> None:
    together = sum(
        assign(f"v{i}", "test:1", [1, 1]) == assign(f"v{i}", "test:2", [1, 1]) for i in range(4000)
    )

    assert 1800 < together < 2200  # about half, not all: the tests are not correlated


@pytest.mark.parametrize("weights", [[1, 1], [1, 3], [2, 1, 1]])
def test_visitors_are_split_as_the_weights_say(weights: list[int]) -> None:
    n = 20_000
    counts = Counter(assign(f"visitor-{i}", "test:7", weights) for i in range(n))
    total = sum(weights)

    for index, weight in enumerate(weights):
        expected = n * weight / total
        # Within 4 standard deviations of a binomial count.
        sd = (n * (weight / total) * (1 - weight / total)) ** 0.5
        assert abs(counts[index] - expected) < 4 * sd


def test_a_variant_of_weight_zero_gets_no_one() -> None:
    picks = {assign(f"v{i}", "t", [0, 1]) for i in range(500)}

    assert picks == {1}


@pytest.mark.parametrize("weights", [[], [0, 0], [1, -1]])
def test_unusable_weights_are_refused(weights: list[int]) -> None:
    with pytest.raises(ExperimentError, match="test 't'"):
        assign("v", "t", weights)
