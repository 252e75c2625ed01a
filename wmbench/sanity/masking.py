"""The gradient-masking checks of AutoAttack's ``checks.py`` (Croce & Hein, arXiv:2003.01690,
github.com/fra31/auto-attack; documented in its ``flags_doc.md``), as sanity warnings.

Each is a small function of what the runner already has; the messages are in README.md,
"Sanity warnings":

- ``randomised_model``: five forward passes of the first images disagree (predictions, or
  normalised logits by more than 1e-4): a randomised defence needs ``version: rand`` (EOT).
- ``dynamic_forward``: the forward pass calls autograd itself (``grad``, ``backward``): a
  test-time optimisation defence, which AutoAttack alone may not evaluate.
- ``too_few_classes``: the model has too few classes for the DLR loss (3) or targeted DLR (4),
  or for AutoAttack's 9 target classes, so an attack was skipped or ran with fewer targets.
- ``apgd_zero_gradient``: at the clean images where APGD starts, the DLR gradient is exactly
  zero for some image (AutoAttack's rule), or the cross-entropy gradient for more than
  ``ZERO_GRADIENT_SHARE`` of them (wmbench's rule, as for FGSM).
- ``square_beats_white_box``: Square, which uses no gradients, broke more than 0.2 percentage
  points of the images that every white-box attack before it left standing — the classic sign
  that the gradients mislead.

The check that outputs are probabilities is :func:`wmbench.sanity.checks.output_warning`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import torch
from torch import nn

from wmbench.perturbations.autoattack import MIN_CLASSES, TARGETS
from wmbench.results import Cell, SanityWarning
from wmbench.sanity.checks import ZERO_GRADIENT_SHARE, PointLike, output_warning

SQUARE_MARGIN = 0.002  # AutoAttack's alpha in check_square_sr: 0.2 percentage points
RANDOMISED_PASSES = 5
RANDOMISED_TOLERANCE = 1e-4
CHECKED_IMAGES = 100  # images of the first batch the model-level checks look at
AUTOGRAD_FUNCTIONS = ("grad", "backward", "_make_grads")


def randomised_warning(label: str, model: nn.Module, images: torch.Tensor) -> SanityWarning | None:
    """A warning when repeated forward passes of the same images disagree."""
    with torch.no_grad():
        outputs = [model(images) for _ in range(RANDOMISED_PASSES)]
    predictions = [output.argmax(1) for output in outputs]
    normalised = [
        o / (o.flatten(1).norm(dim=1).view(-1, *[1] * (o.dim() - 1)) + 1e-10) for o in outputs
    ]
    largest = max(
        float((a - b).flatten(1).norm(dim=1).max())
        for i, a in enumerate(normalised)
        for b in normalised[i + 1 :]
    )
    differ = any(bool((p != predictions[0]).any()) for p in predictions[1:])
    if not differ and largest <= RANDOMISED_TOLERANCE:
        return None
    message = (
        f"{RANDOMISED_PASSES} forward passes of the same images disagree (largest difference "
        f"of normalised outputs {largest:.2g}): a randomised model; evaluate it with "
        "autoattack version: rand (EOT)"
    )
    return SanityWarning(label, "", "randomised_model", message)


def dynamic_warning(label: str, model: nn.Module, images: torch.Tensor) -> SanityWarning | None:
    """A warning when the model's forward pass calls autograd (traced with ``sys.settrace``)."""
    calls: dict[str, int] = {}

    def trace(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_name in AUTOGRAD_FUNCTIONS:
            calls[frame.f_code.co_name] = calls.get(frame.f_code.co_name, 0) + 1

    previous = sys.gettrace()
    sys.settrace(trace)  # type: ignore[arg-type]
    try:
        model(images.detach())
    finally:
        sys.settrace(previous)
    if not calls:
        return None
    names = ", ".join(sorted({{"_make_grads": "backward"}.get(name, name) for name in calls}))
    message = (
        f"the forward pass calls autograd itself ({names}): a dynamic (test-time optimisation) "
        "defence; fixed attacks may not evaluate it, try an adaptive attack"
    )
    return SanityWarning(label, "", "dynamic_forward", message)


def too_few_classes_warning(
    label: str, num_classes: int, attacks: Sequence[str]
) -> SanityWarning | None:
    """A warning when AutoAttack's attacks need more classes than the model has."""
    skipped = [name for name in attacks if num_classes < MIN_CLASSES.get(name, 2)]
    targeted = [n for n in attacks if n in ("apgd-t", "fab-t") and n not in skipped]
    problems = []
    if skipped:
        problems.append(f"{', '.join(skipped)} skipped (DLR needs 3 classes, targeted DLR 4)")
    if targeted and num_classes - 1 < TARGETS:
        problems.append(
            f"{', '.join(targeted)} used {num_classes - 1} target classes instead of {TARGETS}"
        )
    if not problems:
        return None
    message = f"the model has {num_classes} classes: " + "; ".join(problems)
    return SanityWarning(label, "", "too_few_classes", message)


def square_warning(label: str, cell: Cell) -> SanityWarning | None:
    """A warning when Square broke more than 0.2 pp of the images after white-box attacks ran."""
    counts = cell.broken_by or {}
    order = [name for name in counts if name != "clean"]
    if "square" not in order or order.index("square") == 0 or not cell.n:
        return None
    share = counts["square"] / cell.n
    if share <= SQUARE_MARGIN:
        return None
    before = ", ".join(order[: order.index("square")])
    message = (
        f"Square (no gradients) broke {counts['square']} images ({100 * share:.1f} pp of "
        f"{cell.n}) that {before} left standing: the gradients may be masked; run Square "
        "with more queries and restarts, or an adaptive attack"
    )
    return SanityWarning(label, cell.perturbation, "square_beats_white_box", message)


def first_batch_warnings(
    label: str,
    model: nn.Module,
    images: torch.Tensor,
    logits: torch.Tensor,
    points: Sequence[PointLike],
) -> list[SanityWarning]:
    """The checks of the model itself, on the first images of the first batch."""
    found = [output_warning(label, logits)]
    if logits.dim() != 2:
        return [w for w in found if w is not None]
    sample = images[:CHECKED_IMAGES]
    rand_only = any(p.kind == "autoattack" for p in points) and all(
        p.params.get("version") == "rand" for p in points if p.kind == "autoattack"
    )
    if not rand_only:
        found.append(randomised_warning(label, model, sample))
    found.append(dynamic_warning(label, model, sample))
    attacks = autoattack_names(points)
    if attacks:
        found.append(too_few_classes_warning(label, int(logits.shape[1]), attacks))
    return [w for w in found if w is not None]


def autoattack_names(points: Sequence[PointLike]) -> list[str]:
    """The AutoAttack attacks the suite runs, in first-seen order."""
    names: list[str] = []
    for point in points:
        for name in getattr(getattr(point, "perturbation", None), "attacks", ()) or ():
            if point.kind == "autoattack" and name not in names:
                names.append(name)
    return names


@dataclass
class MaskingStats:
    """Zero-gradient counts where APGD starts, per suite point, over a model's batches."""

    zero: dict[int, dict[str, int]] = field(default_factory=dict)
    checked: dict[int, int] = field(default_factory=dict)

    def add(self, index: int, found: Any) -> None:
        """Adds what a worst-case protocol found on one batch (a ``WorstCase``)."""
        if not found.checked:
            return
        self.checked[index] = self.checked.get(index, 0) + found.checked
        counts = self.zero.setdefault(index, {})
        for loss, count in found.zero_gradient.items():
            counts[loss] = counts.get(loss, 0) + count

    def warnings(
        self, label: str, points: Sequence[PointLike], cells: Sequence[Cell]
    ) -> list[SanityWarning]:
        found = []
        reported: set[str] = set()
        for index, checked in self.checked.items():
            perturbation = points[index].label
            if perturbation in reported:  # the same clean gradients at every ε
                continue
            reported.add(perturbation)
            warning = _zero_gradient_warning(label, perturbation, self.zero[index], checked)
            if warning is not None:
                found.append(warning)
        found += [w for cell in cells if (w := square_warning(label, cell)) is not None]
        return found


def _zero_gradient_warning(
    label: str, perturbation: str, zero: dict[str, int], checked: int
) -> SanityWarning | None:
    dlr, ce = zero.get("dlr", 0), zero.get("ce", 0)
    if dlr == 0 and ce <= ZERO_GRADIENT_SHARE * checked:
        return None
    message = (
        f"where APGD starts, the input gradient is exactly zero for {dlr} of {checked} images "
        f"with the DLR loss and {ce} with cross-entropy: gradient attacks cannot move them "
        "(masked or saturated gradients); their robustness is not evidence"
    )
    return SanityWarning(label, perturbation, "apgd_zero_gradient", message)
