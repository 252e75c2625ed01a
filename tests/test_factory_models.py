"""A user's own model from a suite entry: built from their file, loaded, wrapped, checked, and
every mistake reported in one line naming the suite file."""

from __future__ import annotations

import hashlib
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError
from safetensors.torch import save_file
from torch import nn

from wmbench.errors import ModelError
from wmbench.models import (
    BenchmarkModel,
    FactoryRecord,
    ForeignModel,
    check_model,
    feature_module,
    load_factory_model,
)
from wmbench.schema import FactoryModelEntry

MEAN = [0.4914, 0.4822, 0.4465]
STD = [0.2470, 0.2435, 0.2616]

USER_MODELS = textwrap.dedent(
    """
    import torch
    from torch import nn
    import torch.nn.functional as F

    from blocks import conv_block  # a sibling module: the file's folder is on sys.path


    class Net(nn.Module):
        def __init__(self, width=8, classes=10):
            super().__init__()
            self.layer1 = conv_block(3, width)
            self.layer4 = conv_block(width, width)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(width, classes)

        def forward(self, x):
            return self.fc(self.pool(self.layer4(self.layer1(x))).flatten(1))


    def build_net(width=8, classes=10):
        return Net(width, classes)


    def build_noisy(width=8):
        net = Net(width)
        forward = net.forward
        net.forward = lambda x: F.dropout(forward(x), 0.5, training=True)
        return net


    def build_flat():
        return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))


    def build_spare():
        net = Net()
        net.spare = nn.Conv2d(8, 8, 1)  # the last Conv2d registered, never called
        return net


    def build_wrong_classes():
        return Net(8, classes=7)


    def boom():
        raise ValueError("boom")


    def not_a_module():
        return {"weights": 1}


    LIMIT = 3
    """
)

BLOCKS = textwrap.dedent(
    """
    from torch import nn


    def conv_block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU())
    """
)


def entry(**changes) -> FactoryModelEntry:
    data = {
        "factory": "my_models.py:build_net",
        "input": {"channels": 3, "size": 8},
        "num_classes": 10,
        "normalize": {"mean": MEAN, "std": STD},
    }
    data.update(changes)
    return FactoryModelEntry.model_validate({k: v for k, v in data.items() if v is not None})


@pytest.fixture
def suite_dir(tmp_path: Path) -> Path:
    (tmp_path / "my_models.py").write_text(USER_MODELS)
    (tmp_path / "blocks.py").write_text(BLOCKS)
    (tmp_path / "suite.yaml").write_text("name: mine\n")
    return tmp_path


def reference_net(folder: Path, seed: int = 1) -> nn.Module:
    """An independent copy of the user's Net, built by importing the file the plain way."""
    sys.path.insert(0, str(folder))
    try:
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            "reference_user_models", folder / "my_models.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    torch.manual_seed(seed)
    return module.build_net().eval()


def load(folder: Path, **changes):
    return load_factory_model(entry(**changes), folder, folder / "suite.yaml")


def one_line_error(folder: Path, match: str, **changes) -> str:
    with pytest.raises(ModelError, match=match) as caught:
        load(folder, **changes)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"{folder / 'suite.yaml'}: ")
    return text


def test_output_equals_plain_pytorch_on_normalized_images(suite_dir):
    reference = reference_net(suite_dir)
    save_file(reference.state_dict(), suite_dir / "net.safetensors")
    model, record = load(suite_dir, weights="net.safetensors")
    assert isinstance(model, ForeignModel) and isinstance(model, BenchmarkModel)
    assert check_model(model) is model
    assert model.spec is None and model.input_shape == (3, 8, 8) and model.num_classes == 10
    assert not model.training and not model.net.training
    x = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = reference((x - mean) / std)
        assert torch.equal(model(x), expected)
        assert not torch.equal(model(x), reference(x))  # the normalization is applied
    assert record.feature_layer == "layer4.0"  # the last Conv2d in named_modules order
    assert model.feature_layer == "net.layer4.0"
    assert feature_module(model) is model.net.layer4[0]


def test_pt_state_dict_and_training_checkpoint_forms(suite_dir):
    reference = reference_net(suite_dir, seed=2)
    state = reference.state_dict()
    torch.save(state, suite_dir / "plain.pt")
    torch.save({"epoch": 3, "state_dict": state}, suite_dir / "nested.pth")
    torch.save({f"module.{k}": v for k, v in state.items()}, suite_dir / "parallel.pt")
    x = torch.rand(2, 3, 8, 8)
    with torch.no_grad():
        expected = reference(x)
        for name in ("plain.pt", "nested.pth", "parallel.pt"):
            model, _ = load(suite_dir, weights=name, normalize=None)
            assert torch.equal(model(x), expected), name


def test_given_feature_layer_resolves_inside_the_wrapper(suite_dir):
    model, record = load(suite_dir, feature_layer="layer1")
    assert record.feature_layer == "layer1"
    assert model.get_submodule(model.feature_layer) is model.net.layer1


def test_record_hashes_the_files_and_is_json(suite_dir):
    save_file(reference_net(suite_dir).state_dict(), suite_dir / "net.safetensors")
    model, record = load(suite_dir, weights="net.safetensors", args={"width": 8})
    assert isinstance(record, FactoryRecord)
    digest = hashlib.sha256((suite_dir / "my_models.py").read_bytes()).hexdigest()
    assert record.source_file == (suite_dir / "my_models.py").resolve()
    assert record.source_sha256 == digest
    weights = hashlib.sha256((suite_dir / "net.safetensors").read_bytes()).hexdigest()
    assert record.weights_sha256 == weights
    document = record.to_json()
    assert document["factory"] == "my_models.py:build_net"
    assert document["args"] == {"width": 8}
    assert document["weights"] == str((suite_dir / "net.safetensors").resolve())
    assert document["input_shape"] == [3, 8, 8] and document["num_classes"] == 10
    assert document["normalize"] == {"mean": MEAN, "std": STD}
    assert document["feature_layer"] == "layer4.0"
    # the identity follows contents, not paths: the same files elsewhere compare equal
    again = load(suite_dir, weights="net.safetensors", args={"width": 8})[1]
    assert again.identity == record.identity
    other = load(suite_dir, weights="net.safetensors", args={"width": 8}, feature_layer="layer1")
    assert other[1].identity != record.identity


def test_without_weights_the_factory_init_is_the_same_every_time(suite_dir):
    x = torch.rand(2, 3, 8, 8)
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    first, _ = load(suite_dir)
    assert torch.equal(torch.rand(1), before)  # the caller's random stream is untouched
    second, _ = load(suite_dir)
    with torch.no_grad():
        assert torch.equal(first(x), second(x))


def test_package_module_form(suite_dir, monkeypatch):
    package = suite_dir / "site" / "userpkg_factory_test"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "nets.py").write_text(USER_MODELS.replace("from blocks", "from .blocks"))
    (package / "blocks.py").write_text(BLOCKS)
    monkeypatch.syspath_prepend(str(suite_dir / "site"))
    model, record = load(suite_dir, factory="userpkg_factory_test.nets:build_net")
    assert record.source_file == (package / "nets.py").resolve()
    assert record.source_sha256 == hashlib.sha256((package / "nets.py").read_bytes()).hexdigest()
    assert model(torch.zeros(1, 3, 8, 8)).shape == (1, 10)


def test_sys_path_is_restored(suite_dir):
    before = list(sys.path)
    load(suite_dir)
    assert sys.path == before


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        (
            {"factory": "missing.py:build_net"},
            r"factory 'missing.py:build_net': file not found: .*missing\.py$",
        ),
        (
            {"factory": "no_such_pkg_xyz.nets:build"},
            "cannot import no_such_pkg_xyz.nets: "
            "ModuleNotFoundError: No module named 'no_such_pkg_xyz'",
        ),
        (
            {"factory": "my_models.py:biuld_net"},
            r"my_models\.py has no 'biuld_net'; closest: build_net",
        ),
        ({"factory": "my_models.py:LIMIT"}, r"'LIMIT' in my_models\.py is a int, not a callable"),
        ({"factory": "my_models.py:boom"}, r"factory 'my_models.py:boom' raised ValueError: boom$"),
        ({"args": {"widht": 4}}, "raised TypeError: .*unexpected keyword argument 'widht'"),
        ({"factory": "my_models.py:not_a_module"}, "returned a dict, not a torch.nn.Module"),
        (
            {"factory": "my_models.py:build_wrong_classes"},
            r"output for a \(2, 3, 8, 8\) batch has shape \(2, 7\), expected \(2, 10\) logits",
        ),
        (
            {"input": {"channels": 1, "size": 8}, "normalize": None},
            r"the model fails on a \(2, 1, 8, 8\) batch: RuntimeError: .*channels",
        ),
        (
            {"factory": "my_models.py:build_noisy"},
            r"output changes between two identical calls \(dropout or other randomness in eval "
            r"mode\?\); attacks and errors would not be repeatable \(a randomised defence: "
            r"declare it randomised and use autoattack version: rand\)$",
        ),
        (
            {"feature_layer": "layer5"},
            "feature_layer 'layer5' is not a submodule of Net; closest: layer4, layer1",
        ),
        (
            {"feature_layer": "fc"},
            r"feature_layer 'fc' outputs \(2, 10\); "
            r"a feature layer's output must be \(B, C, H, W\)$",
        ),
        (
            {"factory": "my_models.py:build_spare"},
            "feature layer 'spare' does not run in the model's forward pass; "
            "name one that does with feature_layer$",
        ),
        (
            {"factory": "my_models.py:build_flat"},
            "Sequential has no nn.Conv2d or WeightMap2d layer to read features from; "
            "name one with feature_layer",
        ),
    ],
)
def test_factory_mistakes_are_one_line_errors(suite_dir, changes, match):
    text = one_line_error(suite_dir, match, **changes)
    if changes.get("factory", "").endswith(("missing.py:build_net", ":boom")):
        assert "factory '" in text


def test_an_import_error_is_one_line_without_traceback(suite_dir):
    (suite_dir / "broken.py").write_text("import torch\n\nraise RuntimeError('bad\\nimport')\n")
    text = one_line_error(
        suite_dir,
        r"cannot import .*broken\.py: RuntimeError: bad import$",
        factory="broken.py:build",
    )
    assert not any(name.startswith("wmbench_factory_broken") for name in sys.modules)
    assert "Traceback" not in text


def test_a_pickled_module_is_refused(suite_dir):
    torch.save(nn.Linear(2, 2), suite_dir / "whole.pt")
    one_line_error(
        suite_dir,
        r"weights 'whole.pt': holds a pickled torch\.nn\.modules\.linear\.Linear, not a state dict",
        weights="whole.pt",
    )
    torch.save([torch.zeros(2)], suite_dir / "list.pt")
    one_line_error(
        suite_dir, r"weights 'list.pt': holds a list, not a state dict", weights="list.pt"
    )


def test_weights_mistakes(suite_dir):
    state = reference_net(suite_dir).state_dict()
    one_line_error(suite_dir, r"weights 'gone.pt': file not found: .*gone\.pt$", weights="gone.pt")
    (suite_dir / "junk.safetensors").write_bytes(b"not safetensors at all")
    one_line_error(
        suite_dir,
        "weights 'junk.safetensors': not a readable safetensors file",
        weights="junk.safetensors",
    )
    (suite_dir / "junk.pt").write_bytes(b"garbage")
    one_line_error(suite_dir, "weights 'junk.pt': ", weights="junk.pt")

    partial = {k: v for k, v in state.items() if not k.startswith("fc.")}
    partial.update({f"extra{i}.weight": torch.zeros(1) for i in range(5)})
    save_file(partial, suite_dir / "keys.safetensors")
    one_line_error(
        suite_dir,
        r"does not match the model's state dict: missing 2 keys \(fc\.weight, fc\.bias\); "
        r"unexpected 5 keys \(extra0\.weight, extra1\.weight, extra2\.weight and 2 more\)$",
        weights="keys.safetensors",
    )
    wide = reference_net(suite_dir).state_dict() | {"fc.weight": torch.zeros(10, 16)}
    torch.save(wide, suite_dir / "shape.pt")
    one_line_error(
        suite_dir,
        r"weights 'shape.pt': fc\.weight has shape \(10, 16\) in the weights, "
        r"\(10, 8\) in the model$",
        weights="shape.pt",
    )
    torch.save({"state_dict": state, "epoch": 3, "note": "x"}, suite_dir / "ok.pt")
    load(suite_dir, weights="ok.pt")  # the nested state dict is taken, the rest ignored
    torch.save(state | {"epoch": 3}, suite_dir / "mixed.pt")
    one_line_error(suite_dir, "entry 'epoch' is a int, not a tensor", weights="mixed.pt")


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"factory": "my_models.py"}, "expected 'file.py:callable'"),
        ({"factory": "my_models.py:"}, "expected 'file.py:callable'"),
        ({"factory": "dir/models:build"}, "neither a .py file nor a module name"),
        ({"weights": "net.bin"}, "expected a .safetensors, .pt or .pth state dict"),
        ({"num_classes": 1}, "greater than or equal to 2"),
        ({"input": {"channels": 0, "size": 8}}, "greater than or equal to 1"),
        ({"input": {"channels": 3}}, "size"),
        (
            {"normalize": {"mean": [0.5], "std": [0.5]}},
            r"one value per input channel \(3\); got 1 and 1",
        ),
        ({"normalize": {"mean": MEAN, "std": [0.2, 0.0, 0.2]}}, "greater than 0"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_entry_schema_refuses(changes, match):
    with pytest.raises(ValidationError, match=match):
        entry(**changes)


def test_entry_parts():
    parsed = entry(factory="pkg.mod:build", weights="w.pt")
    assert (parsed.target, parsed.callable_name, parsed.input_shape) == (
        "pkg.mod",
        "build",
        (3, 8, 8),
    )
    assert parsed.args == {} and parsed.feature_layer is None


def test_a_declared_randomised_defence_loads_and_is_flagged(monkeypatch):
    """``randomised=True`` (``randomised: true`` in a suite) lets a randomised defence in, for
    ``version: rand``; the run's randomised-model check then fires unless every AutoAttack entry
    is ``rand``. Without it the model is refused."""
    import wmbench
    from wmbench.errors import ModelError
    from wmbench.perturbations import autoattack

    monkeypatch.setattr(autoattack, "ITERATIONS", 3)  # the plumbing, not the attack's strength
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Dropout(0.5))
    head = nn.Linear(4 * 6 * 6, 10)

    class Noisy(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.head = net, head

        def forward(self, x):
            self.body[-1].train()  # dropout on in eval mode: a randomised defence
            return self.head(self.body(x))

    images, labels = torch.rand(6, 3, 8, 8), torch.randint(0, 10, (6,))
    for version, flagged in (("standard", True), ("rand", False)):
        suite = {
            "name": "noisy",
            "perturbations": [
                {"kind": "autoattack", "eps": 0.05, "version": version, "attacks": ["apgd-ce"]}
            ],
        }
        document = wmbench.evaluate(Noisy(), suite, data=(images, labels), randomised=True)
        checks = {warning.check for warning in document.warnings}
        assert ("randomised_model" in checks) is flagged
    with pytest.raises(ModelError, match="declare it randomised"):
        wmbench.evaluate(Noisy(), suite, data=(images, labels))
