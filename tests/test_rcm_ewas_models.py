"""Feature-map size (rcm's ``upsample`` and ``strides``) and EWAS (``ewas``) as zoo arguments.

Shapes are read with forward hooks and compared with sizes worked out by hand; the defaults are
checked against the module trees and state dicts the zoo had before these arguments existed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from wmbench.checkpoint import load_checkpoint, save_checkpoint
from wmbench.errors import ModelError
from wmbench.layers import ElementWiseActivationScaling, auxiliary_loss, supervised
from wmbench.metrics import count_parameters
from wmbench.models import InputSpec, build_model, create_model, get_spec

pytestmark = pytest.mark.usefixtures("one_thread")

CHECKPOINTS = Path(__file__).resolve().parents[1] / "models" / "checkpoints"


def output_shapes(model: nn.Module, names: list[str], size: int = 28) -> dict[str, tuple]:
    """``(C, H, W)`` of each named submodule's output on a batch of two ``size``² images."""
    shapes: dict[str, tuple] = {}
    handles = [
        model.get_submodule(name).register_forward_hook(
            lambda module, inp, out, name=name: shapes.__setitem__(name, tuple(out.shape[1:]))
        )
        for name in names
    ]
    logits = model(torch.rand(2, 1, size, size))
    for handle in handles:
        handle.remove()
    assert logits.shape == (2, 10)
    return shapes


def with_args(name: str, **args: object):
    """The spec of zoo model ``name`` with ``args`` changed."""
    spec = get_spec(name)
    return spec.model_copy(update={"args": {**spec.args, **args}, "name": f"{name}-changed"})


def last_blocks(model: nn.Module) -> list[str]:
    """``body.stage<s>_block<n>`` of each stage's last block."""
    last: dict[str, str] = {}
    for name in model.body._modules:
        if name.startswith("stage"):
            last[name.split("_")[0]] = f"body.{name}"
    return list(last.values())


# --- upsample ------------------------------------------------------------------------------------


def test_cnn_upsample_doubles_every_map():
    model = create_model("cnn-33-up2")
    assert model.input_shape == (1, 28, 28)  # attacks still see the native image
    names = ["upsample", "body.act1", "body.act2", "body.act3"]
    # 28·2 = 56, then each 3×3 conv without padding takes 2 off.
    assert output_shapes(model, names) == {
        "upsample": (1, 56, 56),
        "body.act1": (33, 54, 54),
        "body.act2": (33, 52, 52),
        "body.act3": (8, 50, 50),
    }
    head = 8 * 50 * 50 * 64 + 64 + 64 * 10 + 10
    convs = (1 * 33 + 33 * 33 + 33 * 8) * 9 + 33 + 33 + 8
    assert count_parameters(model) == convs + head == 1_293_262


def test_wm_weight_maps_take_the_upsampled_size():
    model = create_model("wm-unsharp-32-up2")
    shapes = output_shapes(model, ["body.act1", "body.act2", "body.act3"])
    assert shapes == {
        "body.act1": (32, 56, 56),
        "body.act2": (32, 56, 56),
        "body.act3": (8, 56, 56),
    }
    assert model.body.layer2.weight.shape == (32, 32, 56, 56)
    # A WM layer: a C_in × C_out weight map and a C_out bias map, both of the map's size.
    maps = 56 * 56 * ((1 * 32 + 32) + (32 * 32 + 32) + (32 * 8 + 8))
    assert count_parameters(model) == maps + 8 * 56 * 56 * 64 + 64 + 64 * 10 + 10


def test_upsample_is_nearest_neighbour_before_everything_else():
    """The upsampled model is the model built for 56² inputs, fed the image with every pixel
    repeated 2×2; the input-scale map is 56² too."""
    for name, extra in [("cnn-33-up2", {"input_scale": True}), ("resnet-conv-up2", {})]:
        torch.manual_seed(0)
        upsampled = build_model(with_args(name, **extra)).eval()
        plain_spec = with_args(name, upsample=1, **extra)
        plain = build_model(plain_spec.model_copy(update={"input": InputSpec(size=56)})).eval()
        plain.load_state_dict(upsampled.state_dict())
        if extra:
            assert upsampled.input_scale.weight.shape == (1, 56, 56)
            with torch.no_grad():
                upsampled.input_scale.weight.uniform_(0.5, 1.5)
                plain.input_scale.weight.copy_(upsampled.input_scale.weight)
        x = torch.rand(3, 1, 28, 28)
        repeated = x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
        with torch.no_grad():
            torch.testing.assert_close(upsampled(x), plain(repeated), rtol=0, atol=1e-6)


def test_resnet_and_densenet_upsample():
    resnet = create_model("resnet-conv-up2")
    shapes = output_shapes(resnet, last_blocks(resnet))
    assert list(shapes.values()) == [(8, 56, 56), (16, 28, 28), (32, 14, 14), (64, 7, 7)]
    assert count_parameters(resnet) == count_parameters(create_model("resnet-conv"))
    densenet = create_model("densenet-conv-up2")
    names = ["body.act0", "body.block1_layer2", "body.block2_layer4", "body.block3_layer8"]
    shapes = output_shapes(densenet, [*names, "body.block4_layer16"])
    # 16 + 8·(2, 6, 14, 30) channels; 56 pooled to 28, 14, 7.
    assert list(shapes.values()) == [
        (16, 56, 56),
        (32, 56, 56),
        (64, 28, 28),
        (128, 14, 14),
        (256, 7, 7),
    ]


# --- strides -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strides", "sizes"),
    [
        (None, [28, 14, 7, 4]),
        ("1222", [28, 14, 7, 4]),
        ("1122", [28, 28, 14, 7]),
        ([2, 1, 1, 2], [14, 14, 14, 7]),
        ("1111", [28, 28, 28, 28]),
    ],
)
def test_resnet_strides_set_each_stage(strides, sizes):
    model = build_model(with_args("resnet-conv", strides=strides))
    shapes = output_shapes(model, last_blocks(model))
    assert [shape[1] for shape in shapes.values()] == sizes
    assert [shape[2] for shape in shapes.values()] == sizes


def test_a_stage_stride_goes_to_the_first_layer_and_the_projection_only():
    body = create_model("resnet-conv-s1122").body
    first = body.stage3_block1
    assert first.layer1.stride == (2, 2) and first.shortcut.stride == (2, 2)
    assert first.shortcut.kernel_size == (1, 1)
    assert body.stage3_block2.layer1.stride == (1, 1)
    widening = body.stage2_block1  # 8 → 16 channels without downsampling: a stride-1 projection
    assert widening.layer1.stride == (1, 1) and widening.shortcut.stride == (1, 1)
    assert isinstance(body.stage2_block2.shortcut, nn.Identity)


def test_densenet_stride_one_drops_that_pooling():
    model = build_model(with_args("densenet-conv", strides="212"))
    assert [name for name in model.body._modules if name.startswith("pool")] == ["pool1", "pool3"]
    names = ["body.block1_layer2", "body.block2_layer4", "body.block3_layer8"]
    shapes = output_shapes(model, [*names, "body.block4_layer16"])
    assert [shape[1] for shape in shapes.values()] == [28, 14, 14, 7]


# --- the defaults are the models (and checkpoints) of before -------------------------------------

# sha256 of "key:shape" for the state dict then "name:Type" for every module, taken from the zoo
# before upsample, strides and ewas existed.
BEFORE = {
    "cnn-33": "baf47423f8bb935e",
    "cnn-33-bn": "356a82b9ddefd182",
    "cnn-33-input-scale": "c0bdfd77521b0ef0",
    "cnn-33-k9": "47cca98f9062f477",
    "cnn-wide": "c96c7036524f148c",
    "densenet-alt-smooth": "95d03444b8f5d184",
    "densenet-alt-unsharp": "c16d953719d49ed8",
    "densenet-conv": "b74f77e4d65add74",
    "densenet-wm-smooth": "587c80c4dc95ef4f",
    "densenet-wm-unsharp": "9314110eb06848d8",
    "resnet-alt-smooth": "bf513fd9222c9edc",
    "resnet-alt-unsharp": "6d295416dec76cec",
    "resnet-conv": "2036b979f5a614a0",
    "resnet-wm-smooth": "d59667cb3713ad2e",
    "resnet-wm-unsharp": "e74c2525d51e2e51",
    "wm-smooth-32": "97cc32e81a48f5e0",
    "wm-smooth-32-bn": "bf63f441e114423d",
    "wm-smooth-32-k9": "97cc32e81a48f5e0",
    "wm-unsharp-32": "cea4d87133a1c0bd",
}


def structure_digest(model: nn.Module) -> str:
    lines = [f"{key}:{tuple(value.shape)}" for key, value in model.state_dict().items()]
    lines += [f"{name}:{type(module).__name__}" for name, module in model.named_modules()]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


@pytest.mark.parametrize(("name", "digest"), sorted(BEFORE.items()))
def test_default_models_have_the_modules_and_keys_of_before(name, digest):
    model = create_model(name)
    assert structure_digest(model) == digest
    assert model.upsample is None


def test_cnn_33_state_dict_keys_are_unchanged():
    keys = [f"body.layer{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")]
    keys += ["head.1.weight", "head.1.bias", "head.3.weight", "head.3.bias"]
    assert list(create_model("cnn-33").state_dict()) == keys


@pytest.mark.parametrize("name", ["cnn-33", "wm-smooth-32", "wm-unsharp-32"])
def test_shipped_checkpoints_load_into_the_default_models(name):
    model, info = load_checkpoint(CHECKPOINTS / f"{name}.safetensors")
    assert info.spec.name == name and "upsample" not in info.spec.args
    assert list(model.state_dict()) == list(create_model(name).state_dict())


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("resnet-conv", {"strides": "1222", "upsample": 1, "ewas": False}),
        ("densenet-conv", {"strides": [2, 2, 2], "upsample": 1}),
        ("cnn-33", {"upsample": 1, "ewas": False}),
    ],
)
def test_the_defaults_spelled_out_build_the_same_model(name, args):
    torch.manual_seed(0)
    default = create_model(name).eval()
    torch.manual_seed(0)
    spelled = build_model(with_args(name, **args)).eval()
    assert structure_digest(spelled) == structure_digest(default)
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(default(x), spelled(x))


# --- invalid arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "args", "message"),
    [
        ("cnn", "upsample: 0", "upsample must be at least 1, got 0"),
        ("cnn", "upsample: 1.5", "upsample must be an integer, got 1.5"),
        ("resnet", "upsample: true", "upsample must be an integer, got True"),
        ("densenet", "upsample: -2", "upsample must be at least 1, got -2"),
        ("resnet", "strides: '122'", r"one stride, 1 or 2, per stage \(4 here\), got '122'"),
        ("resnet", "strides: '1132'", r"one stride, 1 or 2, per stage \(4 here\), got '1132'"),
        ("resnet", "strides: [1, 2, 2, 4]", r"got \[1, 2, 2, 4\]"),
        ("resnet", "strides: 1122", r'a string of digits such as "1122" \(quoted in YAML\)'),
        ("densenet", "strides: '1222'", r"per pooling between dense blocks \(3 here\)"),
        ("cnn", "ewas: yes please", "ewas must be true or false, got 'yes please'"),
        ("resnet", "ewas_weight: 0.1", "ewas_weight .* needs ewas: true"),
        ("cnn", "{ewas: true, ewas_weight: -1}", "ewas_weight must be at least 0, got -1"),
        ("cnn", "{ewas: true, ewas_weight: big}", "ewas_weight must be a number, got 'big'"),
        ("resnet", "{ewas: true, blocks: [1], channels: [8]}", "needs at least two"),
        ("densenet", "ewas: true", "unexpected keyword argument 'ewas'"),
        ("cnn", "strides: '12'", "unexpected keyword argument 'strides'"),
    ],
)
def test_invalid_arguments_are_model_errors_naming_the_file(tmp_path, family, args, message):
    spec = tmp_path / "odd.yaml"
    body = args if args.startswith("{") else "{" + args + "}"
    spec.write_text(f"name: odd\nfamily: {family}\nargs: {body}\n")
    with pytest.raises(ModelError, match=f"odd.yaml: model 'odd': args: .*{message}"):
        get_spec(spec)


# --- EWAS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args", "order", "shape"),
    [
        ("cnn-33-ewas", {}, ["act2", "ewas", "layer3"], (33, 24, 24)),
        ("wm-unsharp-32-ewas", {}, ["act2", "ewas", "layer3"], (32, 28, 28)),
        ("cnn-33-ewas", {"batchnorm": True}, ["bn2", "act2", "ewas", "layer3"], (33, 24, 24)),
        ("cnn-33-ewas", {"upsample": 2}, ["act2", "ewas", "layer3"], (33, 52, 52)),
        ("resnet-conv-ewas", {}, ["stage4_block3", "ewas", "stage4_block4"], (64, 4, 4)),
        ("resnet-conv-ewas", {"strides": "1122"}, ["stage4_block3", "ewas"], (64, 7, 7)),
    ],
)
def test_ewas_sits_before_the_last_body_layer(name, args, order, shape):
    model = build_model(with_args(name, **args))
    names = list(model.body._modules)
    start = names.index(order[0])
    assert names[start : start + len(order)] == order
    ewas = model.body.ewas
    assert isinstance(ewas, ElementWiseActivationScaling)
    assert ewas.shape == shape and ewas.aux.in_features == shape[0] * shape[1] * shape[2]
    assert ewas.aux.out_features == 10 and ewas.aux_weight == 0.01
    feature = "body.stage4_block4.act2" if name.startswith("resnet") else "body.act3"
    assert model.feature_layer == feature  # the feature layer still follows the last layer
    assert "body.ewas.aux.weight" in model.state_dict()


def test_ewas_scales_the_map_the_next_layer_reads():
    torch.manual_seed(0)
    model = create_model("cnn-33-ewas").eval()
    seen: dict[str, torch.Tensor] = {}
    model.body.act2.register_forward_hook(lambda m, i, out: seen.__setitem__("act2", out))
    model.body.layer3.register_forward_hook(lambda m, i, out: seen.__setitem__("in3", i[0]))
    with torch.no_grad():
        model(torch.rand(4, 1, 28, 28))
    flat = seen["act2"].flatten(1)
    rows = model.body.ewas.aux.weight[(flat @ model.body.ewas.aux.weight.T).argmax(1)]
    torch.testing.assert_close(seen["in3"], (flat * rows).view(4, 33, 24, 24))


def test_ewas_weight_is_passed_on():
    model = build_model(with_args("resnet-conv-ewas", ewas_weight=0.25))
    assert model.body.ewas.aux_weight == 0.25


@pytest.mark.parametrize("name", ["cnn-33-ewas", "wm-unsharp-32-ewas", "resnet-conv-ewas"])
def test_ewas_models_train_with_their_auxiliary_loss(name):
    """Under ``supervised`` the main loss plus λ·aux loss reaches every parameter; the aux bias is
    trained by the auxiliary loss alone (as in the reference)."""
    torch.manual_seed(0)
    model = create_model(name).train()
    x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    with supervised(model, y):
        logits = model(x)
        extra = auxiliary_loss(model)
    assert extra is not None and extra.item() > 0
    weight = model.body.ewas.aux_weight
    aux_logits = model.body.ewas.last_aux_logits
    torch.testing.assert_close(extra, weight * F.cross_entropy(aux_logits, y))
    (F.cross_entropy(logits, y) + extra).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []
    assert model.body.ewas.targets is None  # supervised hands the labels back


# --- checkpoints ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["cnn-33-ewas", "resnet-conv-ewas", "cnn-33-up2", "resnet-conv-s1122"]
)
def test_checkpoint_round_trip_gives_identical_logits(tmp_path, name):
    torch.manual_seed(0)
    model = create_model(name).eval()
    path = save_checkpoint(tmp_path / f"{name}.safetensors", model)
    torch.manual_seed(1)  # the rebuilt model starts from other weights
    loaded, info = load_checkpoint(path)
    assert info.spec == model.spec
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert list(loaded.state_dict()) == list(model.state_dict())
