"""Confidence intervals against published worked examples."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from wmbench.stats import difference_interval, wilson_interval


def test_wilson_matches_newcombe_1998_table_i():
    # Newcombe (1998a), Table I: 81/263 → Wilson 0.2553 to 0.3662 (95%).
    low, high = wilson_interval(81, 263)
    assert low == pytest.approx(0.2553, abs=1e-4) and high == pytest.approx(0.3662, abs=1e-4)
    # 0/10 → 0 to 0.2775; 10/10 → 0.7225 to 1.
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)


@pytest.mark.parametrize("confidence", [0.5, 0.9, 0.95, 0.99, 0.999])
@pytest.mark.parametrize(
    ("wrong", "n"), [(0, 1), (1, 1), (0, 7), (3, 7), (7, 7), (81, 263), (1, 10000), (4321, 10000)]
)
def test_wilson_matches_the_literal_formula(wrong, n, confidence):
    # Wilson (1927): (p + z²/2n ± z·sqrt(p(1−p)/n + z²/4n²)) / (1 + z²/n).
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    p = wrong / n
    centre = p + z**2 / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    expected = ((centre - half) / (1 + z**2 / n), (centre + half) / (1 + z**2 / n))
    assert wilson_interval(wrong, n, confidence) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_wilson_of_an_empty_sample_is_everything():
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_difference_matches_newcombe_1998b_example():
    # Newcombe (1998b), method 10, example (a): 56/70 − 48/80 → 0.0524 to 0.3339.
    low, high = difference_interval(56, 70, 48, 80)
    assert low == pytest.approx(0.0524, abs=1e-4) and high == pytest.approx(0.3339, abs=1e-4)


def test_intervals_narrow_with_more_images_and_widen_with_confidence():
    small = wilson_interval(10, 100)
    large = wilson_interval(100, 1000)
    assert large[1] - large[0] < small[1] - small[0]
    assert wilson_interval(10, 100, 0.99)[0] < wilson_interval(10, 100, 0.95)[0]
    with pytest.raises(ValueError):
        wilson_interval(1, 10, 1.5)
