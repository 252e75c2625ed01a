"""EWAS (Element-Wise Activation Scaling): the layer against a literal computation of its
definition, its auxiliary loss in training, and the defence-aware attacks against the standard
ones on a small trained EWAS model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from wmbench.data import load_mnist, to_float
from wmbench.layers import ElementWiseActivationScaling, auxiliary_loss, ewas_mask, supervised
from wmbench.perturbations import DefenceAwareView, FgsmAttack, PgdAttack, build_perturbation
from wmbench.schema import Fgsm, Pgd
from wmbench.train import AdversarialConfig, batch_loss, pgd_examples

pytestmark = pytest.mark.usefixtures("one_thread")


class TinyEwasNet(nn.Module):
    """conv → ReLU → EWAS → conv → ReLU → linear, on 28×28 images."""

    def __init__(self, aux_weight: float = 0.01) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 5, stride=2)  # 12×12
        self.ewas = ElementWiseActivationScaling(8, 12, 12, 10, aux_weight=aux_weight)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2)  # 5×5
        self.fc = nn.Linear(16 * 5 * 5, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.ewas(F.relu(self.conv1(x)))
        return self.fc(F.relu(self.conv2(x)).flatten(1))


class PlainNet(nn.Module):
    """The same network without EWAS."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 5, stride=2)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2)
        self.fc = nn.Linear(16 * 5 * 5, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        return self.fc(F.relu(self.conv2(x)).flatten(1))


def _layer(seed: int = 0) -> ElementWiseActivationScaling:
    torch.manual_seed(seed)
    return ElementWiseActivationScaling(2, 3, 3, 4)


def test_test_time_mask_is_the_row_of_the_auxiliary_argmax():
    layer = _layer()
    x = torch.randn(5, 2, 3, 3)
    aux = x.flatten(1) @ layer.aux.weight.T + layer.aux.bias
    expected = torch.stack(
        [x[i] * layer.aux.weight[aux[i].argmax()].view(2, 3, 3) for i in range(5)]
    )
    torch.testing.assert_close(layer(x), expected)
    torch.testing.assert_close(layer.last_aux_logits, aux)


def test_mask_switches_with_the_auxiliary_prediction():
    layer = _layer()
    with torch.no_grad():
        layer.aux.bias.zero_()
        layer.aux.bias[1] = 100.0  # the auxiliary classifier says class 1 …
    x = torch.rand(1, 2, 3, 3)
    torch.testing.assert_close(layer(x), x * layer.aux.weight[1].view(1, 2, 3, 3))
    with torch.no_grad():
        layer.aux.bias[3] = 200.0  # … now class 3: the mask follows
    torch.testing.assert_close(layer(x), x * layer.aux.weight[3].view(1, 2, 3, 3))


def test_training_uses_the_true_labels_row_and_forgets_it_afterwards():
    layer = _layer()
    x, labels = torch.randn(4, 2, 3, 3), torch.tensor([0, 3, 3, 2])
    with supervised(layer, labels):
        scaled = layer(x)
        torch.testing.assert_close(scaled, x * layer.aux.weight[labels].view(4, 2, 3, 3))
    assert layer.targets is None
    with pytest.raises(RuntimeError), supervised(layer, labels):
        raise RuntimeError("boom")
    assert layer.targets is None


def test_auxiliary_loss_is_lambda_times_the_auxiliary_cross_entropy():
    torch.manual_seed(1)
    model = TinyEwasNet(aux_weight=0.25)
    images, labels = torch.rand(6, 1, 28, 28), torch.tensor([0, 1, 2, 3, 4, 5])
    assert auxiliary_loss(model) is not None and float(auxiliary_loss(model)) == 0.0
    with supervised(model, labels):
        logits = model(images)
        extra = auxiliary_loss(model)
    aux = model.conv1(images).relu().flatten(1) @ model.ewas.aux.weight.T + model.ewas.aux.bias
    torch.testing.assert_close(extra, 0.25 * F.cross_entropy(aux, labels))
    # batch_loss adds it to the cross-entropy, for plain and adversarial training alike.
    objective = batch_loss(model, images, labels, None, torch.Generator().manual_seed(0))
    torch.testing.assert_close(objective.loss, F.cross_entropy(logits, labels) + extra)
    assert auxiliary_loss(PlainNet()) is None


def test_adversarial_training_adds_the_auxiliary_loss_of_the_examples_trained_on():
    torch.manual_seed(3)
    model = TinyEwasNet(aux_weight=0.5)
    images, labels = torch.rand(6, 1, 28, 28), torch.tensor([0, 1, 2, 3, 4, 5])
    config = AdversarialConfig("pgd", eps=0.1, steps=2)
    objective = batch_loss(model, images, labels, config, torch.Generator().manual_seed(7))
    # By hand: the inner attack sees the true label's row too (as EWAS's reference code).
    with supervised(model, labels):
        adversarial = pgd_examples(
            model, images, labels, 0.1, config.alpha, 2, torch.Generator().manual_seed(7)
        )
        logits = model(adversarial)
    rows = model.ewas.aux.weight[labels].view(6, 8, 12, 12)
    hidden = F.relu(model.conv1(adversarial))
    aux = hidden.flatten(1) @ model.ewas.aux.weight.T + model.ewas.aux.bias
    torch.testing.assert_close(logits, model.fc(F.relu(model.conv2(hidden * rows)).flatten(1)))
    expected = F.cross_entropy(logits, labels) + 0.5 * F.cross_entropy(aux, labels)
    torch.testing.assert_close(objective.loss, expected)
    assert model.ewas.targets is None


def test_soft_mask_is_the_softmax_weighted_rows_and_masks_are_restored():
    layer = _layer()
    x = torch.randn(3, 2, 3, 3)
    with ewas_mask(layer, "soft") as count:
        assert count == 1
        soft = layer(x)
    aux = layer.last_aux_logits
    expected = x * (F.softmax(aux, dim=1) @ layer.aux.weight).view(3, 2, 3, 3)
    torch.testing.assert_close(soft, expected)
    assert layer.mask == "argmax"
    with ewas_mask(layer, "soft", temperature=1e-4):
        cold = layer(x)
    torch.testing.assert_close(cold, layer(x))  # a cold softmax is the argmax
    with pytest.raises(ValueError, match="unknown mask"), ewas_mask(layer, "gumbel"):
        pass


def test_views_of_a_model_without_ewas_attack_as_the_standard_attack():
    torch.manual_seed(2)
    model = PlainNet().eval()
    images, labels = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    standard = FgsmAttack(eps=0.1)(model, images, labels)
    for view in ("soft-mask", "fixed-mask"):
        attack = build_perturbation(Fgsm(kind="fgsm", eps=0.1), {"eps": 0.1, "defence_aware": view})
        torch.testing.assert_close(attack(model, images, labels), standard)


def test_the_option_is_a_parameter_only_when_set():
    assert Fgsm(kind="fgsm", eps=[0.1]).points() == [{"eps": 0.1}]
    entry = Pgd(kind="pgd", eps=0.1, defence_aware=["none", "both-heads"])
    assert [p.get("defence_aware") for p in entry.points()] == ["none", "both-heads"]
    with pytest.raises(ValueError):
        Pgd(kind="pgd", eps=0.1, defence_aware="bpda")


@pytest.fixture(scope="module")
def trained():
    """A TinyEwasNet trained 4 epochs on 3,000 MNIST images through batch_loss."""
    torch.manual_seed(0)
    mnist = load_mnist()
    images, labels = to_float(mnist.train_images[:3000]), mnist.train_labels[:3000].long()
    model = TinyEwasNet()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(4):
        for start in range(0, 3000, 100):
            batch = slice(start, start + 100)
            loss = batch_loss(model, images[batch], labels[batch], None, generator).loss
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    model.eval()
    test_images, test_labels = to_float(mnist.test_images[:300]), mnist.test_labels[:300].long()
    return model, test_images, test_labels


def _wrong(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> int:
    with torch.no_grad():
        return int((model(images).argmax(1) != labels).sum())


def test_adaptive_attacks_break_at_least_as_many_images_as_the_standard_one(trained):
    model, images, labels = trained
    assert _wrong(model, images, labels) < 45  # it learned (15% error on 300 images)
    entry = Pgd(kind="pgd", eps=0.1, alpha=0.01, steps=20)
    torch.manual_seed(0)
    standard = _wrong(
        model, PgdAttack(eps=0.1, alpha=0.01, steps=20)(model, images, labels), labels
    )
    adaptive = {}
    for view in ("soft-mask", "both-heads", "fixed-mask"):
        torch.manual_seed(0)
        params = {**entry.points()[0], "defence_aware": view}
        adversarial = build_perturbation(entry, params)(model, images, labels)
        assert float((adversarial - images).abs().max()) <= 0.1 + 1e-6
        adaptive[view] = _wrong(model, adversarial, labels)
    # The surrogate of the mask choice and the loss of both heads see what the argmax hides.
    assert adaptive["soft-mask"] >= standard and adaptive["both-heads"] >= standard, adaptive


def test_the_view_is_differentiable_through_the_mask_choice(trained):
    model, images, labels = trained
    x = images[:16].clone().requires_grad_(True)
    soft = DefenceAwareView(model, "soft-mask", labels[:16])
    gradient = torch.autograd.grad(F.cross_entropy(soft(x), labels[:16]), x)[0]
    # Through the soft rows the auxiliary classifier's input gradient is part of the total: it
    # differs from the gradient with the argmax's rows held fixed.
    y = images[:16].clone().requires_grad_(True)
    hard = torch.autograd.grad(F.cross_entropy(model(y), labels[:16]), y)[0]
    assert not torch.allclose(gradient, hard)
