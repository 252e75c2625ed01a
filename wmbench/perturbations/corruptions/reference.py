"""MNIST-C's corruptions one grey image at a time in NumPy/scipy, written the way the reference
(google-research/mnist-c ``corruptions.py``) is: a Python function per image, NumPy's global
random state, scipy.ndimage where the reference calls skimage (whose filters are scipy's) and
array code where it calls ImageMagick. Slow by design: the benchmark times the batched torch
versions against it (``benchmarks/corruptions.py``), and the tests check them against it.

Every function takes a 2-D float64 image in [0, 1] and returns one; the random ones take
optional draws, so that both sides can be given the same random numbers. Severity tables, the
8-bit guard and the scaling of pixel sizes are shared with the torch versions; the drawn and
edge corruptions are in :mod:`.reference_drawn`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import ndimage

from wmbench.perturbations.corruptions import reference_edges
from wmbench.perturbations.corruptions.parameters import check_name, parameter, pixel_scale

QUANTISATION_GUARD = 1e-3  # as in blur.py: floor(255 x + 1e-3) rather than np.uint8(255 x)
MUD = 63 / 255


def shot_noise(x: np.ndarray, severity: int) -> np.ndarray:
    c = parameter("shot_noise", severity)
    return np.clip(np.random.poisson(x * c) / float(c), 0, 1)


def impulse_noise(x: np.ndarray, severity: int, salt=None, pepper=None) -> np.ndarray:
    """skimage's ``random_noise(mode="s&p")``: flipped values, half of them salt."""
    amount = parameter("impulse_noise", severity)
    if salt is None:
        flipped = np.random.choice([True, False], size=x.shape, p=[amount, 1 - amount])
        salted = np.random.choice([True, False], size=x.shape, p=[0.5, 0.5])
    else:
        flipped, salted = salt | pepper, salt
    out = x.copy()
    out[flipped & salted] = 1
    out[flipped & ~salted] = 0
    return out


def glass_blur(x: np.ndarray, severity: int, swaps=None) -> np.ndarray:
    """``swaps``: this image's ``(swap, dy, dx)``, each ``(iterations, rows, cols)``."""
    sigma, delta, iterations = parameter("glass_blur", severity)
    scale = pixel_scale(x.shape[1])
    sigma, delta = sigma * scale, max(1, round(delta * scale))
    height, width = x.shape
    # skimage.filters.gaussian(multichannel=True) on a 2-D image blurs along axis 0 only
    x = np.floor(ndimage.gaussian_filter(x, (sigma, 0), mode="nearest") * 255 + QUANTISATION_GUARD)
    for i in range(iterations):
        for hi, h in enumerate(range(height - delta, delta, -1)):
            for wi, w in enumerate(range(width - delta, delta, -1)):
                if swaps is None:
                    if not np.random.choice([True, False], 1)[0]:
                        continue
                    dx, dy = np.random.randint(-delta, delta, size=(2,))
                elif swaps[0][i, hi, wi]:
                    dy, dx = swaps[1][i, hi, wi], swaps[2][i, hi, wi]
                else:
                    continue
                x[h, w], x[h + dy, w + dx] = x[h + dy, w + dx], x[h, w]
    return np.clip(ndimage.gaussian_filter(x / 255, (sigma, 0), mode="nearest"), 0, 1)


def motion_blur(x: np.ndarray, severity: int, angle=None) -> np.ndarray:
    """ImageMagick's ``MotionBlurImage``: a one-sided Gaussian trail along ``angle`` degrees."""
    radius, sigma = parameter("motion_blur", severity)
    scale = pixel_scale(x.shape[1])
    radius, sigma = radius * scale, sigma * scale
    if angle is None:
        angle = np.random.uniform(-45, 45)
    taps = int(2 * math.ceil(radius) + 1)
    i = np.arange(taps)
    kernel = np.exp(-(i * i) / (2 * sigma * sigma))
    kernel /= kernel.sum()
    point_x = taps * math.sin(math.pi * angle / 180)
    point_y = taps * math.cos(math.pi * angle / 180)
    length = math.hypot(point_x, point_y)
    height, width = x.shape
    out = np.zeros_like(x)
    for tap in range(taps):
        dc = math.ceil(tap * point_y / length - 0.5)
        dr = math.ceil(tap * point_x / length - 0.5)
        rows = np.clip(np.arange(height) + dr, 0, height - 1)
        cols = np.clip(np.arange(width) + dc, 0, width - 1)
        out += kernel[tap] * x[np.ix_(rows, cols)]
    return np.clip(out, 0, 1)


def _warp(x: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """skimage's ``warp(x, inverse_map=AffineTransform(matrix))``, the matrix given about the
    centre: ``(col, row)`` of the input = ``matrix @ ((col, row) - centre) + centre``."""
    height, width = x.shape
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    translation = centre - matrix @ centre  # the reference's a3, b3 = 13.5 (1 - a1 - a2), ...
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    in_cols = matrix[0, 0] * cols + matrix[0, 1] * rows + translation[0]
    in_rows = matrix[1, 0] * cols + matrix[1, 1] * rows + translation[1]
    warped = ndimage.map_coordinates(x, [in_rows, in_cols], order=1, mode="grid-constant")
    return np.clip(warped, 0, 1)


def shear(x: np.ndarray, severity: int, sign=None) -> np.ndarray:
    c = parameter("shear", severity) * (np.random.choice([-1, 1]) if sign is None else sign)
    return _warp(x, np.array([[1, -math.sin(c)], [0, math.cos(c)]]))


def rotate(x: np.ndarray, severity: int, sign=None) -> np.ndarray:
    c = parameter("rotate", severity) * (np.random.choice([-1, 1]) if sign is None else sign)
    return _warp(x, np.array([[math.cos(c), -math.sin(c)], [math.sin(c), math.cos(c)]]))


def scale(x: np.ndarray, severity: int) -> np.ndarray:
    inverse = 1 / parameter("scale", severity)
    return _warp(x, np.array([[inverse, 0.0], [0.0, inverse]]))


def translate(x: np.ndarray, severity: int, moves=None) -> np.ndarray:
    """``moves``: the content's ``(right, down)`` movement; the reference's translation is its
    negative."""
    shift = max(1, round(parameter("translate", severity) * pixel_scale(x.shape[1])))
    moves = shift * np.random.choice([-1, 1], 2) if moves is None else np.asarray(moves)
    translation = -moves  # the sign does not matter for random moves
    height, width = x.shape
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    warped = ndimage.map_coordinates(
        x, [rows + translation[1], cols + translation[0]], order=1, mode="grid-constant"
    )
    return np.clip(warped, 0, 1)


def brightness(x: np.ndarray, severity: int) -> np.ndarray:
    # grey -> RGB -> HSV, value + c clipped, -> RGB -> grey is min(x + c, 1) for a grey image
    return np.clip(x + parameter("brightness", severity), 0, 1)


def stripe(x: np.ndarray, severity: int) -> np.ndarray:
    band = round(parameter("stripe", severity) * pixel_scale(x.shape[1]))
    x = x.copy()
    x[:, :band] = 1 - x[:, :band]
    x[:, x.shape[1] - band :] = 1 - x[:, x.shape[1] - band :]
    return x


def plasma_fractal(decay: float, size: int = 256, uniforms=None) -> np.ndarray:
    """The reference's diamond-square map; ``uniforms[level]``: ``(3, n, n)`` U[0, 1) draws."""
    maps = np.empty((size, size))
    maps[0, 0] = 0
    step, wibble, level = size, 100.0, 0

    def wibbled(total: np.ndarray, part: int) -> np.ndarray:
        if uniforms is None:
            return total / 4 + wibble * np.random.uniform(-wibble, wibble, total.shape)
        draws = uniforms[level][part]
        return total / 4 + wibble * (-wibble + (wibble - -wibble) * draws)

    while step >= 2:
        half = step // 2
        corners = maps[0:size:step, 0:size:step]
        total = corners + np.roll(corners, -1, axis=0)
        total += np.roll(total, -1, axis=1)
        maps[half:size:step, half:size:step] = wibbled(total, 0)
        centres = maps[half:size:step, half:size:step]
        across = (centres + np.roll(centres, 1, axis=0)) + (corners + np.roll(corners, -1, axis=1))
        maps[0:size:step, half:size:step] = wibbled(across, 1)
        down = (centres + np.roll(centres, 1, axis=1)) + (corners + np.roll(corners, -1, axis=0))
        maps[half:size:step, 0:size:step] = wibbled(down, 2)
        step //= 2
        wibble /= decay
        level += 1
    maps -= maps.min()
    return maps / maps.max()


def fog(x: np.ndarray, severity: int, uniforms=None) -> np.ndarray:
    strength, decay = parameter("fog", severity)
    height, width = x.shape
    brightest = x.max()
    x = x + strength * plasma_fractal(decay, uniforms=uniforms)[:height, :width]
    return np.clip(x * brightest / (brightest + strength), 0, 1)


def spatter(x: np.ndarray, severity: int, normal=None) -> np.ndarray:
    mean, std, liquid_sigma, threshold, mud_sigma = parameter("spatter", severity)
    scale = pixel_scale(x.shape[1])
    if normal is None:
        liquid = np.random.normal(size=x.shape, loc=mean, scale=std)
    else:
        liquid = mean + std * normal
    liquid = ndimage.gaussian_filter(liquid, liquid_sigma * scale, mode="nearest")
    mask = np.where(liquid > threshold, 1.0, 0.0)
    mud = ndimage.gaussian_filter(mask, mud_sigma * scale, mode="nearest")
    mud[mud < 0.8] = 0
    return np.clip(x * (1 - mud) + MUD * mud, 0, 1)


def functions() -> dict[str, Callable[[np.ndarray, int], np.ndarray]]:
    """Each corruption's per-image function, by name."""
    return {
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
        "dotted_line": reference_edges.dotted_line,
        "zigzag": reference_edges.zigzag,
        "canny_edges": reference_edges.canny_edges,
    }


def corrupt_each(name: str, images: np.ndarray, severity: int) -> np.ndarray:
    """Corruption ``name`` of every grey image of ``images`` (``(N, H, W)`` or ``(N, 1, H, W)``)
    in a Python loop, random numbers from NumPy's global state, as the reference is run."""
    check_name(name)
    function = functions()[name]
    grey = images.reshape(-1, *images.shape[-2:]).astype(np.float64)
    return np.stack([function(image, severity) for image in grey]).reshape(images.shape)
