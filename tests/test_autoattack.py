"""AutoAttack's protocol and ``worst-of``: the per-image worst case against torchattacks'
``MultiAttack`` and a literal loop over torchattacks' attacks, each attack alone, each part of a
``worst-of`` alone, the suite file's refusals, gates, the JSON rows, and (on real MNIST) that
AutoAttack is at least as strong as PGD-100."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchattacks
import yaml
from mnist_files import learnable_mnist
from safetensors.torch import save_file
from torch import nn

import wmbench.perturbations.autoattack as autoattack
from wmbench.checkpoint import load_model
from wmbench.cli import run
from wmbench.gates import evaluate_gates
from wmbench.perturbations import (
    VERSIONS,
    AutoAttackProtocol,
    CwAttack,
    FgsmAttack,
    SharedWork,
    WorstOfAttack,
)
from wmbench.perturbations.autoattack import build_attack
from wmbench.suites import LoadedSuite, parse_suite, run_suite
from wmbench.suites.sources import ModuleSource

ITERATIONS, QUERIES = 5, 150  # instead of 100 and 5,000: these tests are about the protocol
CHECKPOINTS = Path(__file__).resolve().parents[1] / "models" / "checkpoints"  # shipped


# Tiny models: one intra-op thread (tests/conftest.py, ``one_thread``).
pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.heavy(seconds=95)]


class TinyNet(nn.Module):
    """A small classifier with the benchmark model's attributes; ``levels`` rounds its input
    to that many grey levels first (a gradient of exactly zero: masking on purpose)."""

    def __init__(self, levels: int | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 5, stride=3)
        self.fc = nn.Linear(4 * 8 * 8, 10)
        self.input_shape, self.num_classes, self.feature_layer = (1, 28, 28), 10, "conv"
        self.levels = levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.levels:
            x = torch.round(x * self.levels) / self.levels
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def as_tensors(arrays: dict, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.from_numpy(arrays[f"{split}_images"]).float()[:, None] / 255
    return images, torch.from_numpy(arrays[f"{split}_labels"])


def trained(model: nn.Module, steps: int) -> nn.Module:
    images, labels = as_tensors(learnable_mnist(600, 1), "train")
    torch.manual_seed(0)
    optimiser = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(steps):
        index = torch.randint(0, len(images), (64,))
        loss = F.cross_entropy(model(images[index]), labels[index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval().requires_grad_(False)


@pytest.fixture(scope="module")
def sample():
    return as_tensors(learnable_mnist(10, 32, seed=1), "test")


@pytest.fixture(scope="module")
def models():
    """``plain``: five training steps, so some clean mistakes and attacks that break some
    images; ``rounded``: its input rounded to 4 grey levels, so only Square can break it."""
    torch.manual_seed(0)
    plain = trained(TinyNet(), steps=5)
    torch.manual_seed(0)
    rounded = trained(TinyNet(levels=4), steps=12)
    return {"plain": plain, "rounded": rounded}


@pytest.fixture
def fast(monkeypatch):
    monkeypatch.setattr(autoattack, "ITERATIONS", ITERATIONS)
    monkeypatch.setattr(autoattack, "SQUARE_QUERIES", QUERIES)


def reference_attacks(model: nn.Module, eps: float) -> list[tuple[str, object]]:
    """AutoAttack's standard version (fra31/auto-attack, ``set_version('standard')``) written
    out with torchattacks' classes, at this module's iteration and query counts."""
    return [
        (
            "apgd-ce",
            torchattacks.APGD(
                model, eps=eps, steps=ITERATIONS, n_restarts=1, loss="ce", seed=0, rho=0.75
            ),
        ),
        (
            "apgd-t",
            torchattacks.APGDT(
                model, eps=eps, steps=ITERATIONS, n_restarts=1, n_classes=10, seed=0
            ),
        ),
        (
            "fab-t",
            torchattacks.FAB(
                model,
                eps=eps,
                steps=ITERATIONS,
                multi_targeted=True,
                n_restarts=1,
                n_classes=10,
                seed=0,
            ),
        ),
        (
            "square",
            torchattacks.Square(
                model,
                eps=eps,
                n_queries=QUERIES,
                p_init=0.8,
                n_restarts=1,
                loss="margin",
                resc_schedule=False,
                seed=0,
            ),
        ),
    ]


def reference_protocol(model, attacks, images, labels) -> tuple[torch.Tensor, dict[str, int]]:
    """AutoAttack's ``run_standard_evaluation`` loop: each attack on the images still robust."""
    with torch.no_grad():
        robust = model(images).argmax(1) == labels
    counts = {"clean": int((~robust).sum())}
    for name, attack in attacks:
        index = robust.nonzero().flatten()
        adversarial = attack(images[index], labels[index])
        with torch.no_grad():
            broke = model(adversarial).argmax(1) != labels[index]
        robust[index[broke]] = False
        counts[name] = int(broke.sum())
    return ~robust, counts


def wrong_under(model, adversarial, labels) -> torch.Tensor:
    with torch.no_grad():
        return model(adversarial).argmax(1) != labels


# --- the protocol against torchattacks ----------------------------------------------------------


@pytest.mark.parametrize(("name", "eps"), [("plain", 0.05), ("rounded", 0.3)])
def test_standard_version_equals_torchattacks_multiattack(fast, models, sample, name, eps):
    model = models[name]
    images, labels = sample
    found = AutoAttackProtocol(eps, version="standard").worst_case(
        model, images, labels, SharedWork()
    )
    attacks = reference_attacks(model, eps)
    adversarial = torchattacks.MultiAttack([attack for _, attack in attacks])(images, labels)
    assert torch.equal(found.wrong, wrong_under(model, adversarial, labels))
    broken = found.wrong.nonzero().flatten()
    assert torch.equal(found.images[broken], adversarial[broken])
    wrong, counts = reference_protocol(model, reference_attacks(model, eps), images, labels)
    assert torch.equal(found.wrong, wrong)
    assert found.broken_by == counts
    assert list(found.broken_by) == ["clean", "apgd-ce", "apgd-t", "fab-t", "square"]
    assert sum(found.broken_by.values()) == int(found.wrong.sum())
    if name == "plain":  # clean mistakes and more than one attack at work
        assert counts["clean"] > 0 and counts["apgd-ce"] > 0 and counts["apgd-t"] > 0
        assert 0 < int(found.wrong.sum()) < len(labels)
    else:  # the gradients are zero: Square does the work
        assert counts["apgd-ce"] == counts["apgd-t"] == counts["fab-t"] == 0
        assert counts["square"] > 0


# fra31/auto-attack, autoattack.py: the attacks' constructors and set_version('standard').
REFERENCE_STANDARD = {
    "apgd-ce": (
        torchattacks.APGD,
        {"steps": 100, "n_restarts": 1, "loss": "ce", "thr_decr": 0.75, "eot_iter": 1, "seed": 0},
    ),
    "apgd-t": (
        torchattacks.APGDT,
        {"steps": 100, "n_restarts": 1, "n_target_classes": 9, "thr_decr": 0.75, "seed": 0},
    ),
    "fab-t": (
        torchattacks.FAB,
        {
            "steps": 100,
            "n_restarts": 1,
            "n_target_classes": 9,
            "multi_targeted": True,
            "alpha_max": 0.1,
            "eta": 1.05,
            "beta": 0.9,
            "seed": 0,
        },
    ),
    "square": (
        torchattacks.Square,
        {
            "n_queries": 5000,
            "n_restarts": 1,
            "p_init": 0.8,
            "loss": "margin",
            "rescale_schedule": False,
            "seed": 0,
        },
    ),
}


@pytest.mark.parametrize("name", list(REFERENCE_STANDARD))
def test_standard_attacks_have_the_reference_settings(models, name):
    cls, settings = REFERENCE_STANDARD[name]
    attack = build_attack(name, models["plain"], 0.3, "Linf", "standard", num_classes=10)
    assert type(attack) is cls
    assert {key: getattr(attack, key) for key in settings} == settings
    assert (attack.eps, attack.norm) == (0.3, "Linf")


def test_plus_and_rand_versions_have_the_reference_settings(models):
    model = models["plain"]
    assert VERSIONS["plus"] == ("apgd-ce", "apgd-dlr", "fab", "square", "apgd-t", "fab-t")
    assert VERSIONS["rand"] == ("apgd-ce", "apgd-dlr")
    plus = {name: build_attack(name, model, 0.3, "Linf", "plus", 10) for name in VERSIONS["plus"]}
    assert [plus[name].n_restarts for name in VERSIONS["plus"]] == [5, 5, 5, 1, 1, 1]
    assert plus["apgd-dlr"].loss == "dlr" and plus["fab"].multi_targeted is False
    assert plus["fab-t"].multi_targeted is True and plus["apgd-t"].n_target_classes == 9
    rand = [build_attack(name, model, 0.3, "L2", "rand", 10) for name in VERSIONS["rand"]]
    assert [(a.eot_iter, a.n_restarts, a.norm) for a in rand] == [(20, 1, "L2")] * 2


# --- worst case by construction -----------------------------------------------------------------


def test_the_protocol_breaks_every_image_any_of_its_attacks_breaks_alone(fast, models, sample):
    model = models["plain"]
    images, labels = sample
    eps = 0.05
    found = AutoAttackProtocol(eps).worst_case(model, images, labels, SharedWork())
    alone = {}
    for name in VERSIONS["standard"]:
        attack = build_attack(name, model, eps, "Linf", "standard", num_classes=10)
        alone[name] = wrong_under(model, attack(images, labels), labels)
        assert not (alone[name] & ~found.wrong).any(), name
        single = AutoAttackProtocol(eps, attacks=[name]).worst_case(
            model, images, labels, SharedWork()
        )
        assert torch.equal(single.wrong, alone[name]) and list(single.broken_by) == ["clean", name]
    union = alone["apgd-ce"] | alone["apgd-t"] | alone["fab-t"] | alone["square"]
    assert (union & ~alone["apgd-ce"]).any()  # the later attacks do add images
    assert torch.equal(found.wrong, union)


# --- worst-of -----------------------------------------------------------------------------------

# Deterministic parts (no random start), so that each breaks the same images alone as inside the
# worst-of; Carlini-Wagner's L2 attack breaks images the FGSMs do not.
PARTS = [
    {"kind": "fgsm", "eps": 0.05},
    {"kind": "fgsm", "name": "fgsm-margin", "eps": 0.05, "loss": "margin"},
    {"kind": "cw", "c": 10.0, "steps": 10, "lr": 0.05},
]


def in_memory_suite(model: nn.Module, document: dict) -> LoadedSuite:
    suite = parse_suite(
        {"name": "t", "models": {"m": "<in memory>"}, "device": "cpu", **document}, "suite"
    )
    return LoadedSuite(suite, None, {"m": ModuleSource("m", model)})


def test_worst_of_breaks_an_image_when_any_part_breaks_it(models, sample):
    model = models["plain"]
    images, labels = sample
    parts = [
        ("fgsm", FgsmAttack(0.05)),
        ("fgsm-margin", FgsmAttack(0.05, loss="margin")),
        ("cw", CwAttack(c=10.0, kappa=0.0, steps=10, lr=0.05)),
    ]
    clean = wrong_under(model, images, labels)
    wrong = {
        label: wrong_under(model, part(model, images, labels), labels) for label, part in parts
    }
    union = clean | wrong["fgsm"] | wrong["fgsm-margin"] | wrong["cw"]
    expected_counts = {"clean": int(clean.sum())}
    seen = clean.clone()
    for label, _ in parts:
        expected_counts[label] = int((wrong[label] & ~seen).sum())
        seen |= wrong[label]
    assert len({int(w.sum()) for w in wrong.values()}) > 1  # the parts differ
    assert int(union.sum()) > max(int(w.sum()) for w in wrong.values())

    found = WorstOfAttack(parts).worst_case(model, images, labels, SharedWork())
    assert torch.equal(found.wrong, union) and found.broken_by == expected_counts

    loaded = in_memory_suite(
        model,
        {
            "batch_size": 16,  # two batches
            "perturbations": [{"kind": "clean"}, {"kind": "worst-of", "of": PARTS}],
            "gates": [],
        },
    )
    results = run_suite(loaded, images=images, labels=labels)
    cell = results.cells[1]
    assert (cell.kind, cell.params, cell.wrong) == ("worst-of", {}, int(union.sum()))
    assert cell.broken_by == expected_counts
    assert results.cells[0].broken_by is None


@pytest.mark.parametrize(
    ("perturbations", "message"),
    [
        (
            [{"kind": "worst-of", "of": [{"kind": "fgsm", "eps": [0.1, 0.2]}, {"kind": "clean"}]}],
            "of[0]: each perturbation of a worst-of runs at one setting, not a sweep (give its "
            "parameters single values)",
        ),
        (
            [
                {
                    "kind": "worst-of",
                    "of": [{"kind": "pgd", "eps": 0.1, "steps": [5, 10]}, {"kind": "clean"}],
                }
            ],
            "of[0]: each perturbation of a worst-of runs at one setting",
        ),
        (
            [
                {
                    "kind": "worst-of",
                    "of": [{"kind": "fgsm", "eps": 0.1}, {"kind": "fgsm", "eps": 0.2}],
                }
            ],
            "of[1]: label 'fgsm' is used twice; give one a distinct `name`",
        ),
        (
            [{"kind": "worst-of", "of": [{"kind": "fgsm", "eps": 0.1}]}],
            "perturbations[0].of: List should have at least 2 items",
        ),
        (
            [{"kind": "autoattack", "eps": 0.1, "attacks": ["apgd-ce", "pgd"]}],
            "perturbations[0].attacks[1]: Input should be 'apgd-ce', 'apgd-dlr', 'apgd-t', "
            "'fab', 'fab-t' or 'square' (got 'pgd')",
        ),
        (
            [{"kind": "autoattack", "eps": 0.1, "attacks": ["square", "square"]}],
            "each attack may be named once",
        ),
        (
            [{"kind": "autoattack", "eps": 0.1, "version": "fast"}],
            "perturbations[0].version",
        ),
    ],
    ids=[
        "sweep",
        "sweep-steps",
        "duplicate-label",
        "one-part",
        "unknown-attack",
        "attack-twice",
        "unknown-version",
    ],
)
def test_bad_worst_case_entries_exit_2_with_one_line(
    tmp_path, one_error_line, perturbations, message
):
    document = {
        "name": "bad",
        "models": {"cnn": str((tmp_path / "nowhere.safetensors").resolve())},
        "perturbations": perturbations,
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    assert run(["attack", str(path)]) == 2
    line = one_error_line()
    assert line.startswith(f"error: {path}: perturbations[0]") and message in line, line


def test_gates_judge_a_worst_of_cell(models, sample):
    model = models["plain"]
    images, labels = sample
    document = {
        "batch_size": 32,
        "perturbations": [{"kind": "worst-of", "name": "worst", "of": PARTS}],
    }
    wrong = run_suite(in_memory_suite(model, document), images=images, labels=labels).cells[0].wrong
    assert 0 < wrong < len(labels)
    error = wrong / len(labels)
    gates = [
        {"model": "m", "perturbation": "worst", "max_error": error},
        {"model": "m", "perturbation": "worst", "max_error": (wrong - 1) / len(labels)},
    ]
    results = run_suite(
        in_memory_suite(model, {**document, "gates": gates}), images=images, labels=labels
    )
    holds, fails = evaluate_gates(results)
    assert holds.passed and holds.margin == 0.0 and holds.name.startswith("m worst: ")
    assert not fails.passed and fails.margin == pytest.approx(-1 / len(labels))


# --- the JSON rows ------------------------------------------------------------------------------


FACTORY = """
import torch
from torch import nn


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 5, stride=3)
        self.fc = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def build():
    return TinyNet()
"""


@pytest.fixture(scope="module")
def cli_workspace(tmp_path_factory, models, sample):
    """The plain model as a user's own model (factory file and weights), and the test images
    as an ``.npz`` data set, for ``wmbench attack``."""
    root = tmp_path_factory.mktemp("autoattack")
    (root / "tiny.py").write_text(FACTORY)
    save_file(models["plain"].state_dict(), str(root / "tiny.safetensors"))
    images, labels = sample
    np.savez(root / "test.npz", images=images.numpy(), labels=labels.numpy())
    return root


def test_json_rows_carry_broken_by_for_worst_case_cells_only(fast, cli_workspace, capsys):
    root = cli_workspace
    model = {
        "factory": "tiny.py:build",
        "weights": "tiny.safetensors",
        "input": {"channels": 1, "size": 28},
        "num_classes": 10,
    }
    document = {
        "name": "json",
        "dataset": {"name": "npz", "path": "test.npz"},
        "batch_size": 16,
        "device": "cpu",
        "models": {"tiny": model},
        "perturbations": [
            {"kind": "clean"},
            {"kind": "fgsm", "eps": 0.05},
            {"kind": "autoattack", "eps": [0.02, 0.05]},
            {"kind": "worst-of", "of": PARTS},
        ],
    }
    suite = root / "suite.yaml"
    suite.write_text(yaml.safe_dump(document, sort_keys=False))
    out = root / "out.json"
    assert run(["attack", str(suite), "--json", str(out)]) == 0, capsys.readouterr().err
    rows = json.loads(out.read_text())["results"]
    assert [row["kind"] for row in rows] == [
        "clean",
        "fgsm",
        "autoattack",
        "autoattack",
        "worst-of",
    ]
    clean_wrong = rows[0]["wrong"]
    for row in rows:
        if row["kind"] in ("clean", "fgsm"):
            assert "broken_by" not in row
            continue
        broken_by = row["broken_by"]
        assert sum(broken_by.values()) == row["wrong"] and broken_by["clean"] == clean_wrong
    attacked = [row for row in rows if row["kind"] == "autoattack"]
    assert [list(row["broken_by"]) for row in attacked] == [["clean", *VERSIONS["standard"]]] * 2
    assert [row["eps"] for row in attacked] == [0.02, 0.05]
    assert 0 < clean_wrong < attacked[0]["wrong"] < attacked[1]["wrong"] < 32
    assert list(rows[4]["broken_by"]) == ["clean", "fgsm", "fgsm-margin", "cw"]


# --- real MNIST: AutoAttack at least as strong as PGD-100 ----------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("checkpoint", ["cnn-33", "wm-unsharp-32"])
def test_autoattack_is_at_least_as_strong_as_pgd_100(checkpoint):
    from wmbench.data import load_mnist

    mnist = load_mnist()
    images = mnist.test_images[:16].float()[:, None] / 255
    labels = mnist.test_labels[:16]
    model = load_model(CHECKPOINTS / f"{checkpoint}.safetensors")
    # eps 0.05: the shipped (converged) models are broken on nearly every image from 0.1 on
    pgd = {"kind": "pgd", "eps": 0.05, "alpha": 0.01, "steps": 100}
    document = {
        "batch_size": 16,
        "perturbations": [
            {"kind": "clean"},
            pgd,
            {**pgd, "name": "pgd-margin", "loss": "margin"},
            {"kind": "autoattack", "eps": 0.05},
        ],
    }
    results = run_suite(in_memory_suite(model, document), images=images, labels=labels)
    wrong = {cell.perturbation: cell.wrong for cell in results.cells}
    assert wrong["clean"] < wrong["pgd"] < len(labels)
    assert wrong["autoattack"] >= max(wrong["pgd"], wrong["pgd-margin"])
    assert sum(results.cells[3].broken_by.values()) == wrong["autoattack"]
