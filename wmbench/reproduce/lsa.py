"""Reproduction of Layer Sustainability Analysis' MNIST table (Khalooei et al., arXiv:2202.02626):
model B (`lsa-b`) trained normally, adversarially and with AT-LR (the first layer as the MVL),
measured by FGSM at ε = 0 … 0.5 (their table), PGD-40 at ε = 0.3 (the stronger check FGSM-only
tables lack) and the per-layer relative errors; a report sets ours beside theirs.

LSA does not state its training ε, steps, epochs or γ. Our choices, per budget, are in
:data:`LSA_BUDGETS` and the report. Checkpoints are kept as they are written, so an interrupted
reproduction continues where it stopped, as the WM one does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from wmbench._io import write_text_atomic
from wmbench.errors import ConfigError
from wmbench.paper.lsa import LSA_EPS, accuracy_rows, lsa_claims
from wmbench.reproduce.budgets import TrainJob
from wmbench.reproduce.pipeline import Events, measure, train_all, training_table
from wmbench.runtime import describe_device, resolve_device
from wmbench.train import AdversarialConfig

MODEL = "lsa-b"
FIRST_LAYER = "body.conv1"  # LSA's AT-LR row regularises model B's first layer
GAMMA = 1.0
EPS = 0.3


@dataclass(frozen=True)
class LsaBudget:
    """How much of LSA's MNIST experiment a reproduction runs.

    Attributes:
        name: ``quick``, ``cpu`` or ``paper``.
        description: one line for the report.
        jobs: ``normal``, ``at`` and ``at-lr``, in that order.
        suite_limit: test images the suite measures (None: all 10,000).
        pgd_steps: steps of the PGD check at ε = 0.3 (Madry et al.: 40 of 0.01).
        pgd_alpha: its step size.
    """

    name: str
    description: str
    jobs: tuple[TrainJob, ...]
    suite_limit: int | None
    pgd_steps: int = 40
    pgd_alpha: float = 0.01


def _jobs(
    epochs: int, at_epochs: int, attack: AdversarialConfig, limit: int | None = None
) -> tuple[TrainJob, ...]:
    at_lr = AdversarialConfig(
        attack.method, attack.eps, attack.steps, attack.alpha, lr_gamma=GAMMA,
        lr_layers=[FIRST_LAYER],
    )  # fmt: skip
    return (
        TrainJob(MODEL, 1, epochs, limit, label="normal"),
        TrainJob(MODEL, 1, at_epochs, limit, label="at", adversarial=attack),
        TrainJob(MODEL, 1, at_epochs, limit, label="at-lr", adversarial=at_lr),
    )


LSA_BUDGETS = {
    "quick": LsaBudget(
        "quick",
        "smoke check of the pipeline: 1 epoch on 2,000 training images per model, fast AT "
        "(FGSM from a random start) at ε 0.3; suite on 300 test images, PGD with 10 steps of 0.03",
        _jobs(1, 1, AdversarialConfig("fgsm-rs", EPS), limit=2000),
        suite_limit=300,
        pgd_steps=10,
        pgd_alpha=0.03,
    ),
    "cpu": LsaBudget(
        "cpu",
        "about an hour on 2 CPU cores: normal training 5 epochs; AT and AT-LR by PGD-AT with "
        "few steps (ε 0.3, random start, 3 steps of 0.25) for 12 epochs, AT-LR with "
        f"γ = {GAMMA:g} on {FIRST_LAYER}; the suite on the full test set",
        _jobs(5, 12, AdversarialConfig("pgd", EPS, steps=3)),
        suite_limit=None,
    ),
    "paper": LsaBudget(
        "paper",
        "meant for a GPU: normal training 20 epochs; AT and AT-LR by PGD-AT (ε 0.3, 40 steps of "
        f"0.01, Madry et al.) for 50 epochs, AT-LR with γ = {GAMMA:g} on {FIRST_LAYER}; the "
        "suite on the full test set (LSA trained with APGD, which wmbench's trainer lacks)",
        _jobs(20, 50, AdversarialConfig("pgd", EPS, steps=40, alpha=0.01)),
        suite_limit=None,
    ),
}


def get_lsa_budget(name: str) -> LsaBudget:
    """The LSA budget called ``name``.

    Raises:
        ConfigError: there is no such budget.
    """
    if name not in LSA_BUDGETS:
        raise ConfigError(
            f"unknown budget {name!r} for --paper lsa (choose {', '.join(LSA_BUDGETS)})"
        )
    return LSA_BUDGETS[name]


def write_lsa_suite(budget: LsaBudget, out_dir: Path) -> Path:
    """LSA's FGSM sweep, the PGD check and per-layer relative errors over the three models."""
    dataset: dict[str, Any] = {"name": "mnist", "split": "test"}
    if budget.suite_limit:
        dataset["limit"] = budget.suite_limit
    document = {
        "name": f"lsa-mnist-{budget.name}",
        "dataset": dataset,
        "batch_size": 500,
        "seed": 0,
        "device": "auto",
        "per_layer": True,
        "models": {job.name: f"checkpoints/{job.name}-s0.safetensors" for job in budget.jobs},
        "perturbations": [
            {"kind": "clean"},
            {"kind": "fgsm", "eps": [eps for eps in LSA_EPS if eps > 0]},
            {"kind": "pgd", "eps": EPS, "alpha": budget.pgd_alpha, "steps": budget.pgd_steps},
        ],
    }
    return write_text_atomic(out_dir / "suite.yaml", yaml.safe_dump(document, sort_keys=False))


def reproduce_lsa(
    budget_name: str,
    out_dir: str | Path,
    *,
    device: str = "auto",
    data_dir: Path | None = None,
    events: Events | None = None,
) -> Path:
    """Runs LSA's MNIST reproduction end to end and returns the path of its report."""
    from wmbench.reporting.lsa_report import write_lsa_report

    budget = get_lsa_budget(budget_name)
    say = events or (lambda message: None)
    out_dir = Path(out_dir)
    torch_device = resolve_device(device)
    started = time.perf_counter()
    train_all(budget.jobs, out_dir, torch_device, data_dir, say)
    say("running the suite: FGSM sweep, PGD check, per-layer relative errors")
    document = measure(write_lsa_suite(budget, out_dir), out_dir, torch_device, data_dir)
    rows = accuracy_rows(document)
    report = write_lsa_report(
        out_dir / "report.md",
        budget=budget,
        training=training_table(budget.jobs, out_dir),
        rows=rows,
        claims=lsa_claims(rows),
        document=document,
        device=describe_device(torch_device),
        wall_seconds=time.perf_counter() - started,
    )
    say(f"report written to {report}")
    return report
