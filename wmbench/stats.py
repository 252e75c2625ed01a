"""Confidence intervals for error rates, so gates fail on significant regressions, not noise.

An error rate is a binomial proportion k/n over the test images. Its interval is Wilson's score
interval (Wilson, JASA 1927), which stays inside [0, 1] and behaves at 0 and n errors; the
interval of a difference of two error rates is Newcombe's hybrid score interval built from the
two Wilson intervals (Newcombe, Stat. Med. 1998, method 10).
"""

from __future__ import annotations

import math


def wilson_interval(wrong: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of the proportion ``wrong / n``, computed by scipy.

    An empty sample (``n <= 0``) says nothing: the interval is all of [0, 1].
    """
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= wrong <= n:
        raise ValueError(f"wrong must be between 0 and n={n}, got {wrong}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    from scipy.stats import binomtest  # lazily: scipy.stats takes about a second to import

    interval = binomtest(wrong, n).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(interval.low), float(interval.high))


def difference_interval(
    wrong_a: int, n_a: int, wrong_b: int, n_b: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Newcombe's interval of ``wrong_a / n_a − wrong_b / n_b`` (independent samples).

    Hand-written because no well-kept library has it: scipy has the Wilson interval of one
    proportion but not Newcombe's hybrid score interval of a difference (1998, method 10), which
    combines the two Wilson intervals as below.
    """
    p_a, p_b = wrong_a / n_a, wrong_b / n_b
    low_a, high_a = wilson_interval(wrong_a, n_a, confidence)
    low_b, high_b = wilson_interval(wrong_b, n_b, confidence)
    difference = p_a - p_b
    low = difference - math.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2)
    high = difference + math.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2)
    return (low, high)
