"""The severity tables of the MNIST-C corruptions (Mu & Gilmer 2019, arXiv:1906.02337).

Severity 3 is the parameter the published MNIST-C dataset was made with: the default argument of
each function in google-research/mnist-c's ``corruptions.py``. Severities 1, 2, 4 and 5 are
milder and harsher values of the same parameter, taken from the reference's own five-step lists
where they exist and extended in the same direction where they do not (the table is in
:mod:`wmbench.perturbations.corruptions`).

Lengths in pixels are those of a 28-pixel-wide image; :func:`pixel_scale` scales them with the
width of the images at hand (1 for MNIST, so MNIST gets the reference's numbers exactly).
"""

from __future__ import annotations

from typing import Any

from wmbench.schema import CORRUPTIONS  # the one list of names, the suite file's vocabulary

SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
DEFAULT_SEVERITY = 3
REFERENCE_WIDTH = 28  # MNIST's: the pixel sizes below are for this width

PARAMETERS: dict[str, tuple[Any, ...]] = {
    # Poisson rate c: x -> Poisson(c x) / c (lower is noisier); reference 60, 25, 12, 5, 3
    "shot_noise": (12.0, 5.0, 3.0, 2.0, 1.5),
    # fraction of pixels set to 0 or 1 (half each); reference .03, .06, .09, .17, .27
    "impulse_noise": (0.06, 0.09, 0.17, 0.27, 0.37),
    # (sigma, largest shift, iterations); reference (.7, 1, 2), (.9, 2, 1), (1, 2, 3), (1.1, 3, 2),
    # (1.5, 4, 2): its severity 2 is made harsher here (two passes) to keep the order
    "glass_blur": ((0.5, 1, 1), (0.6, 1, 1), (0.7, 1, 2), (0.9, 2, 2), (1.0, 2, 3)),
    # ImageMagick's (radius, sigma); reference severities 1-3 are the last three here
    "motion_blur": ((6.0, 1.0), (8.0, 2.0), (10.0, 3.0), (15.0, 5.0), (15.0, 8.0)),
    # shear angle in radians, random sign; reference 0.2, 0.4, 0.6, 0.8, 1.0
    "shear": (0.2, 0.3, 0.4, 0.6, 0.8),
    # factor the content is scaled by; the reference's inverse-map scales 1/.9 ... 1/.5
    "scale": (0.9, 0.8, 0.7, 0.6, 0.5),
    # rotation angle in radians, random sign; reference 0.2, 0.4, 0.6, 0.8, 1.0
    "rotate": (0.2, 0.3, 0.4, 0.6, 0.8),
    # added to the HSV value; reference .1, .2, .3, .4, .5
    "brightness": (0.3, 0.4, 0.5, 0.6, 0.7),
    # shift in pixels along both axes, random signs; reference 1, 2, 3, 4, 5
    "translate": (1, 2, 3, 4, 5),
    # width of the inverted band at each side, in pixels; the reference has 7 only
    "stripe": (3, 5, 7, 9, 11),
    # (strength, wibble decay of the plasma fractal); reference (1.5, 2), (2, 2), (2.5, 1.7),
    # (2.5, 1.5), (3, 1.4)
    "fog": ((2.0, 2.0), (2.5, 1.5), (3.0, 1.4), (3.5, 1.3), (4.0, 1.2)),
    # (mean, std, liquid sigma, threshold, mud sigma). Only (threshold - mean) / std changes the
    # mud's extent: 0 for MNIST-C, -0.05 for the reference's severity 5 (4 here), and +0.1, +0.05,
    # -0.1 for 1, 2 and 5. (The reference's severities 1-3 use bigger, rarer blobs: less mud.)
    "spatter": (
        (0.62, 0.3, 1.0, 0.65, 1.5),
        (0.635, 0.3, 1.0, 0.65, 1.5),
        (0.65, 0.3, 1.0, 0.65, 1.5),
        (0.67, 0.4, 1.0, 0.65, 1.5),
        (0.70, 0.5, 1.0, 0.65, 1.5),
    ),
    # distance in pixels at which a drawn line fades out; the reference has 2.3 only
    "dotted_line": (1.5, 1.9, 2.3, 2.7, 3.1),
    "zigzag": (1.5, 1.9, 2.3, 2.7, 3.1),
    # sigma of canny's Gaussian smoothing; the reference has skimage's default 1.0 only
    "canny_edges": (0.5, 0.75, 1.0, 1.5, 2.0),
}


def check_name(name: str) -> None:
    """Raises ValueError unless ``name`` is one of :data:`CORRUPTIONS`."""
    if name not in PARAMETERS:
        raise ValueError(f"unknown corruption {name!r}; expected one of {', '.join(CORRUPTIONS)}")


def parameter(name: str, severity: int) -> Any:
    """The parameter of corruption ``name`` at ``severity`` (1-5).

    Raises:
        ValueError: for an unknown name or a severity that is not an integer from 1 to 5.
    """
    check_name(name)
    if isinstance(severity, bool) or not isinstance(severity, int) or severity not in SEVERITIES:
        raise ValueError(f"severity must be an integer from 1 to 5, got {severity!r}")
    return PARAMETERS[name][severity - 1]


def pixel_scale(width: int) -> float:
    """How many of these images' pixels one pixel of a 28-pixel-wide MNIST image spans."""
    return width / REFERENCE_WIDTH
