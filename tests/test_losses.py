"""The attack losses (cross-entropy, C&W margin, AutoAttack's DLR) and the attacks that climb them,
against literal per-image formulas written here and against torchattacks itself."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchattacks
from mnist_files import learnable_mnist
from torch import nn

from wmbench.errors import ConfigError
from wmbench.perturbations import (
    ApgdAttack,
    FgsmAttack,
    PgdAttack,
    attack_loss,
    build_perturbation,
    dlr_loss,
    margin_loss,
)
from wmbench.schema import Suite
from wmbench.suites import LoadedSuite, run_suite
from wmbench.suites.sources import ModuleSource

# Tiny models: one intra-op thread (tests/conftest.py, ``one_thread``).
pytestmark = pytest.mark.usefixtures("one_thread")


class TinyNet(nn.Module):
    """A small classifier with the benchmark model's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 5, stride=3)
        self.fc = nn.Linear(4 * 8 * 8, 10)
        self.input_shape, self.num_classes, self.feature_layer = (1, 28, 28), 10, "conv"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).flatten(1))


@pytest.fixture(scope="module")
def trained():
    """A tiny model trained a few steps on the learnable task, and 32 test images it mostly gets
    right (so that attacks have work to do)."""
    arrays = learnable_mnist(600, 32)
    images = torch.from_numpy(arrays["train_images"]).float()[:, None] / 255
    labels = torch.from_numpy(arrays["train_labels"])
    torch.manual_seed(0)
    model = TinyNet()
    optimiser = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(10):
        index = torch.randint(0, len(images), (64,))
        loss = F.cross_entropy(model(images[index]), labels[index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval().requires_grad_(False)
    test_images = torch.from_numpy(arrays["test_images"]).float()[:, None] / 255
    return model, test_images, torch.from_numpy(arrays["test_labels"])


# --- literal per-image references ----------------------------------------------------------------


def literal_margin(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``max_{j≠y} z_j − z_y``, one row at a time."""
    rows = []
    for z, y in zip(logits, labels.tolist(), strict=True):
        others = torch.cat([z[:y], z[y + 1 :]])
        rows.append(others.max() - z[y])
    return torch.stack(rows)


def literal_dlr(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``−(z_y − max_{j≠y} z_j) / (z_π1 − z_π3)`` (Croce & Hein 2020, eq. 6), one row at a
    time, with ``π`` the classes ordered by decreasing logit."""
    rows = []
    for z, y in zip(logits, labels.tolist(), strict=True):
        others = torch.cat([z[:y], z[y + 1 :]])
        order = sorted(range(len(z)), key=lambda j: -float(z[j].detach()))
        rows.append(-(z[y] - others.max()) / (z[order[0]] - z[order[2]] + 1e-12))
    return torch.stack(rows)


LITERAL = {"margin": literal_margin, "dlr": literal_dlr}


def literal_gradient(model, images, labels, loss: str) -> torch.Tensor:
    """Input gradient of the batch mean of a literal loss."""
    x = images.clone().requires_grad_(True)
    value = LITERAL[loss](model(x), labels).sum() / len(labels)
    return torch.autograd.grad(value, x)[0]


def literal_pgd(model, images, labels, eps, alpha, steps, loss, seed) -> torch.Tensor:
    """PGD as Madry et al. write it, climbing a literal loss, from torch's global generator."""
    torch.manual_seed(seed)
    x = images + torch.empty_like(images).uniform_(-eps, eps)
    x = x.clamp(0, 1)
    for _ in range(steps):
        step = x + alpha * literal_gradient(model, x, labels, loss).sign()
        x = (images + (step - images).clamp(-eps, eps)).clamp(0, 1)
    return x


# --- the losses ---------------------------------------------------------------------------------


@pytest.fixture
def logits_and_labels():
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(12, 6, generator=generator) * 4
    labels = torch.randint(0, 6, (12,), generator=generator)
    labels[:4] = logits[:4].argmax(1)  # some rows correct, most wrong
    return logits, labels


def test_margin_is_the_literal_formula(logits_and_labels):
    logits, labels = logits_and_labels
    assert torch.equal(margin_loss(logits, labels), literal_margin(logits, labels))
    wrong = logits.argmax(1) != labels
    assert torch.equal(margin_loss(logits, labels) > 0, wrong)
    assert 0 < int(wrong.sum()) < len(labels)


def test_dlr_is_the_literal_formula(logits_and_labels):
    logits, labels = logits_and_labels
    assert torch.allclose(dlr_loss(logits, labels), literal_dlr(logits, labels), rtol=1e-6)


def test_dlr_is_the_reference_dlr_of_torchattacks(logits_and_labels):
    """torchattacks' APGD computes the same DLR (it writes it without the sign trick)."""
    logits, labels = logits_and_labels
    reference = torchattacks.APGD(nn.Identity(), loss="dlr").dlr_loss(logits, labels)
    assert torch.allclose(dlr_loss(logits, labels), reference, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("scale", "shift"), [(1.0, 5.0), (0.01, -3.0), (1e3, 0.0), (7.5, 1e2)])
def test_dlr_ignores_scaling_and_shifting_the_logits(logits_and_labels, scale, shift):
    logits, labels = logits_and_labels
    row_shift = shift * torch.arange(len(logits), dtype=torch.float32)[:, None]
    moved = scale * logits + row_shift  # a different shift per row
    assert torch.allclose(dlr_loss(moved, labels), dlr_loss(logits, labels), rtol=1e-3)
    # The margin ignores the shift only: it scales with the logits.
    expected = scale * margin_loss(logits, labels)
    assert torch.allclose(margin_loss(moved, labels), expected, rtol=1e-4, atol=1e-3)


def test_dlr_refuses_fewer_than_three_classes():
    logits, labels = torch.randn(4, 2), torch.tensor([0, 1, 0, 1])
    with pytest.raises(ConfigError, match="the dlr loss needs at least 3 classes, the model has 2"):
        dlr_loss(logits, labels)
    assert dlr_loss(torch.randn(4, 3), labels).shape == (4,)


def test_unknown_loss_names_are_refused():
    with pytest.raises(ConfigError, match="unknown loss 'hinge'; expected one of ce, margin, dlr"):
        attack_loss("hinge")
    with pytest.raises(ConfigError, match="unknown loss 'hinge'"):
        FgsmAttack(0.1, loss="hinge")
    with pytest.raises(ConfigError, match="unknown loss 'hinge'"):
        PgdAttack(0.1, 0.01, 2, loss="hinge")


# --- FGSM ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("eps", [0.0, 0.05, 0.2])
def test_fgsm_ce_equals_torchattacks_exactly(trained, eps):
    model, images, labels = trained
    ours = FgsmAttack(eps, loss="ce")(model, images, labels)
    assert torch.equal(ours, torchattacks.FGSM(model, eps=eps)(images, labels))


@pytest.mark.parametrize("loss", ["margin", "dlr"])
def test_fgsm_follows_the_sign_of_the_literal_loss_gradient(trained, loss):
    model, images, labels = trained
    gradient = literal_gradient(model, images, labels, loss)
    expected = (images + 0.1 * gradient.sign()).clamp(0, 1)
    ours = FgsmAttack(0.1, loss=loss)(model, images, labels)
    assert torch.equal(ours, expected)
    ce = FgsmAttack(0.1)(model, images, labels)
    assert not torch.equal(ours, ce)  # a different loss, a different step


# --- PGD ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("eps", "alpha", "steps", "seed"),
    [(0.1, 0.02, 3, 5), (0.05, 0.01, 7, 1), (0.3, 0.1, 1, 2), (0.0, 0.01, 2, 0)],
)
def test_pgd_ce_equals_torchattacks_exactly(trained, eps, alpha, steps, seed):
    model, images, labels = trained
    torch.manual_seed(seed)
    reference = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps)(images, labels)
    torch.manual_seed(seed)
    ours = PgdAttack(eps=eps, alpha=alpha, steps=steps, loss="ce")(model, images, labels)
    assert torch.equal(ours, reference)


@pytest.mark.parametrize("loss", ["margin", "dlr"])
def test_pgd_with_a_logit_loss_is_the_literal_loop(trained, loss):
    model, images, labels = trained
    eps, alpha, steps = 0.1, 0.02, 6
    expected = literal_pgd(model, images, labels, eps, alpha, steps, loss, seed=4)
    torch.manual_seed(4)
    ours = PgdAttack(eps=eps, alpha=alpha, steps=steps, loss=loss)(model, images, labels)
    assert torch.equal(ours, expected)
    assert (ours - images).abs().max() <= eps + 1e-6
    assert ours.min() >= 0 and ours.max() <= 1


def test_margin_pgd_is_at_least_as_strong_as_one_margin_fgsm_step(trained):
    model, images, labels = trained
    torch.manual_seed(0)
    pgd = PgdAttack(eps=0.1, alpha=0.02, steps=10, loss="margin")(model, images, labels)
    fgsm = FgsmAttack(0.1, loss="margin")(model, images, labels)
    with torch.no_grad():
        pgd_wrong = int((model(pgd).argmax(1) != labels).sum())
        fgsm_wrong = int((model(fgsm).argmax(1) != labels).sum())
        clean_wrong = int((model(images).argmax(1) != labels).sum())
    assert pgd_wrong >= fgsm_wrong > clean_wrong


# --- APGD ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["ce", "dlr"])
def test_apgd_equals_torchattacks_exactly(trained, loss):
    model, images, labels = trained
    reference = torchattacks.APGD(
        model, norm="Linf", eps=0.08, steps=10, n_restarts=1, loss=loss, eot_iter=1, seed=0
    )(images, labels)
    ours = ApgdAttack(eps=0.08, steps=10, loss=loss)(model, images, labels)
    assert torch.equal(ours, reference)


class LiteralMarginAPGD(torchattacks.APGD):
    """torchattacks' APGD with its DLR slot climbing the literal margin."""

    def dlr_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return literal_margin(x, y)


def test_margin_apgd_climbs_the_margin(trained, logits_and_labels):
    model, images, labels = trained
    attack = ApgdAttack(eps=0.08, steps=10, loss="margin")
    assert attack.params["loss"] == "margin" and attack.args["loss"] == "dlr"
    reference = LiteralMarginAPGD(
        model, norm="Linf", eps=0.08, steps=10, n_restarts=1, loss="dlr", seed=0
    )(images, labels)
    ours = attack(model, images, labels)
    assert torch.equal(ours, reference)
    # The loss slot of the attack object in use is the margin, not torchattacks' DLR.
    logits, sample_labels = logits_and_labels
    in_use = attack._attack_for(model)
    assert in_use.loss == "dlr"
    assert torch.equal(in_use.dlr_loss(logits, sample_labels), margin_loss(logits, sample_labels))
    assert not torch.allclose(
        in_use.dlr_loss(logits, sample_labels), dlr_loss(logits, sample_labels)
    )


# --- the suite entries --------------------------------------------------------------------------


def suite_of(*perturbations: dict) -> Suite:
    return Suite.model_validate(
        {
            "name": "losses",
            "models": {"m": "<in memory>"},
            "device": "cpu",
            "batch_size": 16,
            "perturbations": list(perturbations),
        }
    )


def test_the_ce_loss_is_a_quiet_default_of_fgsm_and_pgd():
    suite = suite_of(
        {"kind": "fgsm", "eps": [0.1, 0.2]},
        {"kind": "fgsm", "name": "fgsm-ce", "eps": 0.1, "loss": "ce"},
        {"kind": "fgsm", "name": "fgsm-margin", "eps": 0.1, "loss": "margin"},
        {"kind": "pgd", "eps": 0.1, "steps": 2},
        {"kind": "pgd", "name": "pgd-dlr", "eps": 0.1, "steps": 2, "loss": "dlr"},
    )
    fgsm, fgsm_ce, fgsm_margin, pgd, pgd_dlr = suite.perturbations
    assert fgsm.points() == [{"eps": 0.1}, {"eps": 0.2}]
    assert fgsm_ce.points() == [{"eps": 0.1}]
    assert fgsm_margin.points() == [{"eps": 0.1, "loss": "margin"}]
    assert pgd.points() == [{"eps": 0.1, "alpha": 0.01, "steps": 2, "random_start": True}]
    assert pgd_dlr.points()[0]["loss"] == "dlr"
    assert build_perturbation(fgsm_ce, fgsm_ce.points()[0]).params == {"eps": 0.1}
    built = build_perturbation(fgsm_margin, fgsm_margin.points()[0])
    assert built.params == {"eps": 0.1, "loss": "margin"} and built.gradient_loss == "margin"


def test_a_suite_uses_each_fgsm_entrys_own_loss(trained):
    """The runner shares one clean gradient per loss; each FGSM entry must get its own."""
    model, images, labels = trained
    suite = suite_of(
        {"kind": "fgsm", "eps": 0.1},
        {"kind": "fgsm", "name": "fgsm-margin", "eps": 0.1, "loss": "margin"},
        {"kind": "fgsm", "name": "fgsm-dlr", "eps": 0.1, "loss": "dlr"},
    )
    loaded = LoadedSuite(suite, None, {"m": ModuleSource("m", model)})
    results = run_suite(loaded, images=images, labels=labels)
    wrong = {cell.perturbation: cell.wrong for cell in results.cells}
    expected = {}
    for label, loss in (("fgsm", "ce"), ("fgsm-margin", "margin"), ("fgsm-dlr", "dlr")):
        batches = []
        for start in (0, 16):  # the suite's batches
            x, y = images[start : start + 16], labels[start : start + 16]
            if loss == "ce":
                batches.append(torchattacks.FGSM(model, eps=0.1)(x, y))
            else:
                gradient = literal_gradient(model, x, y, loss)
                batches.append((x + 0.1 * gradient.sign()).clamp(0, 1))
        with torch.no_grad():
            expected[label] = int((model(torch.cat(batches)).argmax(1) != labels).sum())
    assert wrong == expected
    assert len(set(expected.values())) > 1  # the losses do lead to different images
