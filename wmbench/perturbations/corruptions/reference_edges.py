"""The drawn lines and the canny edges of MNIST-C one grey image at a time in NumPy/scipy: the
rest of :mod:`.reference` (see there), split off to keep files short.

Canny follows skimage 0.14's ``feature.canny`` (the reference's), reimplemented on scipy.ndimage:
normalised Gaussian smoothing, Sobel derivatives, interpolated non-maximum suppression in four
direction sectors, hysteresis by labelling 8-connected components.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from wmbench.perturbations.corruptions.parameters import parameter, pixel_scale


def line_from_points(shape, c0: float, r0: float, c1: float, r1: float, fade: float) -> np.ndarray:
    """The reference's ``line_from_points`` on an image of ``shape`` with fade distance ``fade``."""
    height, width = shape
    if c1 == c0:
        return np.zeros(shape)
    cols, rows = np.meshgrid(np.arange(width, dtype=float), np.arange(height, dtype=float))
    slope = (r1 - r0) / (c1 - c0)
    distance = np.clip(np.abs(rows - (slope * (cols - c0) + r0)), 0, fade - 1e-10)
    line = np.clip(np.log(1 - distance / fade) + 1, 0, 1)
    line[:, : max(0, int(np.floor(c0)))] = 0
    line[:, int(np.ceil(c1)) :] = 0
    return line


def dotted_line(x: np.ndarray, severity: int, rows=None) -> np.ndarray:
    """``rows``: the line's ``(r0, r1)`` at its two ends."""
    height, width = x.shape
    scale = pixel_scale(width)
    r0, r1 = np.random.randint(0, height - 1, size=2) if rows is None else rows
    fade = parameter("dotted_line", severity) * scale
    line = line_from_points(x.shape, 0, r0, width - 1, r1, fade)
    gaps = np.floor(np.arange(width) / (2 * scale)) % 2 == 0  # columns 0-1, 4-5, ... on MNIST
    line[:, gaps] = 0
    return np.clip(x + line, 0, 1)


def zigzag(x: np.ndarray, severity: int, start=None) -> np.ndarray:
    """``start``: the reference's ``(r0, r1 - r0)`` (on a 28-row image)."""
    height, width = x.shape
    scale = pixel_scale(width)
    fade = parameter("zigzag", severity) * scale
    leg = rise = 2 * scale
    c0, c1 = 2 * scale, 25 * scale
    if start is None:
        r0, k = np.random.randint(0, height - 1), np.random.randint(-5, 5)
    else:
        r0, k = start
    theta = math.atan((k * scale) / (c1 - c0))
    length = (c1 - c0) / math.cos(theta)
    points = [(0.0, 0.0)]
    for i in range(int((length - leg) // (2 * leg)) + 1):
        points.append(((2 * i + 1) * leg, (-1) ** i * rise))
    whole = (2 * leg) * (length // (2 * leg))
    if length != whole:
        points.append((length, points[-1][1] / (2 * (length - whole))))
    turn = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    cols, rows = turn @ np.array(points).T
    cols, rows = cols + c0, rows + r0
    for i in range(1, len(points)):
        segment = line_from_points(x.shape, cols[i - 1], rows[i - 1], cols[i], rows[i], fade)
        x = np.clip(x + segment, 0, 1)
    return x


def canny(x: np.ndarray, sigma: float, low: float = 0.1, high: float = 0.2) -> np.ndarray:
    """skimage 0.14's ``feature.canny(x, sigma)`` as 0.0 or 1.0."""
    smoothed = ndimage.gaussian_filter(x, sigma, mode="constant")
    bleed = ndimage.gaussian_filter(np.ones_like(x), sigma, mode="constant")
    smoothed /= bleed + np.finfo(float).eps
    d_rows, d_cols = ndimage.sobel(smoothed, axis=0), ndimage.sobel(smoothed, axis=1)
    magnitude = np.hypot(d_rows, d_cols)
    height, width = x.shape

    def near(dr: int, dc: int) -> np.ndarray:  # the magnitude at (r + dr, c + dc), interior r, c
        return magnitude[1 + dr : height - 1 + dr, 1 + dc : width - 1 + dc]

    gi, gj, m = d_rows[1:-1, 1:-1], d_cols[1:-1, 1:-1], near(0, 0)
    ai, aj = np.abs(gi), np.abs(gj)
    same = ((gi >= 0) & (gj >= 0)) | ((gi <= 0) & (gj <= 0))
    opposite = ((gi <= 0) & (gj >= 0)) | ((gi >= 0) & (gj <= 0))
    maxima = np.zeros_like(m, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for members, weight, sides in (
            (same & (ai >= aj), aj / ai, (((1, 0), (1, 1)), ((-1, 0), (-1, -1)))),
            (same & (ai <= aj), ai / aj, (((0, 1), (1, 1)), ((0, -1), (-1, -1)))),
            (opposite & (ai <= aj), ai / aj, (((0, 1), (-1, 1)), ((0, -1), (1, -1)))),
            (opposite & (ai >= aj), aj / ai, (((-1, 0), (-1, 1)), ((1, 0), (1, -1)))),
        ):
            members = members & (m > 0)
            peak = np.ones_like(maxima)
            for first, second in sides:
                peak &= near(*second) * weight + near(*first) * (1 - weight) <= m
            maxima[members] = peak[members]
    local = np.zeros(x.shape, dtype=bool)
    local[1:-1, 1:-1] = maxima
    weak = local & (magnitude >= low)
    labels, count = ndimage.label(weak, structure=np.ones((3, 3), dtype=bool))
    strong_labels = np.unique(labels[local & (magnitude >= high)])
    return np.isin(labels, strong_labels[strong_labels > 0]).astype(np.float64)


def canny_edges(x: np.ndarray, severity: int) -> np.ndarray:
    return canny(x, parameter("canny_edges", severity) * pixel_scale(x.shape[1]))
