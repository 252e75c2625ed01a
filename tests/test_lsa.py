"""Layer Sustainability Analysis (wmbench.lsa, ``wmbench layers``, suites' ``per_layer``): the
monitored layers, the comparison measure against hand computations with independent hooks and
LSA's numpy formula, the MVL rule, one forward pass per input, users' own modules, the command's
output and errors."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from mnist_files import fake_mnist, write_mnist_dir
from torch import nn

from wmbench.checkpoint import load_model
from wmbench.cli import run
from wmbench.lsa import (
    ErrorSums,
    LayersDocument,
    LayerTap,
    TapPoint,
    analyse_layers,
    layer_errors_for_training,
    monitored_layers,
    most_vulnerable_layers,
    plan_taps,
    relative_errors,
)
from wmbench.models import as_benchmark_model, create_model
from wmbench.perturbations import FgsmAttack, UniformNoise
from wmbench.results import ResultsDocument
from wmbench.suites import load_suite, run_suite

CNN33 = Path(__file__).resolve().parents[1] / "models" / "checkpoints" / "cnn-33.safetensors"
LAYERS = ["body.layer1", "body.layer2", "body.layer3", "head.1", "head.3"]
READS = ["body.act1", "body.act2", "body.act3", "head.2", "head.3"]


@pytest.fixture(scope="module")
def cnn33() -> nn.Module:
    return load_model(CNN33)


@pytest.fixture(scope="module")
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    clean = torch.rand(12, 1, 28, 28, generator=generator)
    noise = torch.randn(clean.shape, generator=generator).sign()
    return clean, (clean + 0.1 * noise).clamp(0, 1)


def hooked_outputs(model: nn.Module, names: list[str], x: torch.Tensor) -> list[torch.Tensor]:
    """The outputs of the modules ``names`` for ``x``, by forward hooks written here."""
    seen: dict[str, torch.Tensor] = {}
    handles = [
        model.get_submodule(name).register_forward_hook(
            lambda module, inputs, output, name=name: seen.setdefault(name, output.detach())
        )
        for name in names
    ]
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    return [seen[name] for name in names]


def test_shipped_cnn33_has_five_monitored_layers_read_after_their_relu(cnn33):
    assert monitored_layers(cnn33) == LAYERS
    assert [point.reads for point in plan_taps(cnn33)] == READS


def test_per_image_cm_equals_a_hand_computation(cnn33, pair):
    clean, perturbed = pair
    errors = relative_errors(cnn33, clean, perturbed, batch_size=5)
    by_image = [  # one image at a time
        (
            hooked_outputs(cnn33, READS, clean[i : i + 1]),
            hooked_outputs(cnn33, READS, perturbed[i : i + 1]),
        )
        for i in range(len(clean))
    ]
    for index, (layer, reads) in enumerate(zip(LAYERS, READS, strict=True)):
        values = []
        for a, b in by_image:
            values.append(
                float(torch.linalg.norm(a[index] - b[index]) / torch.linalg.norm(a[index]))
            )
        mean, sd = statistics.mean(values), statistics.stdev(values)
        half = 1.96 * sd / math.sqrt(len(values))
        got = errors[layer]
        assert got.reads == reads and got.images == len(clean) and got.undefined == 0
        assert got.values.tolist() == pytest.approx(values, rel=1e-5)
        assert got.image_mean == pytest.approx(mean, rel=1e-5)
        assert got.image_std == pytest.approx(sd, rel=1e-4)
        assert got.image_ci95[0] == pytest.approx(mean - half, rel=1e-4)
        assert got.image_ci95[1] == pytest.approx(mean + half, rel=1e-4)


def test_batch_form_is_lsas_numpy_formula_whatever_the_batch_size(cnn33, pair):
    clean, perturbed = pair
    a = hooked_outputs(cnn33, READS, clean)
    b = hooked_outputs(cnn33, READS, perturbed)
    lsa = [
        np.linalg.norm(x.numpy() - y.numpy()) / np.linalg.norm(x.numpy())
        for x, y in zip(a, b, strict=True)
    ]
    points = plan_taps(cnn33)
    by_size = {}
    for size in (1, 5, 7, 12):  # the same outputs, summed in batches of another size
        sums = ErrorSums(points)
        for start in range(0, len(clean), size):
            sums.add(
                {layer: x[start : start + size] for layer, x in zip(LAYERS, a, strict=True)},
                {layer: y[start : start + size] for layer, y in zip(LAYERS, b, strict=True)},
            )
        by_size[size] = [error.cm for error in sums.result().values()]
    for cms in by_size.values():
        assert cms == pytest.approx(lsa, rel=1e-6)
        assert cms == pytest.approx(by_size[12], rel=1e-12)
    # End to end, only the forward passes of other batch sizes differ (float32 rounding).
    for size in (5, 100):
        errors = relative_errors(cnn33, clean, perturbed, batch_size=size)
        assert [error.cm for error in errors.values()] == pytest.approx(lsa, rel=1e-5)


def test_mvl_is_one_population_sigma_above_the_mean():
    cm = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 10.0}
    mean, sigma = statistics.mean(cm.values()), statistics.pstdev(cm.values())
    for eta in (0.0, 0.5, 1.0, 1.6, 2.0):
        literal = [layer for layer, value in cm.items() if value - mean > eta * sigma]
        assert most_vulnerable_layers(cm, eta) == literal
    # 6 = 10 − μ lies between 1.6·σ (population, 5.66) and 1.6·s (sample, 6.53).
    assert most_vulnerable_layers(cm, 1.6) == ["d"]
    assert most_vulnerable_layers(cm) == ["d"]
    assert most_vulnerable_layers({"a": 0.2, "b": 0.2}) == []
    assert most_vulnerable_layers({"a": 0.1, "b": 0.2, "c": math.nan}, 0.5) == ["b"]


def test_an_image_with_an_all_zero_clean_layer_is_left_out_per_image_only():
    points = [TapPoint("x", "x", 0)]
    clean = torch.tensor([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]])
    perturbed = torch.tensor([[3.0, 3.0], [1.0, 0.0], [2.0, 0.0]])
    sums = ErrorSums(points)
    sums.add({"x": clean[:2]}, {"x": perturbed[:2]})
    sums.add({"x": clean[2:]}, {"x": perturbed[2:]})
    (error,) = sums.result().values()
    assert error.undefined == 1 and error.images == 2
    assert error.image_mean == pytest.approx((1 / 5 + 1) / 2)
    assert error.cm == pytest.approx(math.sqrt((1 + 1 + 1) / (25 + 0 + 1)))


def count_forward_passes(model: nn.Module) -> tuple[list[int], object]:
    sizes: list[int] = []
    handle = model.register_forward_pre_hook(lambda module, inputs: sizes.append(len(inputs[0])))
    return sizes, handle


def test_one_forward_pass_per_input_and_one_probe(cnn33, pair):
    clean, perturbed = pair
    sizes, handle = count_forward_passes(cnn33)
    try:
        relative_errors(cnn33, clean, perturbed, batch_size=5)
        assert sizes == [2, 5, 5, 5, 5, 2, 2]  # the probe, then each batch clean and perturbed
        sizes.clear()
        labels = torch.zeros(len(clean), dtype=torch.long)
        # FGSM takes its gradient from the clean pass; the noise needs no pass at all.
        for attack in (FgsmAttack(eps=0.1), UniformNoise(upper=0.5)):
            analyse_layers(cnn33, clean, labels, attack, batch_size=5)
            assert sizes == [2, 5, 5, 5, 5, 2, 2]
            sizes.clear()
    finally:
        handle.remove()


class OwnNet(nn.Module):
    """conv → bn → relu; conv → F.relu; conv → bn → (+ residual) → the same relu; linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 4, 3)
        self.conv3, self.bn3 = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 24 * 24, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.conv2(x))
        x = self.relu(self.bn3(self.conv3(x)) + x)
        return self.fc(x.flatten(1))


def test_own_module_bn_functional_relu_residual_and_wrapper(pair):
    torch.manual_seed(0)
    net = OwnNet()
    for bn in (net.bn1, net.bn3):  # non-trivial statistics
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 2.0)
    net.train()
    state = {key: value.clone() for key, value in net.state_dict().items()}
    clean, perturbed = pair
    plan = plan_taps(net, clean)
    assert [(p.layer, p.reads, p.call) for p in plan] == [
        ("conv1", "relu", 0),  # through the BatchNorm
        ("conv2", "conv2", 0),  # F.relu is not a module: its own output
        ("conv3", "conv3", 0),  # the relu reads the residual sum, not bn3's output
        ("fc", "fc", 0),
    ]
    assert net.training and all(m.training for m in net.modules())  # modes restored
    assert all(torch.equal(state[key], value) for key, value in net.state_dict().items())
    net.eval()
    errors = relative_errors(net, clean, perturbed)
    with torch.no_grad():
        a, b = (net.relu(net.bn1(net.conv1(x))) for x in (clean, perturbed))
        c, d = (net.conv2(x) for x in (a, b))
    assert errors["conv1"].cm == pytest.approx(float(torch.linalg.norm(a - b) / a.norm()), 1e-5)
    assert errors["conv2"].cm == pytest.approx(float(torch.linalg.norm(c - d) / c.norm()), 1e-5)
    wrapped = as_benchmark_model(net, (1, 28, 28))
    assert monitored_layers(wrapped) == ["net.conv1", "net.conv2", "net.conv3", "net.fc"]
    again = relative_errors(wrapped, clean, perturbed)
    assert again["net.conv1"].cm == pytest.approx(errors["conv1"].cm, rel=1e-6)
    assert again["net.conv1"].reads == "net.relu"


def test_zoo_wm_and_resnet_layers():
    wm = create_model("wm-smooth-32")
    assert monitored_layers(wm) == LAYERS
    resnet = plan_taps(create_model("resnet-conv"))
    first = {p.layer: p.reads for p in resnet[:3]}
    assert first == {
        "body.stage1_block1.layer1": "body.stage1_block1.act1",
        "body.stage1_block1.layer2": "body.stage1_block1.layer2",  # act2 reads a residual sum
        "body.stage1_block1.shortcut": "body.stage1_block1.shortcut",
    }


def test_training_form_is_differentiable_and_equals_the_batch_form(cnn33, pair):
    clean, perturbed = pair
    model = create_model("cnn-33")
    model.load_state_dict(cnn33.state_dict())
    model.eval()
    tap = LayerTap(model, clean)
    sizes, handle = count_forward_passes(model)
    try:
        logits, cms = layer_errors_for_training(model, clean, perturbed, tap)
    finally:
        handle.remove()
    assert sizes == [12, 12] and list(cms) == LAYERS
    expected = relative_errors(model, clean, perturbed)
    for layer, value in cms.items():
        assert value.requires_grad and float(value.detach()) == pytest.approx(
            expected[layer].cm, rel=1e-5
        )
    assert torch.allclose(logits, model(perturbed))
    sum(cms.values()).backward()
    assert model.body.layer1.weight.grad.abs().sum() > 0


def write_suite(folder: Path, per_layer: bool | None) -> Path:
    document = {
        "name": "lsa",
        "batch_size": 5,
        "device": "cpu",
        "models": {"cnn": str(CNN33)},
        "perturbations": [{"kind": "clean"}, {"kind": "fgsm", "eps": [0.05, 0.1]}],
    }
    if per_layer is not None:
        document["per_layer"] = per_layer
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_suite_per_layer_rows_match_the_library(tmp_path, cnn33, pair):
    images = pair[0]
    labels = torch.arange(len(images)) % 10
    results = run_suite(load_suite(write_suite(tmp_path, True)), images=images, labels=labels)
    document = ResultsDocument.parse(json.loads(ResultsDocument.of_run(results, []).to_json()), "")
    assert document.suite.model_extra["per_layer"] is True
    rows = {row.params.get("eps"): row for row in document.results}
    assert rows[None].per_layer is None
    assert (
        "per_layer" not in json.loads(ResultsDocument.of_run(results, []).to_json())["results"][0]
    )
    for eps in (0.05, 0.1):
        perturbed = FgsmAttack(eps=eps)(cnn33, images, labels)
        expected = relative_errors(cnn33, images, perturbed, batch_size=5)
        got = rows[eps].per_layer
        assert list(got) == LAYERS
        for layer in LAYERS:
            assert got[layer]["cm"] == pytest.approx(expected[layer].cm, rel=1e-6)
            assert got[layer]["cm_image_mean"] == pytest.approx(expected[layer].image_mean, 1e-6)


def test_suite_without_per_layer_writes_what_it_did_before(tmp_path, pair):
    images = pair[0]
    labels = torch.arange(len(images)) % 10
    for flag in (None, False):
        results = run_suite(load_suite(write_suite(tmp_path, flag)), images=images, labels=labels)
        document = json.loads(ResultsDocument.of_run(results, []).to_json())
        assert "per_layer" not in document["suite"]
        assert not any("per_layer" in row for row in document["results"])


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory) -> Path:
    return write_mnist_dir(tmp_path_factory.mktemp("mnist"), fake_mnist(n_train=4, n_test=30))


def layers_args(mnist_dir: Path, *extra: str) -> list[str]:
    return ["layers", str(CNN33), "--images", "20", "--batch-size", "8", "--device", "cpu",
            "--data-dir", str(mnist_dir), *extra]  # fmt: skip


def test_cli_prints_every_layer_and_the_mvl(capsys, mnist_dir, tmp_path):
    plot = tmp_path / "layers.png"
    assert run(layers_args(mnist_dir, "--perturbation", "fgsm", "--eps", "0.1")) == 0
    out = capsys.readouterr().out
    for layer, reads in zip(LAYERS, READS, strict=True):
        assert layer in out and reads in out
    assert "MVL (η = 1:" in out
    pytest.importorskip("matplotlib")
    assert run(layers_args(mnist_dir, "-p", "uniform", "--upper", "0.5", "--plot", str(plot))) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_json_holds_the_librarys_numbers(capsys, mnist_dir, cnn33, tmp_path):
    args = layers_args(mnist_dir, "-p", "fgsm", "--eps", "0.2", "--loss", "margin", "--eta", "0.5")
    assert run([*args, "--json", "-"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["format"] == "wmbench.layers" and document["version"] == 1
    assert document["perturbation"] == {"kind": "fgsm", "eps": 0.2, "loss": "margin"}
    assert document["n"] == 20 and document["eta"] == 0.5
    assert [row["layer"] for row in document["layers"]] == LAYERS
    from wmbench.data import load_dataset

    images, labels = load_dataset("mnist", mnist_dir).split("test")
    images, labels = images[:20], labels[:20]
    perturbed = FgsmAttack(eps=0.2, loss="margin")(cnn33, images, labels)
    expected = relative_errors(cnn33, images, perturbed)
    cm = {layer: error.cm for layer, error in expected.items()}
    for row in document["layers"]:
        assert row["cm"] == pytest.approx(cm[row["layer"]], rel=1e-6)
        assert row["cm_image_mean"] == pytest.approx(expected[row["layer"]].image_mean, rel=1e-6)
        assert row["mvl"] == (row["layer"] in document["mvl"])
    assert document["mvl"] == most_vulnerable_layers(cm, 0.5)
    out = tmp_path / "layers.json"
    assert run([*args, "--json", str(out)]) == 0
    assert LayersDocument.read(out).mvl == document["mvl"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-p", "cw"], "unknown perturbation 'cw'"),
        (["--eps", "-0.1"], "--eps: Input should be greater than or equal to 0"),
        (["--upper", "0.5"], "--upper does not apply to fgsm"),
        (["-p", "uniform"], "uniform needs --upper"),
        (["--plot", "out.pdf"], "must be a .png"),
        (["--loss", "hinge"], "--loss"),
    ],
)
def test_cli_bad_input_exits_2(mnist_dir, one_error_line, extra, message):
    assert run(layers_args(mnist_dir, *extra)) == 2
    assert message in one_error_line()


def test_cli_missing_checkpoint_exits_2(tmp_path, one_error_line):
    assert run(["layers", str(tmp_path / "nope.safetensors")]) == 2
    assert "nope.safetensors" in one_error_line()
