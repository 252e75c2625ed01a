"""Suites: the schema and its errors, the loader's cross-checks, and the runner's numbers
against a by-hand evaluation with torchattacks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import torchattacks
import yaml

from wmbench._yaml import read_yaml
from wmbench.checkpoint import save_checkpoint
from wmbench.errors import CheckpointError, ConfigError, ModelError
from wmbench.metrics import error_rate
from wmbench.models import create_model
from wmbench.suites import load_suite, parse_suite, run_suite


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    paths = {}
    for seed, name in enumerate(["cnn-33", "wm-smooth-32"]):
        torch.manual_seed(seed)
        paths[name] = save_checkpoint(folder / f"{name}.safetensors", create_model(name))
    return paths


@pytest.fixture(scope="module")
def batch():
    generator = torch.Generator().manual_seed(3)
    return torch.rand(40, 1, 28, 28, generator=generator), torch.randint(
        0, 10, (40,), generator=generator
    )


def write_suite(folder, checkpoints, **overrides):
    document = {
        "name": "t",
        "batch_size": 16,
        "seed": 0,
        "device": "cpu",
        "models": {"cnn": str(checkpoints["cnn-33"]), "wm": str(checkpoints["wm-smooth-32"])},
        "perturbations": [
            {"kind": "clean"},
            {"kind": "uniform", "upper": [0.5, 1.0]},
            {"kind": "fgsm", "eps": [0.05, 0.2]},
        ],
    }
    document.update(overrides)
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def by_hand(model, images, labels, batch_size, attack):
    """Error and activation MSE of ``attack`` evaluated batch by batch, independently."""
    captured = []
    layer = model.get_submodule(model.feature_layer)
    handle = layer.register_forward_hook(lambda m, i, o: captured.append(o.detach()))
    wrong, mse = 0, 0.0
    for start in range(0, len(images), batch_size):
        x, y = images[start : start + batch_size], labels[start : start + batch_size]
        perturbed = attack(x, y)
        captured.clear()
        with torch.no_grad():
            model(x)
            logits = model(perturbed)
        clean, noisy = captured
        wrong += (logits.argmax(1) != y).sum().item()
        mse += (noisy.double() - clean.double()).pow(2).flatten(1).mean(1).sum().item()
    handle.remove()
    return wrong, mse / len(images)


def test_fgsm_cells_equal_torchattacks_by_hand(tmp_path, checkpoints, batch):
    images, labels = batch
    results = run_suite(
        load_suite(write_suite(tmp_path, checkpoints)), images=images, labels=labels
    )
    from wmbench import load_model

    for label, name in (("cnn", "cnn-33"), ("wm", "wm-smooth-32")):
        model = load_model(checkpoints[name])
        for eps in (0.05, 0.2):
            (cell,) = results.find(label, "fgsm", {"eps": eps})
            wrong, mse = by_hand(model, images, labels, 16, torchattacks.FGSM(model, eps=eps))
            assert cell.wrong == wrong and cell.n == 40
            assert cell.activation_mse == pytest.approx(mse, rel=1e-9)
        (clean,) = results.find(label, "clean", {})
        assert clean.error == pytest.approx(error_rate(model, images, labels))
        assert clean.activation_mse == 0


def test_same_suite_same_numbers_and_same_noise_for_every_model(tmp_path, checkpoints, batch):
    images, labels = batch
    loaded = load_suite(write_suite(tmp_path, checkpoints))
    first = run_suite(loaded, images=images, labels=labels)
    again = run_suite(loaded, images=images, labels=labels)
    assert [(c.wrong, c.activation_mse) for c in first.cells] == [
        (c.wrong, c.activation_mse) for c in again.cells
    ]
    # Uniform cells differ from clean ones: the noise is really there.
    (noisy,) = first.find("cnn", "uniform", {"upper": 1.0})
    assert noisy.activation_mse > 0


def test_uniform_noise_by_hand_with_the_runner_seeds(tmp_path, checkpoints, batch):
    from wmbench import load_model
    from wmbench.perturbations import UniformNoise
    from wmbench.suites.measure import point_seed

    images, labels = batch
    results = run_suite(
        load_suite(write_suite(tmp_path, checkpoints)), images=images, labels=labels
    )
    model = load_model(checkpoints["wm-smooth-32"])
    batches = iter(range(100))

    def noisy(x, y):
        seed = point_seed(0, 1, 1, next(batches))  # entry 1 (uniform), point 1 (upper=1.0)
        return UniformNoise(1.0)(model, x, y, generator=torch.Generator().manual_seed(seed))

    wrong, mse = by_hand(model, images, labels, 16, noisy)
    (cell,) = results.find("wm", "uniform", {"upper": 1.0})
    assert cell.wrong == wrong and cell.activation_mse == pytest.approx(mse, rel=1e-9)


def test_progress_counts_every_cell_of_every_batch(tmp_path, checkpoints, batch):
    images, labels = batch
    seen = []
    run_suite(
        load_suite(write_suite(tmp_path, checkpoints)),
        images=images,
        labels=labels,
        progress=lambda done, total, what: seen.append((done, total)),
    )
    total = 2 * 3 * 5  # models × batches (40 / 16) × points (clean, 2 uniform, 2 fgsm)
    assert seen[-1] == (total, total) and len(seen) == total


def test_checkpoint_records_and_input_size_check(tmp_path, checkpoints, batch):
    images, labels = batch
    results = run_suite(
        load_suite(write_suite(tmp_path, checkpoints)), images=images, labels=labels
    )
    assert results.checkpoints["wm"].model == "wm-smooth-32"
    assert len(results.checkpoints["cnn"].sha256) == 64
    with pytest.raises(ModelError, match=r"takes \(1, 28, 28\) inputs"):
        run_suite(
            load_suite(write_suite(tmp_path, checkpoints)),
            images=images[:, :, :20, :20],
            labels=labels,
        )


BAD_SUITES = [
    (
        {"perturbations": [{"kind": "fgsm", "eps": "big"}]},
        "perturbations[0].eps[0]: Input should be a valid number",
    ),
    (
        {"perturbations": [{"kind": "fgsm", "eps": -0.1}]},
        "perturbations[0].eps[0]: Input should be greater than or equal to 0",
    ),
    ({"perturbations": [{"kind": "fgsm", "eps": float("nan")}]}, "finite"),
    ({"perturbations": [{"kind": "fgsm", "eps": []}]}, "perturbations[0].eps"),
    ({"perturbations": [{"kind": "blur"}]}, "perturbations[0]: Input tag 'blur'"),
    (
        {"perturbations": [{"kind": "pgd", "eps": 0.1, "stepz": 3}]},
        "perturbations[0].stepz: Extra inputs",
    ),
    ({"perturbations": []}, "perturbations: List should have at least 1 item"),
    ({"models": {}}, "models: Dictionary should have at least 1 item"),
    ({"batch_size": 0}, "batch_size"),
    ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ({"device": "tpu"}, "device"),
    (
        {"perturbations": [{"kind": "torchattacks", "attack": "DeepFoo"}]},
        "'DeepFoo' is not an attack of torchattacks",
    ),
    (
        {"perturbations": [{"kind": "torchattacks", "attack": "PGD", "args": {"epsilon": 1}}]},
        "PGD takes no argument 'epsilon'",
    ),
    (
        {"perturbations": [{"kind": "fgsm", "eps": 0.1}, {"kind": "fgsm", "eps": 0.2}]},
        "label 'fgsm' is used twice",
    ),
    (
        {"gates": [{"model": "zz", "perturbation": "fgsm", "eps": 0.05, "max_error": 0.3}]},
        "gates[0]: unknown model 'zz'",
    ),
    (
        {"gates": [{"model": "wm", "perturbation": "pgd", "max_error": 0.3}]},
        "gates[0]: unknown perturbation 'pgd'",
    ),
    (
        {"gates": [{"model": "wm", "perturbation": "fgsm", "eps": 0.3, "max_error": 0.3}]},
        "does not run fgsm at eps=0.3",
    ),
    (
        {"gates": [{"model": "wm", "perturbation": "fgsm", "max_error": 0.3}]},
        "name one cell of the fgsm sweep (give eps)",
    ),
    (
        {"gates": [{"model": "wm", "perturbation": "fgsm", "eps": 0.05, "max_error": 1.5}]},
        "max_error",
    ),
    (
        {"gates": [{"model": "wm", "perturbation": "fgsm"}]},
        "a gate needs max_error, or better, than and perturbation, or no_warnings",
    ),
    ({"gates": [{"better": "wm", "than": "nn", "perturbation": "fgsm"}]}, "unknown model 'nn'"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_SUITES)
def test_bad_suites_name_the_file_and_key(tmp_path, checkpoints, overrides, message):
    path = write_suite(tmp_path, checkpoints, **overrides)
    with pytest.raises(ConfigError) as error:
        load_suite(path)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


def test_duplicate_keys_and_syntax_errors(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("name: a\nmodels: {cnn: x, cnn: y}\nperturbations: [{kind: clean}]\n")
    with pytest.raises(ConfigError, match="key 'cnn' is given twice"):
        load_suite(path)
    path.write_text("name: a\nmodels: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_suite(path)
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_suite(path)


def test_missing_checkpoint_is_named_relative_to_the_suite(tmp_path, checkpoints):
    path = write_suite(tmp_path, checkpoints, models={"cnn": "../nowhere/cnn.safetensors"})
    with pytest.raises(CheckpointError) as error:
        load_suite(path)
    assert "nowhere/cnn.safetensors" in str(error.value) and "models.cnn" in str(error.value)


def test_sweeps_expand_to_every_combination(tmp_path, checkpoints):
    path = write_suite(
        tmp_path,
        checkpoints,
        perturbations=[{"kind": "pgd", "eps": [0.1, 0.2], "steps": [5, 10], "alpha": 0.01}],
    )
    entry = load_suite(path).suite.perturbations[0]
    assert [(p["eps"], p["steps"]) for p in entry.points()] == [
        (0.1, 5),
        (0.1, 10),
        (0.2, 5),
        (0.2, 10),
    ]
    assert all(p["random_start"] is True and p["alpha"] == 0.01 for p in entry.points())


SHIPPED = sorted((Path(__file__).parents[1] / "suites").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_suites_are_valid(path):
    suite = parse_suite(read_yaml(path), path)
    assert suite.models and suite.perturbations


def test_readme_suite_example_is_valid():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = re.search(r"```yaml\n(name: quick-mnist\n.*?)```", readme, re.S).group(1)
    suite = parse_suite(yaml.safe_load(block), "README.md")
    assert [p.label for p in suite.perturbations][-1] == "deepfool"


def test_readme_own_model_example_is_valid():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = re.search(r"```yaml\n(models:\n  mine:\n.*?)```", readme, re.S).group(1)
    document = {"name": "own", "perturbations": [{"kind": "clean"}], **yaml.safe_load(block)}
    mine = parse_suite(document, "README.md").models["mine"]
    assert mine.factory == "my_models.py:build_net" and mine.input_shape == (3, 32, 32)
    assert mine.normalize.std == [0.2470, 0.2435, 0.2616] and mine.feature_layer == "layer4"


def test_paper_suite_runs_on_the_shipped_checkpoints():
    """suites/paper-mnist.yaml points at checkpoints shipped in models/checkpoints/."""
    from wmbench.checkpoint import read_checkpoint_info

    loaded = load_suite(Path(__file__).parents[1] / "suites" / "paper-mnist.yaml")
    assert set(loaded.models) == {"cnn-33", "wm-smooth-32", "wm-unsharp-32"}
    for label, source in loaded.models.items():
        info = read_checkpoint_info(source.path)
        assert info.spec.name == label and info.meta["metrics"]["test_error"] < 0.02
