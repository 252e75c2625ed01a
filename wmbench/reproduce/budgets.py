"""The budgets of a reproduction of Amer & Maul: which zoo models are trained, with how many seeds
and epochs, on how many images, and how large the paper's suite (§4.3) is."""

from __future__ import annotations

from dataclasses import dataclass

from wmbench.errors import ConfigError
from wmbench.train import AdversarialConfig


@dataclass(frozen=True)
class TrainJob:
    """One zoo model trained with several seeds.

    Attributes:
        model: the zoo name.
        seeds: seeds 0 … seeds − 1 are trained.
        epochs: passes over the training split.
        limit_train: train on the first N training images only.
        label: the name of its checkpoints and of its rows in the suite and the report
            [default: the model's]; jobs that train one model in several ways differ by it.
        adversarial: adversarial training (None: plain).
    """

    model: str
    seeds: int
    epochs: int
    limit_train: int | None = None
    label: str | None = None
    adversarial: AdversarialConfig | None = None

    @property
    def name(self) -> str:
        return self.label or self.model


@dataclass(frozen=True)
class Budget:
    """How much of the paper's protocol a reproduction runs."""

    name: str
    description: str
    jobs: tuple[TrainJob, ...]
    suite_limit: int | None
    uniform: tuple[float, ...]
    fgsm: tuple[float, ...]


HEADLINE = ("cnn-33", "wm-smooth-32", "wm-unsharp-32")
TABLE2_OTHERS = ("cnn-33-bn", "cnn-33-input-scale", "wm-smooth-32-bn")
TABLE5 = tuple(
    f"{family}-{variant}"
    for family in ("resnet", "densenet")
    for variant in ("conv", "wm-smooth", "wm-unsharp", "alt-smooth", "alt-unsharp")
)
# The alternating variants the paper reports (Table 5): smoothing in ResNet, unsharp in DenseNet.
TABLE5_PAPER = tuple(m for m in TABLE5 if m not in ("resnet-alt-unsharp", "densenet-alt-smooth"))
UNIFORM = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
FGSM = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)

BUDGETS = {
    "quick": Budget(
        "quick",
        "smoke check of the whole pipeline: 1 epoch on 2,000 training images (500 for the "
        "deep models), 1 seed, suite on 300 test images",
        tuple(TrainJob(m, 1, 1, 2000) for m in HEADLINE)
        + (TrainJob("resnet-conv", 1, 1, 500), TrainJob("densenet-alt-unsharp", 1, 1, 500)),
        suite_limit=300,
        uniform=(0.5, 1.0, 2.0),
        fgsm=(0.05, 0.1, 0.2),
    ),
    "cpu": Budget(
        "cpu",
        "about an hour on 2 CPU cores: the three headline models with 3 seeds and 6 epochs; "
        "the other Table 2 variants with 1 seed and 6 epochs (2 for cnn-33-k9, whose 9×9 "
        "convolutions cost 9× more; cnn-wide, 74× cnn-33's multiply-accumulates, 1 epoch on "
        "10,000 images); the eight Table 5 variants the paper reports with 1 seed and 2 "
        "epochs; the paper's suite on the full test set",
        tuple(TrainJob(m, 3, 6) for m in HEADLINE)
        + tuple(TrainJob(m, 1, 6) for m in (*TABLE2_OTHERS, "wm-smooth-32-k9"))
        + (TrainJob("cnn-33-k9", 1, 2), TrainJob("cnn-wide", 1, 1, 10_000))
        + tuple(TrainJob(m, 1, 2) for m in TABLE5_PAPER),
        suite_limit=None,
        uniform=UNIFORM,
        fgsm=FGSM,
    ),
    "paper": Budget(
        "paper",
        "the full protocol, meant for a GPU: every variant of Tables 2 and 5, 3 seeds, 50 epochs "
        "(best validation weights kept), the paper's suite on the full test set",
        tuple(
            TrainJob(m, 3, 50)
            for m in (*HEADLINE, *TABLE2_OTHERS, "cnn-33-k9", "wm-smooth-32-k9", "cnn-wide")
        )
        + tuple(TrainJob(m, 3, 50) for m in TABLE5),
        suite_limit=None,
        uniform=UNIFORM,
        fgsm=FGSM,
    ),
}


def get_budget(name: str) -> Budget:
    """The budget called ``name``.

    Raises:
        ConfigError: there is no such budget.
    """
    if name not in BUDGETS:
        raise ConfigError(f"unknown budget {name!r} (choose {', '.join(BUDGETS)})")
    return BUDGETS[name]
