"""Users' own models and data sets end to end: a model in a plain .py file with safetensors
weights and a normalisation, measured by `wmbench attack` on a CIFAR-10-format folder and on an
npz file, against a plain PyTorch loop over the same images; `wmbench.evaluate`; `info
--model`; and `train --dataset cifar10`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torchattacks
import yaml
from mnist_files import fake_images, learnable_mnist, write_cifar, write_mnist_dir
from safetensors.torch import save_file

import wmbench
from wmbench.cli import run

MEAN, STD = [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]
USER_CODE = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1)
        self.block = nn.Sequential(nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU())
        self.head = nn.Linear(width * 16 * 16, 10)

    def forward(self, x):
        return self.head(self.block(torch.relu(self.conv1(x))).flatten(1))


def build_net(width=8):
    return Net(width)
"""


def user_net(root: Path) -> torch.nn.Module:
    """The user's model as they would build it themselves: their code, their weights."""
    namespace: dict = {}
    exec(compile((root / "my_models.py").read_text(), "my_models.py", "exec"), namespace)  # noqa: S102
    net = namespace["build_net"](width=6)
    net.load_state_dict(torch.load(root / "net.pt", weights_only=True))
    return net.eval()


class Normalised(torch.nn.Module):
    """The reference: normalisation in front of the user's net, written out here."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net
        # buffers, so that the module moves whole to the device a suite runs on
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def plain_error(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(images).argmax(1) != labels).float().mean().item()


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    root = tmp_path_factory.mktemp("own")
    (root / "my_models.py").write_text(USER_CODE)
    torch.manual_seed(0)
    namespace: dict = {}
    exec(compile(USER_CODE, "my_models.py", "exec"), namespace)  # noqa: S102
    net = namespace["build_net"](width=6)
    save_file(net.state_dict(), str(root / "net.safetensors"))
    torch.save(net.state_dict(), root / "net.pt")
    train, test = fake_images(50, seed=1), fake_images(60, seed=2)
    write_cifar(root / "cifar-10-batches-py", "cifar10", train, test)
    np.savez(root / "test.npz", images=test[0].transpose(0, 2, 3, 1), labels=test[1])
    images = torch.from_numpy(test[0]).float() / 255
    return root, images, torch.from_numpy(test[1])


def suite(root: Path, dataset: dict, **overrides) -> Path:
    document = {
        "name": "own",
        "dataset": dataset,
        "batch_size": 25,
        "device": "cpu",
        "models": {
            "mine": {
                "factory": "my_models.py:build_net",
                "args": {"width": 6},
                "weights": "net.safetensors",
                "input": {"channels": 3, "size": 32},
                "num_classes": 10,
                "normalize": {"mean": MEAN, "std": STD},
            }
        },
        "perturbations": [{"kind": "clean"}, {"kind": "fgsm", "eps": [0.01, 0.03]}],
        "gates": [{"model": "mine", "perturbation": "clean", "max_error": 1.0}],
        **overrides,
    }
    path = root / f"suite-{dataset['name']}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.mark.parametrize(
    "dataset",
    [{"name": "cifar10", "path": "cifar-10-batches-py"}, {"name": "npz", "path": "test.npz"}],
)
def test_a_factory_model_is_measured_like_a_checkpoint(own, dataset, capsys):
    root, images, labels = own
    path = suite(root, dataset)
    out = root / f"{dataset['name']}.json"
    assert run(["attack", str(path), "--json", str(out), "--junit", str(out) + ".xml"]) == 0
    assert "mine" in capsys.readouterr().out  # the same tables
    document = json.loads(out.read_text())
    cells = {(row["perturbation"], row.get("eps")): row for row in document["results"]}
    reference = Normalised(user_net(root))
    assert cells[("clean", None)]["error"] == pytest.approx(plain_error(reference, images, labels))
    for eps in (0.01, 0.03):
        attacked = torch.cat(
            [
                torchattacks.FGSM(reference, eps=eps)(images[i : i + 25], labels[i : i + 25])
                for i in range(0, len(images), 25)
            ]
        )
        expected = plain_error(reference, attacked, labels)
        assert cells[("fgsm", eps)]["error"] == pytest.approx(expected, abs=1e-9)
    record = document["checkpoints"]["mine"]
    assert record["family"] == "factory" and record["model"] == "my_models.py:build_net"
    factory = record["factory"]
    assert (
        factory["source_sha256"] == hashlib.sha256((root / "my_models.py").read_bytes()).hexdigest()
    )
    assert (
        factory["weights_sha256"]
        == hashlib.sha256((root / "net.safetensors").read_bytes()).hexdigest()
    )
    assert factory["args"] == {"width": 6} and document["passed"] is True
    assert run(["attack", str(path), "--baseline", str(out), "--tolerance", "0"]) == 0
    assert "regression: mine fgsm eps=0.03" in capsys.readouterr().out


def test_a_failing_gate_on_a_factory_model_exits_1(own, capsys):
    root, _, _ = own
    gates = [{"model": "mine", "perturbation": "fgsm", "eps": 0.03, "max_error": 0.0}]
    path = suite(root, {"name": "cifar10", "path": "cifar-10-batches-py"}, gates=gates)
    assert run(["attack", str(path)]) == 1
    assert "FAILED mine fgsm eps=0.03" in capsys.readouterr().err


def test_evaluate_an_in_memory_model(own):
    root, images, labels = own
    reference = Normalised(user_net(root))
    expected = plain_error(reference, images, labels)  # before evaluate moves it to its device
    document = wmbench.evaluate(
        reference,
        {
            "name": "api",
            "batch_size": 20,
            "perturbations": [{"kind": "clean"}, {"kind": "fgsm", "eps": 0.03}],
            "gates": [{"model": "net", "perturbation": "clean", "max_error": 0.0}],
        },
        data=(images, labels),
        label="net",
    )
    clean = document.rows_of("clean")[0]
    assert clean.error == pytest.approx(expected)
    assert clean.n == len(images) and document.checkpoints["net"].family == "in-memory"
    (verdict,) = document.gates
    assert verdict.passed is (clean.error == 0.0) and document.passed is verdict.passed


def test_info_describes_a_factory_entry(own, capsys):
    root, _, _ = own
    path = suite(root, {"name": "cifar10", "path": "cifar-10-batches-py"})
    assert run(["info", str(path), "--model", "mine", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["factory"] == "my_models.py:build_net"
    assert described["feature_layer"] == "block.0"  # the last Conv2d
    assert run(["info", str(path), "--model", "theirs"]) == 2
    assert "no model 'theirs' (the suite has mine)" in capsys.readouterr().err


def test_train_on_cifar10_and_an_mnist_suite_refuses_the_checkpoint(own, tmp_path, capsys):
    root, _, _ = own
    out = tmp_path / "resnet-cifar.safetensors"
    args = ["train", "resnet-conv", "--dataset", "cifar10", "--data-dir", str(root)]
    args += ["--epochs", "1", "--batch-size", "15", "--limit-train", "15", "--out", str(out)]
    assert run(args) == 0
    assert "built for cifar10: (3, 32, 32) inputs, 10 classes" in capsys.readouterr().err
    assert run(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["spec"]["input"] == {"channels": 3, "size": 32}
    assert info["dataset"]["name"] == "cifar10" and info["dataset"]["input_shape"] == [3, 32, 32]
    assert info["train"]["crop_padding"] == 4 and info["train"]["horizontal_flip"] is True
    data = write_mnist_dir(tmp_path / "mnist", learnable_mnist(20, 10))
    mnist_suite = tmp_path / "mnist.yaml"
    mnist_suite.write_text(
        yaml.safe_dump(
            {"name": "m", "models": {"r": str(out)}, "perturbations": [{"kind": "clean"}]}
        )
    )
    assert run(["attack", str(mnist_suite), "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "resnet-cifar.safetensors" in err[0]
    assert "takes (3, 32, 32) inputs" in err[0] and "(1, 28, 28)" in err[0]


def test_export_makes_a_checkpoint_that_measures_the_same(own, tmp_path, capsys):
    root, images, labels = own
    path = suite(root, {"name": "cifar10", "path": "cifar-10-batches-py"})
    out = tmp_path / "mine.safetensors"
    assert run(["export", str(path), "--model", "mine", "--out", str(out)]) == 0
    assert run(["export", str(path), "--model", "mine", "--out", str(out)]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    model = wmbench.load_model(out)
    reference = Normalised(user_net(root))
    with torch.no_grad():
        assert torch.equal(model(images), reference(images))
    assert model.feature_layer == "net.block.0"
    as_checkpoint = suite(root, {"name": "cifar10", "path": "cifar-10-batches-py"})
    document = yaml.safe_load(as_checkpoint.read_text())
    document["models"] = {"mine": str(out)}
    as_checkpoint.write_text(yaml.safe_dump(document))
    assert run(["attack", str(as_checkpoint), "--json", str(tmp_path / "c.json")]) == 0
    measured = json.loads((tmp_path / "c.json").read_text())["results"]
    clean = next(row for row in measured if row["perturbation"] == "clean")
    assert clean["error"] == pytest.approx(plain_error(reference, images, labels))


GENERIC_NET = """
import torch
from torch import nn


def build(channels, size, classes):
    return nn.Sequential(
        nn.Conv2d(channels, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
        nn.Linear(4 * size * size, classes),
    )
"""


def _write_format(name: str, root: Path, shape: tuple[int, int, int], classes: int):
    """Writes a test set (and a small training set) in ``name``'s real format; returns the
    suite's dataset entry and the test images and labels as written."""
    from mnist_files import svhn_mat, write_png_folder

    train, test = fake_images(10, shape, classes, seed=3), fake_images(12, shape, classes, seed=4)
    if name in ("mnist", "fashion-mnist", "kmnist"):
        arrays = {"train_images": train[0][:, 0], "train_labels": train[1]}
        arrays |= {"test_images": test[0][:, 0], "test_labels": test[1]}
        write_mnist_dir(root / name, arrays, gz=name == "kmnist")
    elif name in ("cifar10", "cifar100", "cifar10-binary"):
        folder = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
        write_cifar(
            root / folder.get(name, "cifar-10-batches-bin"),
            name.removesuffix("-binary"),
            train,
            test,
            binary=name.endswith("binary"),
        )
        return {"name": name.removesuffix("-binary"), "path": "."}, test
    elif name == "svhn":
        svhn_mat(root / name / "train_32x32.mat", *train)
        svhn_mat(root / name / "test_32x32.mat", *test)
    elif name == "npz":
        np.savez(root / "data.npz", images=test[0].transpose(0, 2, 3, 1), labels=test[1])
        return {"name": "npz", "path": "data.npz"}, test
    else:
        write_png_folder(root / "images" / "test", *test, [f"c{i}" for i in range(classes)])
        write_png_folder(root / "images" / "train", *train, [f"c{i}" for i in range(classes)])
        return {"name": "folder", "path": "images"}, test
    return {"name": name, "path": name}, test


FORMATS = {
    "mnist": ((1, 28, 28), 10),
    "fashion-mnist": ((1, 28, 28), 10),
    "kmnist": ((1, 28, 28), 10),
    "cifar10": ((3, 32, 32), 10),
    "cifar10-binary": ((3, 32, 32), 10),
    "cifar100": ((3, 32, 32), 100),
    "svhn": ((3, 32, 32), 10),
    "npz": ((3, 16, 16), 4),
    "folder": ((3, 16, 16), 4),
}


@pytest.mark.parametrize("name", list(FORMATS))
def test_a_suite_on_every_format_measures_what_a_plain_loop_does(name, tmp_path, capsys):
    shape, classes = FORMATS[name]
    dataset, (images, labels) = _write_format(name, tmp_path, shape, classes)
    (tmp_path / "generic.py").write_text(GENERIC_NET)
    args = {"channels": shape[0], "size": shape[1], "classes": classes}
    entry = {"factory": "generic.py:build", "args": args, "num_classes": classes}
    entry["input"] = {"channels": shape[0], "size": shape[1]}
    document = {"name": name, "dataset": dataset, "batch_size": 5, "device": "cpu"}
    document |= {"models": {"mine": entry}, "perturbations": [{"kind": "clean"}]}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(document))
    assert run(["attack", str(path), "--json", str(tmp_path / "r.json")]) == 0, capsys.readouterr()
    (row,) = json.loads((tmp_path / "r.json").read_text())["results"]
    namespace: dict = {}
    exec(compile(GENERIC_NET, "generic.py", "exec"), namespace)  # noqa: S102
    with torch.random.fork_rng():
        torch.manual_seed(0)  # the factory is built with torch's CPU generator seeded to 0
        net = namespace["build"](**args).eval()
    expected = plain_error(net, torch.from_numpy(images).float() / 255, torch.from_numpy(labels))
    assert (row["n"], row["error"]) == (len(labels), pytest.approx(expected))


def test_a_factory_model_is_built_once_per_run_on_the_cpu(own, tmp_path, capsys):
    """The loader builds and checks the model; the runner measures that same model."""
    root, _, _ = own
    counting = USER_CODE.replace(
        "def build_net(width=8):\n", "def build_net(width=8):\n    open(CALLS, 'a').write('x')\n"
    )
    (tmp_path / "my_models.py").write_text(f"CALLS = {str(tmp_path / 'calls')!r}\n" + counting)
    for name in ("net.safetensors", "cifar-10-batches-py"):
        (tmp_path / name).symlink_to(root / name)
    path = suite(tmp_path, {"name": "cifar10", "path": "cifar-10-batches-py"})
    assert run(["attack", str(path)]) == 0, capsys.readouterr().err
    assert (tmp_path / "calls").read_text() == "x"
