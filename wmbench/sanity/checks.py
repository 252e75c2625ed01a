"""Sanity checks against false robustness, after AutoAttack's checks (Croce & Hein,
arXiv:2003.01690) and the obfuscated-gradients checklist (Athalye et al., arXiv:1802.00420).

A number is suspicious when: error under a larger ε is lower than under a smaller one; a gradient
attack does worse than random noise of the same L∞ size; input gradients are zero or NaN (so
gradient attacks have nothing to follow); or the model's output is not plain logits (softmax
already applied), which flattens the loss the attacks climb. These become warnings in the table
and the JSON, and a ``no_warnings`` gate can require that none fired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from wmbench.results import Results, SanityWarning

# Share of images with an all-zero input gradient above which gradient attacks are suspect.
ZERO_GRADIENT_SHARE = 0.25


def output_warning(label: str, logits: torch.Tensor) -> SanityWarning | None:
    """A warning when a batch of outputs looks like probabilities or log-probabilities."""
    if logits.dim() != 2:
        return SanityWarning(label, "", "not_logits", f"output has shape {tuple(logits.shape)}")
    sums = logits.sum(1)
    if bool(((logits >= 0) & (logits <= 1)).all()) and torch.allclose(
        sums, torch.ones_like(sums), atol=1e-4
    ):
        message = "outputs are probabilities (softmax applied); attacks need logits"
        return SanityWarning(label, "", "not_logits", message)
    log_sums = logits.logsumexp(1)
    if bool((logits <= 0).all()) and torch.allclose(
        log_sums, torch.zeros_like(log_sums), atol=1e-4
    ):
        message = "outputs are log-probabilities; attacks expect logits"
        return SanityWarning(label, "", "not_logits", message)
    return None


@dataclass
class GradientStats:
    """Counts, over a model's batches, of images whose input gradient is zero or not finite."""

    images: int = 0
    zero: int = 0
    not_finite: int = 0

    def add(self, gradient: torch.Tensor) -> None:
        flat = gradient.flatten(1)
        self.images += len(flat)
        self.not_finite += int((~torch.isfinite(flat)).any(1).sum())
        self.zero += int((flat == 0).all(1).sum())

    def warnings(self, label: str) -> list[SanityWarning]:
        found = []
        if self.not_finite:
            found.append(
                SanityWarning(
                    label,
                    "",
                    "nan_gradient",
                    f"input gradient not finite for {self.not_finite} of {self.images} images",
                )
            )
        if self.images and self.zero / self.images > ZERO_GRADIENT_SHARE:
            found.append(
                SanityWarning(
                    label,
                    "",
                    "zero_gradient",
                    f"input gradient is exactly zero for {100 * self.zero / self.images:.0f}% of "
                    "images (saturated softmax or masked gradients): FGSM leaves them unchanged",
                )
            )
        return found


def random_sign_noise(images: torch.Tensor, eps: float, generator: torch.Generator) -> torch.Tensor:
    """``clamp(x + eps · s, 0, 1)`` with random signs s: noise of the same L∞ size as FGSM."""
    signs = torch.randint(0, 2, images.shape, generator=generator, device=images.device) * 2 - 1
    return torch.clamp(images + eps * signs.to(images.dtype), 0, 1)


class PointLike(Protocol):
    """What the noise check needs to know of a suite point."""

    entry_index: int
    label: str
    kind: str
    params: dict[str, Any]


def noise_checked_points(points: Sequence[PointLike]) -> dict[int, float]:
    """Index → ε of the points compared with random noise: each gradient attack's largest ε."""
    largest: dict[int, tuple[float, int]] = {}
    for index, point in enumerate(points):
        eps = point.params.get("eps")
        if point.kind in ("fgsm", "pgd") and isinstance(eps, (int, float)):
            best = largest.get(point.entry_index)
            if best is None or eps > best[0]:
                largest[point.entry_index] = (float(eps), index)
    return {index: eps for eps, index in largest.values()}


@dataclass
class NoiseComparison:
    """Errors of gradient attacks and of random-sign noise of the same ε, on one batch."""

    attack_wrong: dict[int, int] = field(default_factory=dict)
    noise_wrong: dict[int, int] = field(default_factory=dict)
    images: int = 0

    @torch.no_grad()
    def compare(
        self,
        index: int,
        model: nn.Module,
        images: torch.Tensor,
        labels: torch.Tensor,
        eps: float,
        generator: torch.Generator,
    ) -> None:
        """Counts the errors of random-sign noise of size ``eps`` for point ``index``."""
        noisy = random_sign_noise(images, eps, generator)
        self.noise_wrong[index] = int((model(noisy).argmax(1) != labels).sum())
        self.images = len(labels)

    def warnings(
        self, label: str, points: Sequence[PointLike], checked: dict[int, float]
    ) -> list[SanityWarning]:
        found = []
        for index, eps in checked.items():
            if index not in self.noise_wrong:
                continue
            warning = weaker_than_noise(
                label,
                points[index].label,
                eps,
                self.attack_wrong.get(index, 0),
                self.noise_wrong[index],
                self.images,
            )
            if warning is not None:
                found.append(warning)
        return found


def weaker_than_noise(
    label: str, perturbation: str, eps: float, attack_wrong: int, noise_wrong: int, n: int
) -> SanityWarning | None:
    if attack_wrong >= noise_wrong:
        return None
    return SanityWarning(
        label,
        perturbation,
        "weaker_than_noise",
        f"at eps={eps:g} the attack's error {100 * attack_wrong / n:.1f}% is below random "
        f"noise of the same L∞ size ({100 * noise_wrong / n:.1f}%) on the first {n} images",
    )


def monotonic_warnings(results: Results) -> list[SanityWarning]:
    """Warnings for every ε sweep whose error drops as ε grows (other parameters fixed)."""
    found = []
    groups: dict[tuple, list] = {}
    for cell in results.cells:
        if "eps" in cell.params:
            rest = tuple(sorted((k, str(v)) for k, v in cell.params.items() if k != "eps"))
            groups.setdefault((cell.model, cell.perturbation, rest), []).append(cell)
    for (model, perturbation, _), cells in groups.items():
        cells.sort(key=lambda cell: cell.params["eps"])
        for smaller, larger in zip(cells, cells[1:], strict=False):
            low, high = smaller.params["eps"], larger.params["eps"]
            if larger.wrong < smaller.wrong:
                found.append(
                    SanityWarning(
                        model,
                        perturbation,
                        "non_monotonic",
                        f"error at eps={high:g} ({100 * larger.error:.1f}%) is below error "
                        f"at eps={low:g} ({100 * smaller.error:.1f}%)",
                    )
                )
    return found
