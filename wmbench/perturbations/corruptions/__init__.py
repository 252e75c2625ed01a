"""The fifteen corruptions of MNIST-C (Mu & Gilmer 2019, "MNIST-C: A Robustness Benchmark for
Computer Vision", arXiv:1906.02337), vectorised in torch.

:func:`corrupt` applies one to a batch ``(N, C, H, W)`` in [0, 1] on any device and returns the
same shape in [0, 1]; every random number comes from the given ``torch.Generator`` (the same seed
gives the same images). The definitions and parameters are those of the reference,
google-research/mnist-c ``corruptions.py``; each module's docstring says what the reference
does and where this differs. The names are the reference's.

Severity 3 is MNIST-C's published parameter (the reference functions' defaults); 1-2 milder, 4-5
harsher values of the same parameter. Pixel sizes are for 28-pixel-wide images and scale with
``W / 28``.

=============  =============================  ========  ========  ===========  ========  =======
corruption     parameter                      1         2         3 (MNIST-C)  4         5
=============  =============================  ========  ========  ===========  ========  =======
shot_noise     Poisson rate (lower: noisier)  12        5         3            2         1.5
impulse_noise  salt-and-pepper fraction       0.06      0.09      0.17         0.27      0.37
glass_blur     sigma, shift, iterations       .5, 1, 1  .6, 1, 1  .7, 1, 2     .9, 2, 2  1, 2, 3
motion_blur    radius, sigma                  6, 1      8, 2      10, 3        15, 5     15, 8
shear          angle (rad), random sign       0.2       0.3       0.4          0.6       0.8
scale          content scaled by              0.9       0.8       0.7          0.6       0.5
rotate         angle (rad), random sign       0.2       0.3       0.4          0.6       0.8
brightness     added to the HSV value         0.3       0.4       0.5          0.6       0.7
translate      shift (px), random signs       1         2         3            4         5
stripe         inverted columns each side     3         5         7            9         11
fog            strength, wibble decay         2, 2      2.5, 1.5  3, 1.4       3.5, 1.3  4, 1.2
spatter        see below
dotted_line    line fade distance (px)        1.5       1.9       2.3          2.7       3.1
zigzag         line fade distance (px)        1.5       1.9       2.3          2.7       3.1
canny_edges    Gaussian sigma                 0.5       0.75      1.0          1.5       2.0
=============  =============================  ========  ========  ===========  ========  =======

Spatter (mean, std, liquid sigma, threshold, mud sigma): 1: .62 .3 1 .65 1.5; 2: .635 .3 1 .65
1.5; 3: .65 .3 1 .65 1.5; 4: .67 .4 1 .65 1.5 (the reference's severity 5); 5: .70 .5 1 .65 1.5.
The tables are :data:`~wmbench.perturbations.corruptions.parameters.PARAMETERS`.

Deterministic (no random numbers): scale, brightness, stripe, canny_edges. The deterministic cores
of the others are public for testing (``rotate_by``, ``shear_by``, ``translate_by``,
``salt_and_pepper``, ``glass_blur_with``, ``motion_blur_by``, ``fog_with``, ``spatter_with``,
``dotted_line_through``, ``zigzag_through``); :mod:`.reference` is a per-image NumPy/scipy
implementation written the reference's way, to check and time them against.

Example:
    >>> generator = torch.Generator().manual_seed(0)
    >>> foggy = corrupt("fog", images, DEFAULT_SEVERITY, generator)
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from wmbench.perturbations.corruptions.blur import (
    glass_blur,
    glass_blur_with,
    glass_settings,
    glass_swaps,
    local_shuffle,
    motion_blur,
    motion_blur_by,
    motion_settings,
)
from wmbench.perturbations.corruptions.drawn import (
    dotted_line,
    dotted_line_through,
    line_map,
    zigzag,
    zigzag_through,
)
from wmbench.perturbations.corruptions.edges import canny_by, canny_edges
from wmbench.perturbations.corruptions.filters import check_images
from wmbench.perturbations.corruptions.geometric import (
    rotate,
    rotate_by,
    scale,
    scale_by,
    shear,
    shear_by,
    translate,
    translate_by,
    translation_shift,
)
from wmbench.perturbations.corruptions.noise import (
    impulse_masks,
    impulse_noise,
    salt_and_pepper,
    shot_noise,
)
from wmbench.perturbations.corruptions.parameters import (
    CORRUPTIONS,
    DEFAULT_SEVERITY,
    PARAMETERS,
    SEVERITIES,
    check_name,
    parameter,
)
from wmbench.perturbations.corruptions.tone import (
    brightness,
    brightness_by,
    invert_side_bands,
    stripe,
    stripe_band,
)
from wmbench.perturbations.corruptions.weather import (
    fog,
    fog_with,
    plasma_fractal,
    plasma_uniforms,
    spatter,
    spatter_settings,
    spatter_with,
)

Corruption = Callable[[torch.Tensor, int, torch.Generator], torch.Tensor]

_FUNCTIONS: dict[str, Corruption] = {
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "glass_blur": glass_blur,
    "motion_blur": motion_blur,
    "shear": shear,
    "scale": scale,
    "rotate": rotate,
    "brightness": brightness,
    "translate": translate,
    "stripe": stripe,
    "fog": fog,
    "spatter": spatter,
    "dotted_line": dotted_line,
    "zigzag": zigzag,
    "canny_edges": canny_edges,
}
DETERMINISTIC: frozenset[str] = frozenset({"scale", "brightness", "stripe", "canny_edges"})


def corrupt(
    name: str, images: torch.Tensor, severity: int, generator: torch.Generator
) -> torch.Tensor:
    """MNIST-C corruption ``name`` at ``severity`` of a batch of images.

    Args:
        name: one of :data:`CORRUPTIONS`.
        images: ``(N, C, H, W)`` floats in [0, 1], any device.
        severity: 1 to 5; 3 (:data:`DEFAULT_SEVERITY`) is MNIST-C's.
        generator: the source of every random number (on the images' device or the CPU).

    Returns:
        ``(N, C, H, W)`` in [0, 1], the images' dtype and device.

    Raises:
        ValueError: for an unknown name, a severity outside 1-5, or images that are not a
            floating-point 4-D tensor.
    """
    parameter(name, severity)  # validates both
    check_images(images)
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"expected a torch.Generator, got {type(generator).__name__}")
    if images.shape[0] == 0:
        return images.clone()
    return _FUNCTIONS[name](images, severity, generator)


__all__ = [
    "CORRUPTIONS",
    "DEFAULT_SEVERITY",
    "DETERMINISTIC",
    "PARAMETERS",
    "SEVERITIES",
    "brightness",
    "brightness_by",
    "canny_by",
    "canny_edges",
    "check_name",
    "corrupt",
    "dotted_line",
    "dotted_line_through",
    "fog",
    "fog_with",
    "glass_blur",
    "glass_blur_with",
    "glass_settings",
    "glass_swaps",
    "impulse_masks",
    "impulse_noise",
    "invert_side_bands",
    "line_map",
    "local_shuffle",
    "motion_blur",
    "motion_blur_by",
    "motion_settings",
    "parameter",
    "plasma_fractal",
    "plasma_uniforms",
    "rotate",
    "rotate_by",
    "salt_and_pepper",
    "scale",
    "scale_by",
    "shear",
    "shear_by",
    "shot_noise",
    "spatter",
    "spatter_settings",
    "spatter_with",
    "stripe",
    "stripe_band",
    "translate",
    "translate_by",
    "translation_shift",
    "zigzag",
    "zigzag_through",
]
