"""Confidence intervals against published worked examples."""

from __future__ import annotations

import pytest

from wmbench.stats import difference_interval, wilson_interval


def test_wilson_matches_newcombe_1998_table_i():
    # Newcombe (1998a), Table I: 81/263 → Wilson 0.2553 to 0.3662 (95%).
    low, high = wilson_interval(81, 263)
    assert low == pytest.approx(0.2553, abs=1e-4) and high == pytest.approx(0.3662, abs=1e-4)
    # 0/10 → 0 to 0.2775; 10/10 → 0.7225 to 1.
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)


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
