"""Every bad input exits 2 with one line on stderr naming the file and what is wrong, no traceback.

A corpus of malformed suites, model specs, checkpoints, MNIST and results files, each written by a
small recipe and run through the real command line (``wmbench attack``, ``train``, ``info`` and
``compare``). Each
case also gives the commands a results file or checkpoint that already exists, which must be left
byte-identical. A property test then fuzzes the YAML reader and the suite parser with random
documents: the only exceptions they may raise are one-line ``WmbenchError``s.
"""

from __future__ import annotations

import gzip
import json
import pickle
import shutil
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mnist_files import NAMES, learnable_mnist, write_idx, write_mnist_dir
from results_factory import make_results
from safetensors.torch import save_file

from wmbench._yaml import read_yaml
from wmbench.checkpoint import save_checkpoint
from wmbench.cli import run
from wmbench.errors import WmbenchError
from wmbench.models import create_model, get_spec, parse_spec
from wmbench.results import ResultsDocument
from wmbench.suites import parse_suite


@dataclass(frozen=True)
class Workspace:
    """What the good inputs look like: MNIST arrays, their IDX folder, a cnn-33 checkpoint."""

    arrays: dict[str, np.ndarray]
    data: Path
    checkpoint: Path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Workspace:
    root = tmp_path_factory.mktemp("good")
    arrays = learnable_mnist(40, 20)
    torch.manual_seed(0)
    checkpoint = save_checkpoint(root / "cnn.safetensors", create_model("cnn-33"))
    return Workspace(arrays, write_mnist_dir(root / "mnist", arrays), checkpoint)


@dataclass
class Context:
    """One case's folder, and the files of the user's that the command must not touch."""

    tmp: Path
    good: Workspace
    kept: dict[Path, bytes] = field(default_factory=dict)

    def existing(self, name: str, content: bytes) -> Path:
        path = self.tmp / "existing" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
        self.kept[path] = content
        return path


Setup = Callable[[Context], tuple[list[str], str]]  # -> (argv, the name the error must give)


@dataclass(frozen=True)
class Case:
    id: str
    setup: Setup
    phrase: str
    xfail: str | None = None


def attack_argv(ctx: Context, suite: Path, data: Path | None = None) -> list[str]:
    results = ctx.existing("results.json", b'{"earlier": "results"}\n')
    junit = ctx.existing("results.xml", b"<testsuite/>\n")
    return [
        *("attack", str(suite), "--data-dir", str(data or ctx.good.data)),
        *("--json", str(results), "--junit", str(junit)),
    ]


def train_argv(ctx: Context, model: str, data: Path | None = None) -> list[str]:
    # --force: only a finished training may replace the user's checkpoint, never a failed one.
    out = ctx.existing("model.safetensors", ctx.good.checkpoint.read_bytes())
    return [
        *("train", model, "--data-dir", str(data or ctx.good.data)),
        *("--epochs", "1", "--batch-size", "20", "--out", str(out), "--force"),
    ]


# --- suites: `wmbench attack SUITE` -------------------------------------------------------------

SUITE = "bad-suite.yaml"
CKPT = "CKPT"  # replaced by the good checkpoint's path
BASE_SUITE: dict[str, Any] = {
    "name": "bad",
    "dataset": {"name": "mnist", "split": "test", "limit": 20},
    "batch_size": 10,
    "device": "cpu",
    "models": {"cnn": CKPT},
    "perturbations": [{"kind": "clean"}, {"kind": "fgsm", "eps": [0.1, 0.2]}],
}
HEAD = "name: bad\ndataset: {limit: 20}\nbatch_size: 10\ndevice: cpu\n"
TAIL = "perturbations: [{kind: clean}, {kind: fgsm, eps: [0.1, 0.2]}]\n"


def suite_with(**overrides: Any) -> dict[str, Any]:
    """The base suite with keys replaced (a value of None removes the key)."""
    document = {**BASE_SUITE, **overrides}
    return {key: value for key, value in document.items() if value is not None}


def gate(**keys: Any) -> dict[str, Any]:
    return suite_with(gates=[keys])


def write_suite(ctx: Context, content: dict[str, Any] | str | bytes) -> Path:
    path = ctx.tmp / SUITE
    if isinstance(content, dict):
        content = yaml.safe_dump(content, sort_keys=False)
    if isinstance(content, str):
        content = content.replace(CKPT, str(ctx.good.checkpoint)).encode()
    path.write_bytes(content)
    return path


def suite_case(id: str, content: dict[str, Any] | str | bytes, phrase: str, **kw: Any) -> Case:
    def setup(ctx: Context) -> tuple[list[str], str]:
        return attack_argv(ctx, write_suite(ctx, content)), SUITE

    return Case(f"suite-{id}", setup, phrase, **kw)


def suite_path_case(id: str, make: Callable[[Path], None], phrase: str) -> Case:
    def setup(ctx: Context) -> tuple[list[str], str]:
        path = ctx.tmp / SUITE
        make(path)
        return attack_argv(ctx, path), SUITE

    return Case(f"suite-{id}", setup, phrase)


def fgsm(**keys: Any) -> dict[str, Any]:
    return suite_with(perturbations=[{"kind": "clean"}, {"kind": "fgsm", **keys}])


def attack_entry(attack: str, **args: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": "torchattacks", "attack": attack}
    if args:
        entry["args"] = args
    return suite_with(perturbations=[{"kind": "clean"}, entry])


SUITE_CASES = [
    # YAML that does not parse
    suite_case("unclosed-flow", f"name: bad\nmodels: {{cnn: {CKPT}\n{TAIL}", "expected ',' or '}'"),
    suite_case("mapping-in-scalar", f"name: bad: worse\nmodels: {{cnn: {CKPT}}}\n{TAIL}", "line 1"),
    suite_case("tab-indent", f"{HEAD}models:\n\tcnn: {CKPT}\n{TAIL}", "cannot start any token"),
    suite_case("unclosed-quote", f'name: "bad\nmodels: {{cnn: {CKPT}}}\n{TAIL}', "end of stream"),
    suite_case(
        "bad-indent", f"{HEAD}models:\n    cnn: {CKPT}\n  wm: x\n{TAIL}", "line 7: not valid YAML"
    ),
    suite_case(
        "two-documents", f"{HEAD}models: {{cnn: {CKPT}}}\n---\n{TAIL}", "found another document"
    ),
    suite_case("nul-byte", f"{HEAD}models: {{cnn: {CKPT}}}\x00\n{TAIL}", "special characters"),
    suite_case(
        "python-tag",
        "name: !!python/object/apply:os.system [true]\n",
        "could not determine a constructor",
    ),
    suite_case(
        "bad-float-tag", "name: bad\nbatch_size: !!float ten\n", "'ten' is not a valid float"
    ),
    suite_case("set-as-key", "? !!set {a: null}\n: 1\n", "mapping key must be a plain value"),
    suite_case(
        "set-tag-on-scalar", f"{HEAD}models: !!set {CKPT}\n{TAIL}", "expected a mapping node"
    ),
    suite_case("bad-timestamp", f"{HEAD}seed: !!timestamp 2001-13-45\n", "not a valid timestamp"),
    suite_case("list-as-key", "? [a, b]\n: 1\n", "mapping key must be a plain value"),
    # the document is not a suite at all
    suite_case("top-level-list", "- name: bad\n- models: {}\n", "expected a mapping"),
    suite_case("top-level-scalar", "just some words\n", "expected a mapping"),
    suite_case("empty-file", "", "empty"),
    suite_case("comments-only", "# a suite, one day\n", "empty"),
    suite_case("binary-file", gzip.compress(bytes(range(256)) * 8), "not UTF-8 text"),
    suite_path_case("does-not-exist", lambda path: None, "no such file"),
    suite_path_case("is-a-folder", lambda path: path.mkdir(), "is a folder"),
    # wrong types and values
    suite_case("missing-name", suite_with(name=None), "name: Field required"),
    suite_case("batch-size-text", suite_with(batch_size="big"), "batch_size: Input should be"),
    suite_case("batch-size-zero", suite_with(batch_size=0), "batch_size: Input should be"),
    suite_case("models-a-list", suite_with(models=[CKPT]), "models: Input should be a valid dict"),
    suite_case(
        "model-path-number", suite_with(models={"cnn": 3}), "models.cnn: expected a checkpoint"
    ),
    suite_case(
        "perturbations-a-mapping",
        suite_with(perturbations={"kind": "clean"}),
        "perturbations: Input should be a valid list",
    ),
    suite_case("eps-text", fgsm(eps="x"), "perturbations[1].eps[0]: Input should be a valid num"),
    suite_case(
        "pgd-steps-fraction",
        suite_with(perturbations=[{"kind": "pgd", "eps": 0.1, "steps": 2.5}]),
        "perturbations[0].steps[0]: Input should be a valid integer",
    ),
    suite_case("unknown-device", suite_with(device="tpu"), "device: Input should be"),
    suite_case("limit-zero", suite_with(dataset={"limit": 0}), "dataset.limit: Input should be"),
    suite_case(
        "unknown-dataset",
        suite_with(dataset={"name": "imagenet"}),
        "dataset.name: Input should be 'mnist', 'fashion-mnist'",
    ),
    suite_case(
        "unknown-split", suite_with(dataset={"split": "training"}), "dataset.split: Input should be"
    ),
    # unknown keys and kinds
    suite_case("unknown-top-level-key", suite_with(modles={}), "modles: Extra inputs"),
    suite_case(
        "unknown-perturbation-key",
        fgsm(eps=0.1, epsilon=0.1),
        "perturbations[1].epsilon: Extra inputs",
    ),
    suite_case(
        "unknown-dataset-key", suite_with(dataset={"splitt": "val"}), "dataset.splitt: Extra"
    ),
    suite_case(
        "unknown-kind",
        suite_with(perturbations=[{"kind": "blur", "sigma": 1}]),
        "perturbations[0]: Input tag 'blur'",
    ),
    suite_case("missing-kind", suite_with(perturbations=[{"eps": 0.1}]), "'kind'"),
    suite_case("unknown-attack", attack_entry("DeepFoo"), "'DeepFoo' is not an attack"),
    suite_case("unknown-attack-arg", attack_entry("PGD", epsilon=0.1), "no argument 'epsilon'"),
    suite_case(
        "attack-missing",
        suite_with(perturbations=[{"kind": "torchattacks"}]),
        "perturbations[0].attack: Field required",
    ),
    # values out of range
    suite_case("negative-eps", fgsm(eps=[0.1, -0.1]), "eps[1]: Input should be greater than"),
    suite_case(
        "nan-eps",
        f"{HEAD}models: {{cnn: {CKPT}}}\nperturbations: [{{kind: fgsm, eps: .nan}}]\n",
        "finite",
    ),
    suite_case(
        "inf-upper",
        f"{HEAD}models: {{cnn: {CKPT}}}\nperturbations: [{{kind: uniform, upper: [0.5, .inf]}}]\n",
        "finite",
    ),
    suite_case(
        "inf-attack-arg",
        f"{HEAD}models: {{cnn: {CKPT}}}\nperturbations:\n"
        "  - {kind: torchattacks, attack: PGD, args: {eps: -.inf}}\n",
        "finite",
    ),
    suite_case(
        "zero-upper",
        suite_with(perturbations=[{"kind": "uniform", "upper": 0}]),
        "upper[0]: Input should be greater than 0",
    ),
    # empty collections
    suite_case("empty-models", suite_with(models={}), "models: Dictionary should have at least"),
    suite_case("empty-perturbations", suite_with(perturbations=[]), "should have at least 1"),
    suite_case(
        "empty-sweep", fgsm(eps=[]), "perturbations[1].eps: Value should have at least 1 item"
    ),
    # gates
    suite_case(
        "gate-unknown-model",
        gate(model="zz", perturbation="fgsm", eps=0.1, max_error=0.5),
        "gates[0]: unknown model 'zz'",
    ),
    suite_case(
        "gate-relative-unknown-model",
        gate(better="cnn", than="wm", perturbation="fgsm"),
        "gates[0]: unknown model 'wm'",
    ),
    suite_case(
        "gate-unknown-perturbation",
        gate(model="cnn", perturbation="pgd", max_error=0.5),
        "gates[0]: unknown perturbation 'pgd'",
    ),
    suite_case(
        "gate-value-not-run",
        gate(model="cnn", perturbation="fgsm", eps=0.3, max_error=0.5),
        "does not run fgsm at eps=0.3",
    ),
    suite_case(
        "gate-unknown-parameter",
        gate(model="cnn", perturbation="fgsm", upper=0.5, max_error=0.5),
        "has no parameter 'upper'",
    ),
    suite_case(
        "gate-not-one-cell",
        gate(model="cnn", perturbation="fgsm", max_error=0.5),
        "name one cell of the fgsm sweep",
    ),
    suite_case("gate-no-kind", gate(model="cnn", perturbation="fgsm"), "a gate needs"),
    suite_case("gate-not-a-mapping", suite_with(gates=["cnn beats wm"]), "a gate needs"),
    suite_case(
        "gate-max-error-above-one",
        gate(model="cnn", perturbation="clean", max_error=1.5),
        "gates[0].max_error: Input should be less than or equal to 1",
    ),
    suite_case(
        "gate-max-error-negative",
        gate(model="cnn", perturbation="clean", max_error=-0.1),
        "gates[0].max_error: Input should be greater than or equal to 0",
    ),
    suite_case(
        "gate-relative-extra-key",
        gate(better="cnn", than="cnn", perturbation="fgsm", eps=0.1),
        "gates[0].eps: Extra inputs",
    ),
    # duplicates
    suite_case(
        "duplicate-model-labels",
        f"{HEAD}models:\n  cnn: {CKPT}\n  cnn: {CKPT}\n{TAIL}",
        "key 'cnn' is given twice",
    ),
    suite_case(
        "duplicate-top-level-key",
        f"{HEAD}name: again\nmodels: {{cnn: {CKPT}}}\n{TAIL}",
        "key 'name' is given twice",
    ),
    suite_case(
        "duplicate-key-beside-merge",
        f"{HEAD}models: {{cnn: {CKPT}}}\nbase: &fgsm {{kind: fgsm}}\nperturbations:\n"
        "  - {<<: *fgsm, eps: 0.1, eps: 0.2}\n",
        "key 'eps' is given twice",
    ),
    suite_case(
        "duplicate-perturbation-labels",
        suite_with(perturbations=[{"kind": "fgsm", "eps": 0.1}, {"kind": "fgsm", "eps": 0.2}]),
        "label 'fgsm' is used twice",
    ),
]


def missing_checkpoint(ctx: Context) -> tuple[list[str], str]:
    suite = write_suite(ctx, suite_with(models={"cnn": "runs/nowhere.safetensors"}))
    return attack_argv(ctx, suite), "nowhere.safetensors"


def checkpoint_is_a_folder(ctx: Context) -> tuple[list[str], str]:
    (ctx.tmp / "runs" / "cnn.safetensors").mkdir(parents=True)
    suite = write_suite(ctx, suite_with(models={"cnn": "runs/cnn.safetensors"}))
    return attack_argv(ctx, suite), "cnn.safetensors"


SUITE_CASES += [
    Case("suite-missing-checkpoint", missing_checkpoint, "not found"),
    Case("suite-checkpoint-is-a-folder", checkpoint_is_a_folder, "is a folder"),
]

# --- model specs: `wmbench train SPEC.yaml` -----------------------------------------------------

SPEC = "bad-spec.yaml"
GOOD_SPEC = "name: mine\nfamily: cnn\n"


def spec_case(id: str, text: str | None, phrase: str, **kw: Any) -> Case:
    def setup(ctx: Context) -> tuple[list[str], str]:
        path = ctx.tmp / SPEC
        if text is not None:
            path.write_text(text)
        return train_argv(ctx, str(path)), SPEC

    return Case(f"spec-{id}", setup, phrase, **kw)


def spec_args(**args: Any) -> str:
    return GOOD_SPEC + "args: " + json.dumps(args) + "\n"


SPEC_CASES = [
    spec_case("syntax-error", "name: mine\nfamily: [cnn\n", "not valid YAML"),
    spec_case("does-not-exist", None, "no such file"),
    spec_case("top-level-list", "- name: mine\n- family: cnn\n", "expected a mapping"),
    spec_case("unknown-family", "name: mine\nfamily: mlp\n", "unknown family 'mlp'"),
    spec_case("missing-family", "name: mine\nargs: {}\n", "family: Field required"),
    spec_case("unknown-key", GOOD_SPEC + "layers: 3\n", "layers: Extra inputs"),
    spec_case("num-classes-text", GOOD_SPEC + "num_classes: ten\n", "num_classes: Input should"),
    spec_case("num-classes-one", GOOD_SPEC + "num_classes: 1\n", "num_classes: Input should"),
    spec_case("args-not-a-mapping", GOOD_SPEC + "args: [conv]\n", "args: Input should"),
    spec_case("two-widths", spec_args(channels=[33, 8]), "channels must list 3 widths"),
    spec_case("unknown-layer-kind", spec_args(layer="dense"), "unknown layer kind 'dense'"),
    spec_case("even-kernel", spec_args(kernel_size=4), "kernel_size must be a positive odd"),
    spec_case(
        "fractional-kernel", spec_args(kernel_size=3.5), "kernel_size must be a positive odd"
    ),
    spec_case("unknown-arg", spec_args(bogus=1), "unexpected keyword argument 'bogus'"),
    spec_case("negative-hidden", spec_args(hidden=-5), "hidden must be at least 1"),
    spec_case("negative-width", spec_args(channels=[33, -1, 8]), "channels must be at least 1"),
    spec_case("empty-file", "", "the file is empty"),
    spec_case("absurdly-large", spec_args(channels=[100000, 100000, 8]), "too many"),
    spec_case("input-too-small", GOOD_SPEC + "input: {size: 4}\n", "too small for kernel_size"),
    spec_case(
        "input-for-32-pixels",
        GOOD_SPEC + "input: {size: 32}\n",
        "takes (1, 32, 32) inputs",
    ),
    spec_case(
        "three-channel-input",
        GOOD_SPEC + "input: {channels: 3}\n",
        "takes (3, 28, 28) inputs",
    ),
]

# --- checkpoints: `wmbench info CKPT` and a suite that points at one ----------------------------

CHECKPOINT = "bad.safetensors"


def metadata(spec: dict[str, Any], version: str = "1") -> dict[str, str]:
    return {"wmbench.format": version, "wmbench.spec": json.dumps(spec)}


def cnn_tensors() -> dict[str, torch.Tensor]:
    return {k: v.contiguous() for k, v in create_model("cnn-33").state_dict().items()}


def truncated(path: Path, good: Workspace) -> None:
    path.write_bytes(good.checkpoint.read_bytes()[:-100])


def text_file(path: Path, good: Workspace) -> None:
    path.write_text("these are not the weights you are looking for\n")


def python_pickle(path: Path, good: Workspace) -> None:
    path.write_bytes(pickle.dumps({"state_dict": {"w": [1.0, 2.0]}}, protocol=4))


def torch_save_zip(path: Path, good: Workspace) -> None:
    torch.save(create_model("cnn-33").state_dict(), path)


def plain_safetensors(path: Path, good: Workspace) -> None:
    save_file(cnn_tensors(), str(path))


def header_longer_than_file(path: Path, good: Workspace) -> None:
    path.write_bytes(struct.pack("<Q", 1 << 40) + b'{"__metadata__": {}}')


def empty_file(path: Path, good: Workspace) -> None:
    path.write_bytes(b"")


def folder(path: Path, good: Workspace) -> None:
    path.mkdir()


def spec_not_json(path: Path, good: Workspace) -> None:
    save_file(cnn_tensors(), str(path), metadata={"wmbench.format": "1", "wmbench.spec": "{oops"})


def spec_of_unknown_family(path: Path, good: Workspace) -> None:
    spec = {**get_spec("cnn-33").model_dump(), "family": "transformer"}
    save_file(cnn_tensors(), str(path), metadata=metadata(spec))


def future_format(path: Path, good: Workspace) -> None:
    save_file(cnn_tensors(), str(path), metadata=metadata(get_spec("cnn-33").model_dump(), "99"))


def bad_tensor_entry(path: Path, good: Workspace) -> None:
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(8))


def bytes_after_the_tensors(path: Path, good: Workspace) -> None:
    path.write_bytes(good.checkpoint.read_bytes() + b"\0" * 64)


def weights_of_another_model(path: Path, good: Workspace) -> None:
    save_file(cnn_tensors(), str(path), metadata=metadata(get_spec("cnn-wide").model_dump()))


def model_for_32_pixels(path: Path, good: Workspace) -> None:
    spec = {**get_spec("cnn-33").model_dump(), "input": {"channels": 1, "size": 32}}
    save_checkpoint(path, create_model(parse_spec(spec, "test")))


BAD_CHECKPOINTS: list[tuple[Callable[[Path, Workspace], None], str, tuple[str, ...]]] = [
    (truncated, "truncated", ("info", "attack")),
    (text_file, "not a safetensors file (bad header)", ("info", "attack")),
    (python_pickle, "is a pickle / torch.save file", ("info", "attack")),
    (torch_save_zip, "is a pickle / torch.save file", ("info", "attack")),
    (plain_safetensors, "without wmbench metadata", ("info", "attack")),
    (header_longer_than_file, "bad header", ("info", "attack")),
    (empty_file, "empty file", ("info", "attack")),
    (folder, "is a folder", ("info", "attack")),
    (spec_not_json, "not valid JSON", ("info", "attack")),
    (spec_of_unknown_family, "unknown family 'transformer'", ("info", "attack")),
    (future_format, "unsupported checkpoint format '99'", ("info", "attack")),
    (bad_tensor_entry, "no valid shape and offsets", ("info", "attack")),
    (bytes_after_the_tensors, "64 bytes after the last tensor", ("info", "attack")),
    (weights_of_another_model, "weights do not match the spec of 'cnn-wide'", ("info", "attack")),
    # A good checkpoint in itself (`info` shows it); only the suite's data set makes it wrong.
    (model_for_32_pixels, "takes (1, 32, 32) inputs", ("attack",)),
]


def checkpoint_case(write: Callable[[Path, Workspace], None], phrase: str, via: str) -> Case:
    def setup(ctx: Context) -> tuple[list[str], str]:
        path = ctx.tmp / CHECKPOINT
        write(path, ctx.good)
        if via == "info":
            return ["info", str(path)], CHECKPOINT
        suite = write_suite(ctx, suite_with(models={"bad": CHECKPOINT}))
        return attack_argv(ctx, suite), CHECKPOINT

    name = write.__name__.replace("_", "-")
    return Case(f"checkpoint-{name}-{via}", setup, phrase)


CHECKPOINT_CASES = [
    checkpoint_case(write, phrase, via)
    for write, phrase, routes in BAD_CHECKPOINTS
    for via in routes
]

# --- MNIST files: `wmbench train cnn-33 --data-dir DIR` -----------------------------------------

TRAIN_IMAGES, TRAIN_LABELS = NAMES["train_images"], NAMES["train_labels"]
TEST_IMAGES, TEST_LABELS = NAMES["test_images"], NAMES["test_labels"]


def cut(folder: Path, name: str, keep: int) -> str:
    path = folder / name
    path.write_bytes(path.read_bytes()[:keep])
    return name


def truncated_images(folder: Path, arrays: dict[str, np.ndarray]) -> str:
    return cut(folder, TRAIN_IMAGES, -100)


def truncated_header(folder: Path, arrays: dict[str, np.ndarray]) -> str:
    return cut(folder, TEST_LABELS, 6)


def wrong_magic(folder: Path, arrays: dict[str, np.ndarray]) -> str:
    write_idx(folder / TRAIN_LABELS, arrays["train_labels"], magic=0x00000D01)
    return TRAIN_LABELS


def label_out_of_range(folder: Path, arrays: dict[str, np.ndarray]) -> str:
    labels = arrays["test_labels"].copy()
    labels[7] = 12
    write_idx(folder / TEST_LABELS, labels)
    return TEST_LABELS


def fewer_labels_than_images(folder: Path, arrays: dict[str, np.ndarray]) -> str:
    write_idx(folder / TRAIN_LABELS, arrays["train_labels"][:-1])
    return TRAIN_LABELS


def missing_labels(folder: Path, arrays: dict[str, np.ndarray]) -> str:
    (folder / TEST_LABELS).unlink()
    return TEST_LABELS


def junk_gzip(folder: Path, arrays: dict[str, np.ndarray]) -> str:
    (folder / TRAIN_IMAGES).unlink()
    (folder / f"{TRAIN_IMAGES}.gz").write_bytes(b"\x1f\x8b\x08\x00 certainly not deflate")
    return f"{TRAIN_IMAGES}.gz"


def cut_gzip(folder: Path, arrays: dict[str, np.ndarray]) -> str:
    (folder / TEST_IMAGES).unlink()
    write_idx(folder / f"{TEST_IMAGES}.gz", arrays["test_images"])
    return cut(folder, f"{TEST_IMAGES}.gz", -20)


def trailing_bytes(folder: Path, arrays: dict[str, np.ndarray]) -> str:
    write_idx(folder / TEST_IMAGES, arrays["test_images"], tail=b"\x00" * 13)
    return TEST_IMAGES


def images_of_32_pixels(folder: Path, arrays: dict[str, np.ndarray]) -> str:
    write_idx(folder / TRAIN_IMAGES, np.zeros((40, 32, 32), np.uint8))
    return TRAIN_IMAGES


def negative_size(folder: Path, arrays: dict[str, np.ndarray]) -> str:
    path = folder / TEST_LABELS
    path.write_bytes(struct.pack(">ii", 0x801, -20) + bytes(20))
    return TEST_LABELS


def images_as_labels(folder: Path, arrays: dict[str, np.ndarray]) -> str:
    write_idx(folder / TRAIN_LABELS, arrays["train_images"])
    return TRAIN_LABELS


def no_test_images(folder: Path, arrays: dict[str, np.ndarray]) -> str:
    write_idx(folder / TEST_IMAGES, np.zeros((0, 28, 28), np.uint8))
    write_idx(folder / TEST_LABELS, np.zeros((0,), np.uint8))
    return TEST_IMAGES


def no_such_folder(folder: Path, arrays: dict[str, np.ndarray]) -> str:
    shutil.rmtree(folder)
    return folder.name


def a_file_not_a_folder(folder: Path, arrays: dict[str, np.ndarray]) -> str:
    shutil.rmtree(folder)
    folder.write_bytes(b"a file")
    return folder.name


BAD_DATA: list[tuple[Callable[[Path, dict[str, np.ndarray]], str], str]] = [
    (truncated_images, "truncated"),
    (truncated_header, "truncated"),
    (wrong_magic, "bad magic number 0x00000d01"),
    (label_out_of_range, "label 12 out of range 0..9"),
    (fewer_labels_than_images, "39 train labels for 40 images"),
    (missing_labels, f"missing {TEST_LABELS}"),
    (junk_gzip, "not a valid gzip file"),
    (cut_gzip, "not a valid gzip file"),
    (trailing_bytes, "13 trailing bytes"),
    (images_of_32_pixels, "expected uint8 (N, 28, 28)"),
    (negative_size, "negative size"),
    (images_as_labels, "expected integers (N,)"),
    (no_test_images, "no images"),
    (no_such_folder, "no such folder"),
    (a_file_not_a_folder, "not a folder"),
]


def data_case(
    mutate: Callable[[Path, dict[str, np.ndarray]], str], phrase: str, via: str, **kw: Any
) -> Case:
    def setup(ctx: Context) -> tuple[list[str], str]:
        folder = write_mnist_dir(ctx.tmp / "mnist", ctx.good.arrays)
        named = mutate(folder, ctx.good.arrays)
        if via == "train":
            return train_argv(ctx, "cnn-33", folder), named
        suite = write_suite(ctx, suite_with(models={"cnn": CKPT}))
        return attack_argv(ctx, suite, folder), named

    return Case(f"data-{mutate.__name__.replace('_', '-')}-{via}", setup, phrase, **kw)


DATA_CASES = [data_case(mutate, phrase, "train") for mutate, phrase in BAD_DATA] + [
    data_case(truncated_images, "truncated", "attack"),
    data_case(label_out_of_range, "out of range", "attack"),
    data_case(no_test_images, "no images", "attack"),
    data_case(no_such_folder, "no such folder", "attack"),
]


# --- users' own models (factory entries) and data sets ------------------------------------------

USER_NET = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, classes=10, channels=1, size=28):
        super().__init__()
        self.conv = nn.Conv2d(channels, 4, 3, padding=1)
        self.fc = nn.Linear(4 * size * size, classes)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def build(**args):
    return Net(**args)
"""


def factory_entry(**keys: Any) -> dict[str, Any]:
    entry = {"factory": "my_net.py:build", "input": {"channels": 1, "size": 28}, "num_classes": 10}
    return {**entry, **keys}


def factory_case(
    id: str, phrase: str, entry: dict[str, Any], code: str = USER_NET, weights: Any = None
) -> Case:
    """A suite whose one model is the user's ``my_net.py`` (and weights, when given: a state
    dict, or a callable writing the file) on MNIST; the error names the suite file."""

    def setup(ctx: Context) -> tuple[list[str], str]:
        (ctx.tmp / "my_net.py").write_text(code)
        if callable(weights):
            weights(ctx.tmp)
        elif weights is not None:
            save_file(weights, str(ctx.tmp / "net.safetensors"))
        return attack_argv(ctx, write_suite(ctx, suite_with(models={"mine": entry}))), SUITE

    return Case(f"factory-{id}", setup, phrase)


def _pickled_module(folder: Path) -> None:
    torch.save(torch.nn.Linear(2, 2), folder / "net.pt")


def _net_state(**args: Any) -> dict[str, torch.Tensor]:
    namespace: dict[str, Any] = {}
    exec(compile(USER_NET, "my_net.py", "exec"), namespace)  # noqa: S102
    return namespace["build"](**args).state_dict()


RANDOM_NET = USER_NET.replace(
    "return self.fc(torch.relu(self.conv(x)).flatten(1))",
    "return self.fc(torch.nn.functional.dropout(torch.relu(self.conv(x)), 0.5, True).flatten(1))",
)
FACTORY_CASES = [
    factory_case("file-missing", "file not found", factory_entry(factory="nope.py:build")),
    factory_case("import-fails", "cannot import", factory_entry(), code="import no_such_module\n"),
    factory_case("callable-missing", "has no 'biuld'", factory_entry(factory="my_net.py:biuld")),
    factory_case("raises", "raised TypeError", factory_entry(args={"colour": "red"})),
    factory_case(
        "not-a-module",
        "not a torch.nn.Module",
        factory_entry(),
        code="def build():\n    return {}\n",
    ),
    factory_case(
        "unknown-key", "models.mine.wieghts: Extra inputs", factory_entry(wieghts="net.safetensors")
    ),
    factory_case(
        "weights-missing",
        "net.safetensors",
        factory_entry(weights="net.safetensors"),
    ),
    factory_case(
        "weights-keys",
        "missing 2 keys",
        factory_entry(weights="net.safetensors"),
        weights={"conv.weight": torch.zeros(4, 1, 3, 3), "conv.bias": torch.zeros(4)},
    ),
    factory_case(
        "weights-shape",
        "fc.weight has shape (7, 3136) in the weights",
        factory_entry(weights="net.safetensors"),
        weights=_net_state(classes=7),
    ),
    factory_case(
        "weights-pickled-module",
        "not a state dict",
        factory_entry(weights="net.pt"),
        weights=_pickled_module,
    ),
    factory_case("not-logits", "expected (2, 10) logits", factory_entry(args={"classes": 7})),
    factory_case(
        "feature-layer",
        "feature_layer 'layer9' is not a submodule",
        factory_entry(feature_layer="layer9"),
    ),
    factory_case(
        "random-in-eval", "changes between two identical calls", factory_entry(), RANDOM_NET
    ),
    factory_case(
        "input-of-other-data",
        "takes (3, 28, 28) inputs, the data set has (1, 28, 28)",
        factory_entry(input={"channels": 3, "size": 28}, args={"channels": 3}),
    ),
]


def own_data_case(
    id: str, dataset: dict[str, Any], make: Callable[[Path], str], phrase: str
) -> Case:
    """A suite on a data set of the user's (``make`` writes it into the case's folder and returns
    the name the error must give)."""

    def setup(ctx: Context) -> tuple[list[str], str]:
        named = make(ctx.tmp)
        (ctx.tmp / "my_net.py").write_text(USER_NET)
        colour = factory_entry(input={"channels": 3, "size": 32}, args={"channels": 3, "size": 32})
        models = {"mine": colour if dataset["name"] in ("cifar10", "svhn") else CKPT}
        suite = write_suite(ctx, suite_with(dataset={**dataset, "limit": 20}, models=models))
        argv = attack_argv(ctx, suite)
        return [*argv[:2], *argv[4:]], named  # no --data-dir: the suite names the data

    return Case(f"own-data-{id}", setup, phrase)


def _empty_cifar(root: Path) -> str:
    (root / "cifar-10-batches-py").mkdir()
    return "cifar-10-batches-py"


def _cifar_with_a_forbidden_global(root: Path) -> str:
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        (folder / name).write_bytes(b"cos\nsystem\n(S'echo owned'\ntR.")
    return "data_batch_1"


def _npz_of_objects(root: Path) -> str:
    np.savez(root / "mine.npz", images=np.array([{"a": 1}, None], dtype=object), labels=[0, 1])
    return "mine.npz"


def _folder_of_mixed_sizes(root: Path) -> str:
    from PIL import Image

    for index, size in enumerate((28, 30)):
        (root / "images" / "a").mkdir(parents=True, exist_ok=True)
        Image.new("L", (size, size)).save(root / "images" / "a" / f"{index}.png")
    return "1.png"


def _no_svhn(root: Path) -> str:
    (root / "svhn").mkdir()
    return "test_32x32.mat"


OWN_DATA_CASES = [
    own_data_case("cifar-missing-files", {"name": "cifar10", "path": "cifar-10-batches-py"},
                  _empty_cifar, "data_batch_1"),
    own_data_case("cifar-forbidden-global", {"name": "cifar10", "path": "cifar-10-batches-py"},
                  _cifar_with_a_forbidden_global, "forbidden global"),
    own_data_case("svhn-missing", {"name": "svhn", "path": "svhn"}, _no_svhn, "test_32x32.mat"),
    own_data_case("npz-objects", {"name": "npz", "path": "mine.npz"}, _npz_of_objects,
                  "holds Python objects"),
    own_data_case("folder-sizes", {"name": "folder", "path": "images"}, _folder_of_mixed_sizes,
                  "size"),
]  # fmt: skip


def train_data_case(id: str, args: list[str], make: Callable[[Path], str], phrase: str) -> Case:
    def setup(ctx: Context) -> tuple[list[str], str]:
        named = make(ctx.tmp)
        out = ctx.existing("model.safetensors", ctx.good.checkpoint.read_bytes())
        argv = ["train", "cnn-33", *args, "--data-dir", str(ctx.tmp / named)]
        return [*argv, "--epochs", "1", "--out", str(out), "--force"], named

    return Case(f"train-data-{id}", setup, phrase)


def _test_only_npz(root: Path) -> str:
    np.savez(root / "test-only.npz", images=np.zeros((4, 28, 28), np.uint8), labels=[0, 1, 2, 3])
    return "test-only.npz"


TRAIN_DATA_CASES = [
    train_data_case("unknown", ["--dataset", "imagenet"], lambda root: "imagenet",
                    "unknown data set 'imagenet'"),
    train_data_case("no-train-split", ["--dataset", "npz"], _test_only_npz, "no training split"),
    train_data_case("cifar-missing", ["--dataset", "cifar10"], _empty_cifar, "data_batch_1"),
]  # fmt: skip

# --- results files: `wmbench compare OLD NEW` ---------------------------------------------------


def compare_case(
    id: str, side: str, spoil: Callable[[Path], None], phrase: str, *args: str
) -> Case:
    def setup(ctx: Context) -> tuple[list[str], str]:
        paths = {
            name: ResultsDocument.of_run(make_results(), []).write(ctx.tmp / f"{name}-run.json")
            for name in ("old", "new")
        }
        spoil(paths[side])
        out = ctx.existing("compared.json", b'{"earlier": "results"}\n')
        summary = ctx.existing("summary.md", b"# an earlier summary\n")
        argv = ["compare", str(paths["old"]), str(paths["new"]), *args]
        return [*argv, "--json", str(out), "--markdown", str(summary)], paths[side].name

    return Case(f"compare-{id}", setup, phrase)


def _edit_json(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def spoil(path: Path) -> None:
        document = json.loads(path.read_text())
        change(document)
        path.write_text(json.dumps(document))

    return spoil


COMPARE_CASES = [
    compare_case("old-missing", "old", Path.unlink, "no such results file"),
    compare_case("new-not-json", "new", lambda p: p.write_text("{"), "not JSON"),
    compare_case("new-version", "new", _edit_json(lambda d: d.update(version=2)), "version 2"),
    compare_case("old-no-results", "old", _edit_json(lambda d: d.pop("results")),
                 'missing "results"'),
    compare_case("old-bad-cell", "old", _edit_json(lambda d: d["results"][0].pop("error")),
                 "results[0]"),
    compare_case("same-checkpoints-changed", "old",
                 _edit_json(lambda d: d["checkpoints"]["wm"].update(sha256="a" * 64)),
                 "drop --same-checkpoints", "--same-checkpoints"),
    compare_case("same-checkpoints-anonymous", "new",
                 _edit_json(lambda d: d.pop("checkpoints")), "no checkpoint identities",
                 "--same-checkpoints"),
]  # fmt: skip

CASES = (
    SUITE_CASES
    + SPEC_CASES
    + CHECKPOINT_CASES
    + DATA_CASES
    + FACTORY_CASES
    + OWN_DATA_CASES
    + TRAIN_DATA_CASES
    + COMPARE_CASES
)


def test_the_corpus_is_large_and_its_ids_unique():
    assert len(CASES) >= 45
    assert len({case.id for case in CASES}) == len(CASES)


def test_the_good_inputs_the_cases_spoil_pass(workspace, tmp_path, capsys):
    """The control: the base suite, spec, checkpoint and data work, so each case fails for the
    one thing it changes."""
    ctx = Context(tmp_path, workspace)
    suite = write_suite(ctx, BASE_SUITE)
    assert run(attack_argv(ctx, suite)) == 0, capsys.readouterr().err
    assert run(["info", str(workspace.checkpoint)]) == 0, capsys.readouterr().err
    spec = tmp_path / "good-spec.yaml"
    spec.write_text(GOOD_SPEC + "args: {channels: [4, 4, 2], hidden: 8}\n")
    assert run(train_argv(ctx, str(spec))) == 0, capsys.readouterr().err
    good = ResultsDocument.of_run(make_results(), []).write(tmp_path / "good.json")
    assert run(["compare", str(good), str(good), "--same-checkpoints"]) == 0


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            case,
            id=case.id,
            marks=[pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else [],
        )
        for case in CASES
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_file(case, workspace, tmp_path, capsys):
    ctx = Context(tmp_path, workspace)
    argv, named = case.setup(ctx)
    capsys.readouterr()
    code = run(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert code == 2, err
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("error: "), line
    assert named in line, line
    assert case.phrase in line, line
    for path, content in ctx.kept.items():
        assert path.read_bytes() == content, f"{path.name} was changed"
        assert sorted(path.parent.iterdir()) == sorted(ctx.kept), "a file appeared beside it"


def test_merge_keys_still_work(tmp_path):
    path = tmp_path / "merge.yaml"
    path.write_text("base: &b {kind: fgsm, eps: 0.1}\nmine: {<<: *b, eps: 0.2}\n")
    assert read_yaml(path)["mine"] == {"kind": "fgsm", "eps": 0.2}


@pytest.mark.parametrize("command", ["plot", "explain", "reproduce"])
def test_drawing_without_matplotlib_exits_2_with_one_line(
    command, workspace, tmp_path, monkeypatch, one_error_line
):
    """Before any work: reproduce would otherwise train for hours and fail at its figures."""
    results = ResultsDocument.of_run(make_results(), []).write(tmp_path / "r.json")
    argv = {
        "plot": ["plot", str(results), "--out", str(tmp_path / "figures")],
        "explain": ["explain", str(workspace.checkpoint), "--out", str(tmp_path / "cam.png")],
        "reproduce": ["reproduce", "--out", str(tmp_path / "repro")],
    }[command]
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    assert run(argv) == 2
    assert one_error_line() == (
        "error: cannot draw figures: matplotlib is not installed; "
        'install it with: pip install "wmbench[plots]"'
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["r.json"]


# --- fuzzing the YAML reader and the suite parser -----------------------------------------------

SUITE_WORDS = [
    "name", "models", "perturbations", "kind", "eps", "upper", "gates", "dataset", "batch_size",
    "seed", "device", "split", "limit", "attack", "args", "model", "perturbation", "max_error",
    "better", "than", "steps", "alpha", "c", "kappa", "lr", "random_start", "cnn", "wm",
]  # fmt: skip
WORDS = [
    "clean", "uniform", "fgsm", "pgd", "cw", "torchattacks", "PGD", "FGSM", "DeepFool", "Nope",
    "mnist", "test", "val", "cpu", "auto", "cnn", "wm", "a\nb", "", " ", "x\u2028y",
]  # fmt: skip
LABELS = ["cnn", "wm", "zz", "a\nb", " "]
PERTURBATION_LABELS = ["clean", "uniform", "fgsm", "pgd", "cw", "deepfool", "a", "a\nb", "nope"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.sampled_from(WORDS),
    st.text(max_size=6),
)
keys = st.one_of(st.sampled_from(SUITE_WORDS), st.text(max_size=4), st.integers(-2, 2))
anything = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)


def mostly(valid: st.SearchStrategy, otherwise: st.SearchStrategy = anything) -> st.SearchStrategy:
    """``valid`` 15 times in 16, else ``otherwise``: most documents get deep into the schema and
    the loader's cross-checks, and every field is sometimes wrong."""
    return st.integers(0, 15).flatmap(lambda roll: otherwise if roll == 0 else valid)


number = mostly(st.sampled_from([0.1, 0.2, 0.5, 1, 2, 10]), st.floats() | st.sampled_from([0, -1]))
sweep = mostly(st.one_of(number, st.lists(number, min_size=1, max_size=3)), anything | st.just([]))
PARAMS = {
    "clean": [],
    "uniform": ["upper"],
    "fgsm": ["eps"],
    "pgd": ["eps", "alpha", "steps", "random_start"],
    "cw": ["c", "kappa", "steps", "lr"],
}


def perturbation_of(kind: str) -> st.SearchStrategy:
    names = mostly(st.sampled_from(PERTURBATION_LABELS))
    if kind == "torchattacks":
        args = st.dictionaries(st.sampled_from(["eps", "steps", "alpha", "bogus"]), sweep)
        required = {"kind": st.just(kind), "attack": mostly(st.sampled_from(WORDS[6:10]))}
        return st.fixed_dictionaries(required, optional={"args": mostly(args), "name": names})
    optional = {key: sweep for key in PARAMS[kind]}
    return st.fixed_dictionaries(
        {"kind": mostly(st.just(kind))}, optional={**optional, "name": names}
    )


perturbation = st.sampled_from([*PARAMS, "torchattacks"]).flatmap(perturbation_of)
gate_entry = st.fixed_dictionaries(
    {"perturbation": mostly(st.sampled_from(PERTURBATION_LABELS))},
    optional={
        "model": mostly(st.sampled_from(LABELS)),
        "better": mostly(st.sampled_from(LABELS)),
        "than": mostly(st.sampled_from(LABELS)),
        "max_error": mostly(st.floats(-0.5, 1.5)),
        "eps": number,
        "upper": number,
        "steps": number,
    },
)
suites = st.fixed_dictionaries(
    {
        "name": mostly(st.sampled_from(["quick", "a\nb"])),
        "models": mostly(
            st.dictionaries(mostly(st.sampled_from(LABELS[:3]), keys), st.just("x.st"), min_size=1)
        ),
        "perturbations": mostly(st.lists(perturbation, min_size=1, max_size=4)),
    },
    optional={
        "gates": mostly(st.lists(mostly(gate_entry), max_size=3)),
        "dataset": mostly(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": st.sampled_from(["mnist", "cifar"]),
                    "split": st.sampled_from(["test", "val", "train"]),
                    "limit": mostly(st.integers(1, 100), number),
                },
            )
        ),
        "batch_size": mostly(st.integers(1, 1000)),
        "seed": mostly(st.integers(0, 2**64)),
        "device": mostly(st.sampled_from(["auto", "cpu", "cuda"])),
    },
)
YAML_BITS = [
    "name", "models", "kind", "eps", ": ", ":", "- ", "-", "\n", "  ", "\t", "{", "}", "[", "]",
    ",", "'", '"', "&a ", "*a", "!!set ", "!!float ", "!!int ", "!!binary ", "!!timestamp ",
    "!!python/object ", "!!str ", "!!map ", "? ", "<<: ", "---\n", "...\n", "%YAML 1.1\n", "#",
    "|\n", ">\n", ".nan", ".inf", "~", "0x1f", "1e9", "2001-13-45", "\x00", "\ufeff", "\\",
    "\x85", "\u2028",
]  # fmt: skip
yaml_text = st.one_of(
    st.lists(st.sampled_from(YAML_BITS), max_size=25).map("".join),
    st.text(max_size=40),
    suites.map(lambda doc: yaml.safe_dump(doc)),
)


@pytest.fixture(scope="module")
def fuzz_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzz.yaml"


def assert_one_line_error(check: Callable[[], object]) -> None:
    try:
        check()
    except WmbenchError as error:
        message = str(error)
        assert message.strip() and len(message.splitlines()) == 1, repr(message)
        assert "\n" not in message and "\r" not in message


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(suites)
def test_suite_parser_raises_only_one_line_wmbench_errors(document):
    assert_one_line_error(lambda: parse_suite(document, "fuzz.yaml"))


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(yaml_text)
def test_yaml_reader_raises_only_one_line_wmbench_errors(fuzz_file, text):
    fuzz_file.write_text(text, encoding="utf-8")

    def check() -> None:
        parse_suite(read_yaml(fuzz_file), fuzz_file)

    assert_one_line_error(check)


def test_the_good_factory_entry_the_factory_cases_spoil_passes(workspace, tmp_path, capsys):
    ctx = Context(tmp_path, workspace)
    (tmp_path / "my_net.py").write_text(USER_NET)
    save_file(_net_state(), str(tmp_path / "net.safetensors"))
    entry = factory_entry(weights="net.safetensors", feature_layer="conv")
    suite = write_suite(ctx, suite_with(models={"mine": entry, "cnn": CKPT}))
    assert run(attack_argv(ctx, suite)) == 0, capsys.readouterr().err
