"""The model zoo: every spec builds, runs, trains a step; the paper's parameter counts hold."""

from __future__ import annotations

import pytest
import torch

from wmbench.errors import ConfigError, ModelError
from wmbench.metrics import count_macs, count_parameters
from wmbench.models import create_model, get_spec, list_models

ALL_MODELS = list_models()


@pytest.mark.parametrize("name", ALL_MODELS)
def test_every_model_runs_and_names_its_feature_layer(name):
    torch.manual_seed(0)
    model = create_model(name)
    spec = get_spec(name)
    x = torch.rand(2, spec.input.channels, spec.input.size, spec.input.size)
    captured = []
    feature = model.get_submodule(model.feature_layer)
    handle = feature.register_forward_hook(lambda module, inp, out: captured.append(out))
    logits = model(x)
    handle.remove()
    assert logits.shape == (2, spec.num_classes)
    assert torch.isfinite(logits).all()
    assert len(captured) == 1 and captured[0].dim() == 4 and captured[0].shape[0] == 2
    assert (captured[0] >= 0).all(), "the feature layer is read after its ReLU"
    logits.logsumexp(1).mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    assert sum(g.abs().sum().item() for g in grads) > 0


# Table 2 of the paper, as counted in the issue; cnn-33-k9 is the exception, see below.
PAPER_PARAMS = {
    "cnn-33": 261_070,
    "cnn-wide": 1_187_030,
    "wm-smooth-32": 1_157_226,
    "wm-smooth-32-k9": 1_157_226,
    "wm-unsharp-32": 1_487_178,
}


@pytest.mark.parametrize(("name", "expected"), sorted(PAPER_PARAMS.items()))
def test_parameter_counts_equal_table_2(name, expected):
    assert count_parameters(create_model(name)) == expected


def test_k9_and_variant_counts_by_arithmetic():
    # Convs 1→33→33→8 with 9×9 kernels, each shrinking the map by 2 (28 → 22), FC 3872→64→10.
    k9 = (1 * 33 * 81 + 33) + (33 * 33 * 81 + 33) + (33 * 8 * 81 + 8) + (8 * 22 * 22 * 64 + 64)
    k9 += 64 * 10 + 10
    assert k9 == 360_862  # the paper rounds it to 361K (the 360,926 is not reachable)
    assert count_parameters(create_model("cnn-33-k9")) == k9
    # BatchNorm adds a scale and a shift per channel of the body; input-scale a 28×28 map.
    assert count_parameters(create_model("cnn-33-bn")) == 261_070 + 2 * (33 + 33 + 8)
    assert count_parameters(create_model("cnn-33-input-scale")) == 261_070 + 28 * 28
    assert count_parameters(create_model("wm-smooth-32-bn")) == 1_157_226 + 2 * (32 + 32 + 8)


def test_macs_of_small_models():
    # cnn-33: 26²·33·9 + 24²·33·33·9 + 22²·8·33·9 + 3872·64 + 64·10
    cnn = 26**2 * 33 * 9 + 24**2 * 33 * 33 * 9 + 22**2 * 8 * 33 * 9 + 3872 * 64 + 640
    assert count_macs(create_model("cnn-33"), (1, 28, 28)) == cnn
    # wm-smooth-32: channel mixes at 28², 26², 24² plus the same head; box sums are additions.
    wm = 28**2 * 1 * 32 + 26**2 * 32 * 32 + 24**2 * 32 * 8 + 3872 * 64 + 640
    assert count_macs(create_model("wm-smooth-32"), (1, 28, 28)) == wm
    assert wm < cnn / 5


def test_batchnorm_sits_right_before_each_relu():
    body = create_model("cnn-33-bn").body
    names = list(body._modules)
    assert names == ["layer1", "bn1", "act1", "layer2", "bn2", "act2", "layer3", "bn3", "act3"]


def test_unknown_model_suggests_close_names():
    with pytest.raises(ModelError, match="did you mean wm-smooth-32"):
        get_spec("wm-smoth-32")


def test_spec_file_errors_name_the_file_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nfamily: cnn\nargs: {layer: conv}\nnum_classes: one\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: num_classes"):
        get_spec(bad)
    bad.write_text("name: x\nfamily: transformer\n")
    with pytest.raises(ConfigError, match="unknown family 'transformer'"):
        get_spec(bad)
    bad.write_text("name: x\nfamily: cnn\ncolour: red\n")
    with pytest.raises(ConfigError, match="colour"):
        get_spec(bad)
    bad.write_text("name: [x\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        get_spec(bad)


def test_bad_builder_arguments_are_model_errors(tmp_path):
    spec = tmp_path / "odd.yaml"
    spec.write_text("name: odd\nfamily: cnn\nargs: {layer: conv, channels: [4, 4]}\n")
    with pytest.raises(ModelError, match="3 widths"):
        create_model(spec)
    spec.write_text("name: odd\nfamily: cnn\nargs: {layer: dense}\n")
    with pytest.raises(ModelError, match="unknown layer kind"):
        create_model(spec)


def test_list_models_wildcards():
    assert set(list_models("wm-*")) == {
        "wm-smooth-32",
        "wm-smooth-32-bn",
        "wm-smooth-32-k9",
        "wm-unsharp-32",
    }
    assert list_models("nothing-*") == []
