"""What a suite run measured: one :class:`Cell` per model × perturbation × parameter values, the
sanity warnings, the checkpoints' identities, and the gates' verdicts.

The runner fills these in; gates judge them; reporting formats them; :mod:`.document` writes
and reads them as the results file. Nothing here computes a measurement or prints one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wmbench.schema import Scalar, Suite
from wmbench.stats import wilson_interval

CellKey = tuple[str, str, tuple[tuple[str, Scalar], ...]]


def describe_point(params: dict[str, Scalar]) -> str:
    """``{"eps": 0.1, "steps": 20}`` → ``"eps=0.1 steps=20"`` (empty for no parameters)."""
    return " ".join(f"{key}={value}" for key, value in params.items())


def cell_key(model: str, perturbation: str, params: dict[str, Scalar]) -> CellKey:
    """Identity of a cell across runs (model label, perturbation label, parameters)."""
    return (model, perturbation, tuple(sorted(params.items())))


@dataclass
class Cell:
    """One measured cell.

    Attributes:
        model: the model's label in the suite.
        perturbation: the perturbation's label in the suite (its ``name``, else its kind, or the
            attack class in lower case for ``torchattacks`` entries).
        kind: the perturbation's kind (``clean``, ``uniform``, ``fgsm``, ``autoattack``, ...).
        params: the parameter values of this cell, by name (e.g. ``{"eps": 0.1}``).
        n: number of images.
        wrong: number of misclassified perturbed images.
        activation_mse: mean over images of the mean squared difference between the feature-layer
            activations for the clean and the perturbed image.
        broken_by: for a worst-case protocol (``autoattack``, ``worst-of``), how many images
            were misclassified clean (``"clean"``) and how many each attack then broke, in the
            order they ran; None for other kinds.
        per_layer: with the suite's ``per_layer``, for every monitored layer, its comparison
            measure of Layer Sustainability Analysis (:mod:`wmbench.lsa`): ``{"cm": LSA's batch
            form, "cm_image_mean": the mean per image}``; None otherwise and for ``clean``.
    """

    model: str
    perturbation: str
    kind: str
    params: dict[str, Scalar]
    n: int
    wrong: int
    activation_mse: float
    broken_by: dict[str, int] | None = None
    per_layer: dict[str, dict[str, float]] | None = None

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

    def key(self) -> CellKey:
        """Identity of the cell across runs (model label, perturbation label, parameters)."""
        return cell_key(self.model, self.perturbation, self.params)


@dataclass
class SanityWarning:
    """A sign that a robustness number may be false (after AutoAttack's checks and the
    obfuscated-gradients checklist of Athalye et al., arXiv:1802.00420).

    Attributes:
        model: the model's label.
        perturbation: the perturbation's label, or ``""`` for a check of the model itself.
        check: the check that fired (README.md, "Sanity warnings", lists them): e.g.
            ``non_monotonic``, ``zero_gradient``, ``not_logits``, ``square_beats_white_box``.
        message: one line for humans.
    """

    model: str
    perturbation: str
    check: str
    message: str


@dataclass
class Verdict:
    """The outcome of one gate.

    Attributes:
        name: what was checked, e.g. ``"wm fgsm eps=0.1: error <= 0.3"``.
        kind: ``"max_error"``, ``"relative"``, ``"no_warnings"`` or ``"regression"``.
        passed: whether it held.
        detail: one line for humans, e.g. ``"error 31.2% > 30.0% (over by 1.2 points)"``.
        margin: headroom as a fraction of the test set: >= 0 held, < 0 failed by that much.
    """

    name: str
    kind: str
    passed: bool
    detail: str
    margin: float


@dataclass
class CheckpointChange:
    """A model label whose checkpoint is not the one its baseline ran on.

    Attributes:
        model: the model's label.
        old_sha256: SHA-256 of the checkpoint in the baseline.
        new_sha256: SHA-256 of the checkpoint now.
    """

    model: str
    old_sha256: str
    new_sha256: str


@dataclass
class ModelOutcome:
    """What one model's part of a run measured."""

    cells: list[Cell]
    warnings: list[SanityWarning]


@dataclass
class CheckpointRecord:
    """Identity of a checkpoint a suite ran on."""

    label: str
    path: Path
    sha256: str
    model: str
    family: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    factory: dict[str, Any] | None = None  # a user's own model: factory, source, weights, args
    adversarial: dict[str, Any] | None = None  # how it was adversarially trained, if it was


def describe_adversarial(settings: Any) -> str:
    """A checkpoint's adversarial training in words, e.g. ``pgd (eps 0.3, steps 10, alpha
    0.075)``, from its ``train.adversarial`` record; settings that are off (``beta`` of pgd,
    AT-LR's with ``lr_gamma`` 0) left out; ``none`` for plain training."""
    if not isinstance(settings, dict):
        return "none"
    shown = {key: value for key, value in settings.items() if value is not None}
    if not shown.get("lr_gamma"):
        shown = {key: value for key, value in shown.items() if not key.startswith("lr_")}
    rest = ", ".join(
        f"{key} {value:g}" if isinstance(value, float) else f"{key} {value}"
        for key, value in shown.items()
        if key != "method"
    )
    return f"{settings.get('method')} ({rest})"


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
