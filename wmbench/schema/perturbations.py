"""The perturbation entries of a suite file: the one vocabulary of perturbation kinds.

Each entry is one ``kind`` with its parameters; a parameter given as a list is a sweep, and an
entry expands to every combination of its swept values (:meth:`PerturbationEntry.points`).
:func:`wmbench.perturbations.build_perturbation` turns an entry at one point into the callable
that perturbs images. See README.md, "Suite format".
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, ClassVar, Literal, Union, get_args

from pydantic import Field, PrivateAttr, field_validator, model_validator

from wmbench.schema.corruption import Corruption
from wmbench.schema.entry import PerturbationEntry
from wmbench.schema.types import (
    CountSweep,
    NonNegativeSweep,
    PositiveSweep,
    Scalar,
    ScalarSweep,
)

AttackLoss = Literal["ce", "margin", "dlr"]
"""Loss a gradient attack climbs: cross-entropy, the C&W logit margin
``max_{j≠y} z_j − z_y`` (Carlini & Wagner, arXiv:1608.04644) or AutoAttack's difference of
logits ratio (Croce & Hein, arXiv:2003.01690). Margin and DLR do not saturate in float32."""

DefenceAware = Literal["none", "soft-mask", "both-heads", "fixed-mask"]
"""How a gradient attack adapts to a defence whose forward pass picks something by an argmax
(EWAS's mask; Tramèr et al. 2020, "On Adaptive Attacks to Adversarial Example Defenses"):
``soft-mask`` differentiates through softmax-weighted mask rows instead of the argmax's row
(BPDA-style), ``both-heads`` climbs the loss of the main and the auxiliary classifier together,
``fixed-mask`` holds each image's mask at its true label's row. ``none``: the model as it is."""

AUTOATTACK_ATTACKS = ("apgd-ce", "apgd-dlr", "apgd-t", "fab", "fab-t", "square")
"""The attacks AutoAttack is made of, by the names of its reference implementation."""


class Clean(PerturbationEntry):
    """The unperturbed test images."""

    kind: Literal["clean"]


class Uniform(PerturbationEntry):
    """``x + U(0, upper)`` per pixel, then each image min–max renormalised to [0, 1]."""

    kind: Literal["uniform"]
    upper: PositiveSweep


class Fgsm(PerturbationEntry):
    """FGSM (Goodfellow et al., arXiv:1412.6572), L∞: ``clamp(x + eps·sign(∇x loss), 0, 1)``."""

    kind: Literal["fgsm"]
    eps: NonNegativeSweep
    loss: AttackLoss = "ce"
    defence_aware: DefenceAware | list[DefenceAware] = "none"
    quiet_defaults: ClassVar[dict[str, Scalar]] = {"loss": "ce", "defence_aware": "none"}


class Pgd(PerturbationEntry):
    """PGD (Madry et al., arXiv:1706.06083), L∞, as ``torchattacks.PGD`` computes it."""

    kind: Literal["pgd"]
    eps: NonNegativeSweep
    alpha: PositiveSweep = Field(default_factory=lambda: [0.01])
    steps: CountSweep = Field(default_factory=lambda: [10])
    random_start: bool = True
    loss: AttackLoss = "ce"
    defence_aware: DefenceAware | list[DefenceAware] = "none"
    quiet_defaults: ClassVar[dict[str, Scalar]] = {"loss": "ce", "defence_aware": "none"}


class Apgd(PerturbationEntry):
    """Auto-PGD (Croce & Hein, arXiv:2003.01690) through ``torchattacks.APGD``: step size
    chosen by the attack, momentum, checkpoints; ``restarts`` random restarts of ``steps``."""

    kind: Literal["apgd"]
    eps: NonNegativeSweep
    norm: Literal["Linf", "L2"] = "Linf"
    steps: CountSweep = Field(default_factory=lambda: [100])
    restarts: Annotated[int, Field(ge=1, strict=True)] = 1
    loss: AttackLoss = "ce"
    eot_iter: Annotated[int, Field(ge=1, strict=True)] = 1


class AutoAttack(PerturbationEntry):
    """AutoAttack's protocol (Croce & Hein, arXiv:2003.01690): its attacks one after another,
    each on the images still classified correctly; the error is the per-image worst case."""

    kind: Literal["autoattack"]
    eps: NonNegativeSweep
    norm: Literal["Linf", "L2"] = "Linf"
    version: Literal["standard", "plus", "rand"] = "standard"
    attacks: list[Literal[AUTOATTACK_ATTACKS]] | None = Field(  # type: ignore[valid-type]
        None, min_length=1, description="A subset to run instead of the version's list."
    )

    def fixed_params(self) -> dict[str, Scalar]:
        params = super().fixed_params()
        params.pop("attacks", None)
        return params

    def sweep_params(self) -> dict[str, list[Scalar]]:
        return {key: value for key, value in super().sweep_params().items() if key != "attacks"}

    @field_validator("attacks")
    @classmethod
    def _distinct(cls, attacks: list[str] | None) -> list[str] | None:
        if attacks is not None and len(set(attacks)) != len(attacks):
            raise ValueError("each attack may be named once")
        return attacks


class Cw(PerturbationEntry):
    """Carlini–Wagner L2 (arXiv:1608.04644) through ``torchattacks.CW``."""

    kind: Literal["cw"]
    c: PositiveSweep = Field(default_factory=lambda: [1.0])
    kappa: NonNegativeSweep = Field(default_factory=lambda: [0.0])
    steps: CountSweep = Field(default_factory=lambda: [50])
    lr: PositiveSweep = Field(default_factory=lambda: [0.01])


class TorchattacksEntry(PerturbationEntry):
    """Any other attack of the torchattacks catalogue, by class name, with its arguments."""

    kind: Literal["torchattacks"]
    attack: str = Field(min_length=1)
    args: dict[str, ScalarSweep] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name or self.attack.lower()

    def sweep_params(self) -> dict[str, list[Scalar]]:
        return dict(self.args)

    def fixed_params(self) -> dict[str, Scalar]:
        return {}

    @field_validator("args")
    @classmethod
    def _finite_numbers(cls, args: dict[str, list[Scalar]]) -> dict[str, list[Scalar]]:
        for key, values in args.items():
            numbers = [v for v in values if isinstance(v, float)]
            if any(not math.isfinite(v) for v in numbers):
                raise ValueError(f"{key}: values must be finite numbers")
        return args


_SINGLE_TYPES: tuple[type[PerturbationEntry], ...] = (
    Clean,
    Uniform,
    Fgsm,
    Pgd,
    Apgd,
    Cw,
    TorchattacksEntry,
    AutoAttack,
    Corruption,
)
SinglePerturbation = Annotated[Union[_SINGLE_TYPES], Field(discriminator="kind")]  # noqa: UP007


class WorstOf(PerturbationEntry):
    """The per-image worst case of several perturbations, each at one setting: an image counts
    as broken when any of them broke it. They run in order, each on the images still correct."""

    kind: Literal["worst-of"]
    of: list[SinglePerturbation] = Field(min_length=2)

    def fixed_params(self) -> dict[str, Scalar]:
        return {}

    def sweep_params(self) -> dict[str, list[Scalar]]:
        return {}

    @model_validator(mode="after")
    def _one_setting_each(self) -> WorstOf:
        labels: set[str] = set()
        for index, entry in enumerate(self.of):
            if len(entry.points()) != 1:
                raise ValueError(
                    f"of[{index}]: each perturbation of a worst-of runs at one setting, "
                    "not a sweep (give its parameters single values)"
                )
            if entry.label in labels:
                raise ValueError(
                    f"of[{index}]: label {entry.label!r} is used twice; give one a distinct `name`"
                )
            labels.add(entry.label)
        return self


class Transfer(PerturbationEntry):
    """A transfer attack: ``attack`` crafted on another model (``source``, a checkpoint, relative
    to the suite file) and judged on each model of the suite. The cells carry the attack's
    parameters and ``source``; a sweep of the attack is a sweep of the transfer."""

    kind: Literal["transfer"]
    source: str = Field(min_length=1)
    attack: Annotated[Union[Fgsm, Pgd, Apgd], Field(discriminator="kind")]  # noqa: UP007
    _resolved: Path | None = PrivateAttr(None)

    @property
    def source_path(self) -> Path:
        """The source checkpoint: resolved against the suite file by the loader, else as given."""
        return self._resolved or Path(self.source)

    def resolve(self, path: Path) -> None:
        self._resolved = path

    def fixed_params(self) -> dict[str, Scalar]:
        return {**self.attack.fixed_params(), "source": self.source}

    def sweep_params(self) -> dict[str, list[Scalar]]:
        return self.attack.sweep_params()

    def points(self) -> list[dict[str, Scalar]]:
        return [{**point, "source": self.source} for point in self.attack.points()]


ENTRY_TYPES: tuple[type[PerturbationEntry], ...] = (*_SINGLE_TYPES, WorstOf, Transfer)
Perturbation = Annotated[Union[ENTRY_TYPES], Field(discriminator="kind")]  # noqa: UP007
PERTURBATION_KINDS: tuple[str, ...] = tuple(
    get_args(entry.model_fields["kind"].annotation)[0] for entry in ENTRY_TYPES
)
