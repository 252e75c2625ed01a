"""The gradient-masking checks (after AutoAttack's ``checks.py``) on models that mask or
randomise on purpose, each against a model that does not: exact counts, messages, and the
``no_warnings`` gate that turns a fired check into a failed run."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from mnist_files import learnable_mnist
from safetensors.torch import save_file
from torch import nn

import wmbench.perturbations.autoattack as autoattack
from wmbench.cli import run
from wmbench.gates import evaluate_gates
from wmbench.perturbations import AutoAttackProtocol
from wmbench.perturbations.worst import WorstCase
from wmbench.results import Cell
from wmbench.sanity.masking import (
    MaskingStats,
    dynamic_warning,
    first_batch_warnings,
    randomised_warning,
    square_warning,
    too_few_classes_warning,
)
from wmbench.suites import LoadedSuite, parse_suite, run_suite
from wmbench.suites.measure import suite_points
from wmbench.suites.sources import ModuleSource

EPS = 0.3  # large: a model that is not masked loses every image at this size


# Tiny models: one intra-op thread (tests/conftest.py, ``one_thread``).
pytestmark = pytest.mark.usefixtures("one_thread")


class TinyNet(nn.Module):
    """A small classifier with the benchmark model's attributes.

    Args:
        classes: outputs.
        levels: round the input to that many grey levels first (gradient exactly zero).
        noise: add Gaussian noise of this size to the input on every call (randomised).
    """

    def __init__(self, classes: int = 10, levels: int = 0, noise: float = 0.0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 5, stride=3)
        self.fc = nn.Linear(4 * 8 * 8, classes)
        self.input_shape, self.num_classes, self.feature_layer = (1, 28, 28), classes, "conv"
        self.levels, self.noise = levels, noise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.levels:
            x = torch.round(x * self.levels) / self.levels
        if self.noise:
            x = x + self.noise * torch.randn_like(x)
        return self.fc(torch.relu(self.conv(x)).flatten(1))


class Wrapped(nn.Module):
    """Another model's attributes, with its output changed by ``change``."""

    def __init__(self, net: TinyNet) -> None:
        super().__init__()
        self.net = net
        self.input_shape, self.num_classes = net.input_shape, net.num_classes
        self.feature_layer = "net.conv"


class Scaled(Wrapped):
    """Logits times 10⁴: the softmax saturates, the cross-entropy gradient is exactly zero."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1e4 * self.net(x)


class Softmaxed(Wrapped):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).softmax(1)


class AlwaysDropout(Wrapped):
    """Dropout on its features even in eval mode (a randomised defence)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = F.dropout(torch.relu(self.net.conv(x)), 0.3, training=True)
        return self.net.fc(features.flatten(1))


class OneStepDefence(Wrapped):
    """One signed gradient step on its own input before classifying (a dynamic defence):
    ``how`` is ``grad`` (torch.autograd.grad) or ``backward`` (Tensor.backward)."""

    def __init__(self, net: TinyNet, how: str = "grad") -> None:
        super().__init__(net)
        self.how = how

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            z = x.detach().clone().requires_grad_(True)
            energy = self.net(z).logsumexp(1).sum()
            if self.how == "grad":
                (gradient,) = torch.autograd.grad(energy, z)
            else:
                energy.backward()
                gradient = z.grad
        return self.net(x + 0.01 * gradient.sign())


def tensors(arrays: dict, split: str, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.from_numpy(arrays[f"{split}_images"]).float()[:, None] / 255
    return images, torch.from_numpy(arrays[f"{split}_labels"]) % classes


def trained(net: TinyNet, steps: int = 12) -> TinyNet:
    """``net`` trained a few steps on the learnable task (its classes folded modulo its
    number of outputs)."""
    images, labels = tensors(learnable_mnist(600, 1), "train", net.num_classes)
    torch.manual_seed(0)
    optimiser = torch.optim.Adam(net.parameters(), 1e-2)
    for _ in range(steps):
        index = torch.randint(0, len(images), (64,))
        loss = F.cross_entropy(net(images[index]), labels[index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return net.eval().requires_grad_(False)


@pytest.fixture(scope="module")
def nets() -> dict[str, TinyNet]:
    torch.manual_seed(0)
    plain = trained(TinyNet())
    torch.manual_seed(0)
    rounded = trained(TinyNet(levels=4))
    torch.manual_seed(0)
    three = trained(TinyNet(classes=3))
    return {"plain": plain, "rounded": rounded, "three": three}


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    return tensors(learnable_mnist(10, 32, seed=1), "test", 10)


@pytest.fixture
def fast(monkeypatch):
    """AutoAttack at 10 iterations and 300 Square queries: these tests are about the checks."""
    monkeypatch.setattr(autoattack, "ITERATIONS", 10)
    monkeypatch.setattr(autoattack, "SQUARE_QUERIES", 300)


def measure(model: nn.Module, images, labels, *perturbations: dict, gates=()):
    suite = parse_suite(
        {
            "name": "masking",
            "models": {"m": "<in memory>"},
            "device": "cpu",
            "batch_size": 32,
            "perturbations": list(perturbations),
            "gates": list(gates),
        },
        "suite",
    )
    loaded = LoadedSuite(suite, None, {"m": ModuleSource("m", model)})
    return run_suite(loaded, images=images, labels=labels)


def checks(results) -> dict[str, str]:
    found = {warning.check: warning.message for warning in results.warnings}
    assert len(found) == len(results.warnings), results.warnings  # each check fires once
    return found


def zero_ce_gradients(model: nn.Module, images, labels) -> tuple[int, int]:
    """Images the model gets right, and how many of those have an all-zero input gradient of
    the cross-entropy, one image at a time."""
    correct = zero = 0
    for image, label in zip(images, labels, strict=True):
        x = image[None].clone().requires_grad_(True)
        logits = model(x)
        if int(logits.argmax(1)) != int(label):
            continue
        correct += 1
        (gradient,) = torch.autograd.grad(F.cross_entropy(logits, label[None]), x)
        zero += int(bool((gradient == 0).all()))
    return correct, zero


# --- saturated and masked gradients -------------------------------------------------------------


def test_scaled_logits_are_flagged_and_square_still_breaks_them(fast, nets, data):
    images, labels = data
    scaled = Scaled(nets["plain"]).eval()
    protocol = {"kind": "autoattack", "eps": EPS, "attacks": ["apgd-ce", "square"]}
    fgsm = {"kind": "fgsm", "eps": EPS}
    results = measure(scaled, images, labels, fgsm, protocol)
    correct, zero = zero_ce_gradients(scaled, images, labels)
    assert correct == 32 and zero > 0.25 * correct
    found = checks(results)
    assert set(found) == {"zero_gradient", "apgd_zero_gradient", "square_beats_white_box"}
    assert found["apgd_zero_gradient"].startswith(
        f"where APGD starts, the input gradient is exactly zero for 0 of {correct} images with "
        f"the DLR loss and {zero} with cross-entropy"
    )
    cell = results.cells[1]
    assert cell.broken_by["apgd-ce"] == 0 and cell.broken_by["square"] > 0  # Square sees through
    assert cell.wrong == sum(cell.broken_by.values())
    # APGD-T's targeted DLR ignores the scale of the logits: the standard version sees through.
    standard = measure(scaled, images, labels, {"kind": "autoattack", "eps": EPS}).cells[0]
    assert standard.broken_by["apgd-ce"] == 0 and standard.broken_by["apgd-t"] > 0
    # The same network unscaled: the gradient attack does the work, nothing fires.
    plain = measure(nets["plain"], images, labels, fgsm, protocol)
    assert checks(plain) == {}
    assert plain.cells[1].broken_by == {"clean": 0, "apgd-ce": 32, "square": 0}


def test_rounded_input_is_flagged_by_zero_gradient_and_by_square(fast, nets, data):
    images, labels = data
    results = measure(nets["rounded"], images, labels, {"kind": "autoattack", "eps": EPS})
    (cell,) = results.cells
    counts = cell.broken_by
    assert list(counts) == ["clean", "apgd-ce", "apgd-t", "fab-t", "square"]
    assert counts["apgd-ce"] == counts["apgd-t"] == counts["fab-t"] == 0 and counts["square"] > 0
    checked = 32 - counts["clean"]
    found = checks(results)
    assert set(found) == {"apgd_zero_gradient", "square_beats_white_box"}
    assert found["apgd_zero_gradient"].startswith(
        f"where APGD starts, the input gradient is exactly zero for {checked} of {checked} "
        f"images with the DLR loss and {checked} with cross-entropy"
    )
    share = 100 * counts["square"] / 32
    assert found["square_beats_white_box"].startswith(
        f"Square (no gradients) broke {counts['square']} images ({share:.1f} pp of 32) that "
        "apgd-ce, apgd-t, fab-t left standing"
    )
    plain = measure(nets["plain"], images, labels, {"kind": "autoattack", "eps": EPS})
    assert checks(plain) == {} and plain.cells[0].broken_by["square"] == 0


def square_cell(square: int, n: int = 1000, first: str = "apgd-ce") -> Cell:
    order = [first, "square"] if first != "square" else ["square", "apgd-ce"]
    broken_by = {"clean": 10, **{name: 0 for name in order}}
    broken_by["square"] = square
    return Cell("m", "autoattack", "autoattack", {"eps": 0.1}, n, 10 + square, 0.0, broken_by)


def test_square_check_fires_above_two_tenths_of_a_point_only():
    assert square_warning("m", square_cell(2)) is None  # exactly 0.2 pp
    warning = square_warning("m", square_cell(3))
    assert (warning.model, warning.perturbation, warning.check) == (
        "m",
        "autoattack",
        "square_beats_white_box",
    )
    assert "broke 3 images (0.3 pp of 1000) that apgd-ce left standing" in warning.message
    assert square_warning("m", square_cell(50, first="square")) is None  # nothing ran before it
    no_square = Cell("m", "w", "worst-of", {}, 100, 5, 0.0, {"clean": 1, "fgsm": 4})
    assert square_warning("m", no_square) is None


class Point:
    def __init__(self, label: str) -> None:
        self.label = label


@pytest.mark.parametrize(
    ("dlr", "ce", "fires"),
    [(0, 25, False), (0, 26, True), (1, 0, True), (0, 0, False)],
)
def test_zero_gradient_rule_counts_over_the_batches(dlr, ce, fires):
    """DLR zero for any image, or cross-entropy zero for more than a quarter of the images."""
    stats = MaskingStats()
    half = {"dlr": dlr // 2, "ce": ce // 2}
    rest = {"dlr": dlr - half["dlr"], "ce": ce - half["ce"]}
    for zero in (half, rest):  # two batches of 50 correct images
        stats.add(0, WorstCase(torch.zeros(0), torch.zeros(0), {}, zero, 50))
    stats.add(1, WorstCase(torch.zeros(0), torch.zeros(0), {}, {}, 0))  # nothing checked
    warnings = stats.warnings("m", [Point("autoattack"), Point("fgsm")], [])
    assert [w.check for w in warnings] == (["apgd_zero_gradient"] if fires else [])
    if fires:
        assert f"zero for {dlr} of 100 images with the DLR loss and {ce} with" in (
            warnings[0].message
        )


# --- randomised and dynamic models --------------------------------------------------------------


def test_a_randomised_model_is_flagged_and_a_deterministic_one_is_not(nets, data):
    images, labels = data
    noisy = TinyNet(noise=0.05)
    noisy.load_state_dict(nets["plain"].state_dict())
    noisy.eval()
    warning = randomised_warning("m", noisy, images)
    assert warning.check == "randomised_model"
    assert warning.message.startswith("5 forward passes of the same images disagree")
    assert warning.message.endswith("evaluate it with autoattack version: rand (EOT)")
    assert randomised_warning("m", nets["plain"], images) is None
    assert randomised_warning("m", nets["rounded"], images) is None

    dropout = AlwaysDropout(nets["plain"]).eval()
    results = measure(dropout, images, labels, {"kind": "clean"})
    assert "randomised_model" in checks(results)
    assert checks(measure(nets["plain"], images, labels, {"kind": "clean"})) == {}


def test_the_randomised_check_is_left_out_when_every_autoattack_is_rand(nets, data):
    images, _ = data
    noisy = TinyNet(noise=0.05)
    noisy.load_state_dict(nets["plain"].state_dict())
    noisy.eval()

    def fired(*perturbations: dict) -> list[str]:
        suite = parse_suite(
            {"name": "s", "models": {"m": "x"}, "perturbations": list(perturbations)}, "s"
        )
        logits = noisy(images)
        warnings = first_batch_warnings("m", noisy, images, logits, suite_points(suite))
        return [w.check for w in warnings]

    rand = {"kind": "autoattack", "eps": 0.1, "version": "rand"}
    assert fired(rand) == []
    assert fired({"kind": "clean"}) == ["randomised_model"]
    assert fired(rand, {"kind": "autoattack", "name": "std", "eps": 0.1}) == ["randomised_model"]


@pytest.mark.parametrize("how", ["grad", "backward"])
def test_a_forward_pass_that_calls_autograd_is_flagged(nets, data, how):
    images, labels = data
    dynamic = OneStepDefence(nets["plain"], how).eval()
    warning = dynamic_warning("m", dynamic, images)
    assert warning.check == "dynamic_forward"
    assert warning.message.startswith("the forward pass calls autograd itself (")
    called = warning.message.split("(", 1)[1].split(")", 1)[0].split(", ")
    assert how in called and set(called) <= {"grad", "backward", "_make_grads"}
    assert dynamic_warning("m", nets["plain"], images) is None
    results = measure(dynamic, images, labels, {"kind": "clean"}, {"kind": "fgsm", "eps": 0.1})
    assert set(checks(results)) == {"dynamic_forward"}


class Fails(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("broken model")


def test_the_dynamic_check_restores_the_previous_tracer(nets, data):
    images, _ = data
    calls: list[str] = []

    def tracer(frame, event, arg):
        calls.append(event)

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        assert dynamic_warning("m", OneStepDefence(nets["plain"]).eval(), images) is not None
        assert sys.gettrace() is tracer
        with pytest.raises(RuntimeError, match="broken model"):
            dynamic_warning("m", Fails(), images)
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(previous)
    assert sys.gettrace() is previous


# --- classes and outputs ------------------------------------------------------------------------


def test_too_few_classes_skips_apgd_t_and_says_so(fast, nets):
    images, labels = tensors(learnable_mnist(10, 32, seed=1), "test", 3)
    results = measure(nets["three"], images, labels, {"kind": "autoattack", "eps": 0.1})
    found = checks(results)
    assert found["too_few_classes"] == (
        "the model has 3 classes: apgd-t skipped (DLR needs 3 classes, targeted DLR 4); "
        "fab-t used 2 target classes instead of 9"
    )
    (cell,) = results.cells
    assert list(cell.broken_by) == ["clean", "apgd-ce", "fab-t", "square"]
    assert sum(cell.broken_by.values()) == cell.wrong
    fab_t = autoattack.build_attack("fab-t", nets["three"], 0.1, "Linf", "standard", 3)
    assert fab_t.n_target_classes == 2


def test_too_few_classes_by_version():
    assert AutoAttackProtocol(0.1).runnable(3) == ["apgd-ce", "fab-t", "square"]
    assert AutoAttackProtocol(0.1, version="plus").runnable(2) == [
        "apgd-ce",
        "fab",
        "square",
        "fab-t",
    ]
    assert too_few_classes_warning("m", 10, ("apgd-ce", "apgd-t", "fab-t", "square")) is None
    assert too_few_classes_warning("m", 2, ("apgd-ce", "square")) is None
    warning = too_few_classes_warning("m", 2, ("apgd-ce", "apgd-dlr", "fab", "apgd-t", "fab-t"))
    assert warning.message == (
        "the model has 2 classes: apgd-dlr, apgd-t skipped (DLR needs 3 classes, targeted DLR 4); "
        "fab-t used 1 target classes instead of 9"
    )
    warning = too_few_classes_warning("m", 5, ("apgd-t",))
    assert warning.message == "the model has 5 classes: apgd-t used 4 target classes instead of 9"


def test_ten_classes_are_enough(fast, nets, data):
    images, labels = data
    results = measure(nets["plain"], images, labels, {"kind": "autoattack", "eps": 0.05})
    assert "too_few_classes" not in checks(results)
    assert list(results.cells[0].broken_by) == ["clean", "apgd-ce", "apgd-t", "fab-t", "square"]


def test_softmax_outputs_are_flagged_as_not_logits(nets, data):
    images, labels = data
    results = measure(Softmaxed(nets["plain"]).eval(), images, labels, {"kind": "clean"})
    assert checks(results) == {
        "not_logits": "outputs are probabilities (softmax applied); attacks need logits"
    }


# --- the no_warnings gate -----------------------------------------------------------------------


def test_no_warnings_gate_fails_when_a_masking_check_fired(fast, nets, data):
    images, labels = data
    protocol = {"kind": "autoattack", "eps": EPS, "attacks": ["apgd-ce", "square"]}
    gate = {"no_warnings": True, "model": "m"}
    masked = measure(nets["rounded"], images, labels, protocol, gates=[gate])
    (verdict,) = evaluate_gates(masked)
    assert not verdict.passed and verdict.margin == -2.0
    assert verdict.detail.startswith("2 fired; first: m: where APGD starts")
    (verdict,) = evaluate_gates(measure(nets["plain"], images, labels, protocol, gates=[gate]))
    assert verdict.passed


FACTORY = """
import torch
from torch import nn


class Rounded(nn.Module):
    def __init__(self, levels):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 5, stride=3)
        self.fc = nn.Linear(4 * 8 * 8, 10)
        self.levels = levels

    def forward(self, x):
        if self.levels:
            x = torch.round(x * self.levels) / self.levels
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def build(levels=0):
    return Rounded(levels)
"""


@pytest.mark.parametrize(("levels", "code"), [(4, 1), (0, 0)])
def test_no_warnings_gate_exits_1_through_the_command_line(
    fast, nets, data, tmp_path, capsys, levels, code
):
    images, labels = data
    (tmp_path / "rounded.py").write_text(FACTORY)
    weights = nets["rounded"] if levels else nets["plain"]
    save_file(weights.state_dict(), str(tmp_path / "net.safetensors"))
    np.savez(tmp_path / "test.npz", images=images.numpy(), labels=labels.numpy())
    model = {
        "factory": "rounded.py:build",
        "args": {"levels": levels},
        "weights": "net.safetensors",
        "input": {"channels": 1, "size": 28},
        "num_classes": 10,
    }
    document = {
        "name": "gate",
        "dataset": {"name": "npz", "path": "test.npz"},
        "batch_size": 32,
        "device": "cpu",
        "models": {"net": model},
        "perturbations": [{"kind": "autoattack", "eps": EPS, "attacks": ["apgd-ce", "square"]}],
        "gates": [{"no_warnings": True}],
    }
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump(document, sort_keys=False))
    out = tmp_path / "out.json"
    assert run(["attack", str(suite), "--json", str(out)]) == code
    written = json.loads(out.read_text())
    fired = sorted(w["check"] for w in written["warnings"])
    if code:
        assert fired == ["apgd_zero_gradient", "square_beats_white_box"]
        assert "FAILED no sanity warnings" in capsys.readouterr().err
        assert written["passed"] is False
    else:
        assert fired == [] and written["passed"] is True
