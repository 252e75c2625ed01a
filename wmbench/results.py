"""What a suite run measured: one :class:`Cell` per model × perturbation × parameter values.

The runner fills these in; gates judge them; reporting formats them. Nothing here computes a
measurement or prints one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wmbench.stats import wilson_interval
from wmbench.suites.schema import Scalar, Suite


@dataclass
class Cell:
    """One measured cell.

    Attributes:
        model: the model's label in the suite.
        perturbation: the perturbation's label in the suite (its ``name``, else its kind, or the
            attack class in lower case for ``torchattacks`` entries).
        kind: ``clean``, ``uniform``, ``fgsm``, ``pgd``, ``cw`` or ``torchattacks``.
        params: the parameter values of this cell, by name (e.g. ``{"eps": 0.1}``).
        n: number of images.
        wrong: number of misclassified perturbed images.
        activation_mse: mean over images of the mean squared difference between the feature-layer
            activations for the clean and the perturbed image.
    """

    model: str
    perturbation: str
    kind: str
    params: dict[str, Scalar]
    n: int
    wrong: int
    activation_mse: float

    @property
    def error(self) -> float:
        """Test error on the perturbed images, a fraction in [0, 1]."""
        return self.wrong / self.n if self.n else 0.0

    @property
    def ci95(self) -> tuple[float, float]:
        """95% Wilson score interval of the error over the ``n`` images."""
        return wilson_interval(self.wrong, self.n, 0.95)

    def matches(self, model: str, perturbation: str, params: dict[str, Scalar]) -> bool:
        return (
            self.model == model
            and self.perturbation == perturbation
            and all(self.params.get(key) == value for key, value in params.items())
        )

    def key(self) -> tuple[str, str, tuple[tuple[str, Scalar], ...]]:
        """Identity of the cell across runs (model label, perturbation label, parameters)."""
        return (self.model, self.perturbation, tuple(sorted(self.params.items())))


@dataclass
class SanityWarning:
    """A sign that a robustness number may be false (after AutoAttack's checks and the
    obfuscated-gradients checklist of Athalye et al., arXiv:1802.00420).

    Attributes:
        model: the model's label.
        perturbation: the perturbation's label, or ``""`` for a check of the model itself.
        check: ``non_monotonic``, ``weaker_than_noise``, ``zero_gradient``, ``nan_gradient`` or
            ``not_logits``.
        message: one line for humans.
    """

    model: str
    perturbation: str
    check: str
    message: str


@dataclass
class CheckpointRecord:
    """Identity of a checkpoint a suite ran on."""

    label: str
    path: Path
    sha256: str
    model: str
    family: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class Results:
    """Everything one run of a suite measured, and under which conditions."""

    suite: Suite
    source: Path | None
    cells: list[Cell]
    checkpoints: dict[str, CheckpointRecord]
    device: str
    versions: dict[str, str]
    started: str
    duration_s: float
    warnings: list[SanityWarning] = field(default_factory=list)

    def find(self, model: str, perturbation: str, params: dict[str, Scalar]) -> list[Cell]:
        return [cell for cell in self.cells if cell.matches(model, perturbation, params)]

    def of_perturbation(self, perturbation: str) -> list[Cell]:
        return [cell for cell in self.cells if cell.perturbation == perturbation]
