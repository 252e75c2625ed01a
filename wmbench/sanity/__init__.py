"""Sanity checks against false robustness: small functions the runner calls at their places in
its loop, after AutoAttack's ``checks.py`` (Croce & Hein, arXiv:2003.01690) and the
obfuscated-gradients checklist (Athalye et al., arXiv:1802.00420).

:mod:`.checks` holds wmbench's own (error falling as ε grows, a gradient attack weaker than
random noise, zero or NaN input gradients, outputs that are not logits); :mod:`.masking` the
gradient-masking checks of AutoAttack (a randomised model, a forward pass that calls autograd,
too few classes for the targeted attacks, zero gradients where APGD starts, Square beating the
white-box attacks). Each becomes a :class:`~wmbench.results.SanityWarning`.
"""

from wmbench.sanity.checks import (
    ZERO_GRADIENT_SHARE,
    GradientStats,
    NoiseComparison,
    PointLike,
    monotonic_warnings,
    noise_checked_points,
    output_warning,
    random_sign_noise,
    weaker_than_noise,
)
from wmbench.sanity.masking import (
    SQUARE_MARGIN,
    MaskingStats,
    dynamic_warning,
    first_batch_warnings,
    randomised_warning,
    square_warning,
    too_few_classes_warning,
)

__all__ = [
    "SQUARE_MARGIN",
    "ZERO_GRADIENT_SHARE",
    "GradientStats",
    "MaskingStats",
    "NoiseComparison",
    "PointLike",
    "dynamic_warning",
    "first_batch_warnings",
    "monotonic_warnings",
    "noise_checked_points",
    "output_warning",
    "random_sign_noise",
    "randomised_warning",
    "square_warning",
    "too_few_classes_warning",
    "weaker_than_noise",
]
