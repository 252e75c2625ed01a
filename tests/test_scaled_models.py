"""The scaled-up skeletons of Amer & Maul §4.2: ResNet (Table 3) and DenseNet (Table 4)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from wmbench.errors import ModelError
from wmbench.layers import SmoothingWeightMap2d, UnsharpWeightMap2d
from wmbench.models import build_model, create_model, get_spec

WM_TYPES = (SmoothingWeightMap2d, UnsharpWeightMap2d)
KIND_OF_TYPE = {
    nn.Conv2d: "conv",
    SmoothingWeightMap2d: "wm-smooth",
    UnsharpWeightMap2d: "wm-unsharp",
}

# name -> (kind of the replaced layers, pattern), as the specs are meant to say.
SPECS = {
    "resnet-conv": ("conv", "all"),
    "resnet-wm-smooth": ("wm-smooth", "all"),
    "resnet-wm-unsharp": ("wm-unsharp", "all"),
    "resnet-alt-smooth": ("wm-smooth", "alternating"),
    "resnet-alt-unsharp": ("wm-unsharp", "alternating"),
    "densenet-conv": ("conv", "all"),
    "densenet-wm-smooth": ("wm-smooth", "all"),
    "densenet-wm-unsharp": ("wm-unsharp", "all"),
    "densenet-alt-smooth": ("wm-smooth", "alternating"),
    "densenet-alt-unsharp": ("wm-unsharp", "alternating"),
}
RESNET_LAYERS = 2 * (3 + 4 + 6 + 4)  # 34 3×3 body layers
DENSENET_LAYERS = 1 + (2 + 4 + 8 + 16)  # 31: the first 16-channel layer and 30 dense layers


def expected_kinds(name: str) -> list[str]:
    kind, pattern = SPECS[name]
    count = RESNET_LAYERS if name.startswith("resnet") else DENSENET_LAYERS
    return [kind if pattern == "all" or i % 2 else "conv" for i in range(count)]


def conv_params(cin: int, cout: int, k: int = 3) -> int:
    return k * k * cin * cout + cout


def wm_params(cin: int, cout: int, size_in: int, size_out: int) -> int:
    return cin * cout * size_in**2 + cout * size_out**2


def layer_params(kind: str, cin: int, cout: int, size_in: int, size_out: int) -> int:
    return conv_params(cin, cout) if kind == "conv" else wm_params(cin, cout, size_in, size_out)


def resnet_params(kinds: list[str], size: int) -> int:
    """Table 3 by hand: stride-2 'same' layers halve the size rounding up (28, 14, 7, 4)."""
    total, cin, index = 0, 1, 0
    for stage, (repeat, cout) in enumerate(zip((3, 4, 6, 4), (8, 16, 32, 64), strict=True)):
        for block in range(repeat):
            size_out = (size + 1) // 2 if stage > 0 and block == 0 else size
            total += layer_params(kinds[index], cin, cout, size, size_out)
            total += layer_params(kinds[index + 1], cout, cout, size_out, size_out)
            if cin != cout or size_out != size:
                total += conv_params(cin, cout, k=1)
            cin, size, index = cout, size_out, index + 2
    return total + 64 * 10 + 10


def densenet_params(kinds: list[str], size: int) -> int:
    """Table 4 by hand: 'same' layers, max pools halve the size rounding down (28, 14, 7, 3)."""
    total, width = layer_params(kinds[0], 1, 16, size, size), 16
    index = 1
    for number, repeat in enumerate((2, 4, 8, 16)):
        if number:
            size //= 2
        for _ in range(repeat):
            total += layer_params(kinds[index], width, 8, size, size)
            width, index = width + 8, index + 1
    return total + width * 10 + 10


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def with_input_size(name: str, size: int) -> nn.Module:
    spec = get_spec(name)
    return build_model(
        spec.model_copy(update={"input": spec.input.model_copy(update={"size": size})})
    )


def body_layers_in_call_order(model: nn.Module, x: torch.Tensor) -> list[nn.Module]:
    """The 3×3 conv and WM layers in the order the forward pass calls them."""
    called: list[nn.Module] = []
    hooks = [
        module.register_forward_pre_hook(lambda m, _: called.append(m))
        for module in model.modules()
        if isinstance(module, WM_TYPES)
        or (isinstance(module, nn.Conv2d) and module.kernel_size == (3, 3))
    ]
    model(x)
    for hook in hooks:
        hook.remove()
    return called


@pytest.fixture(scope="module")
def models() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {name: create_model(name) for name in SPECS}


@pytest.mark.parametrize("name", list(SPECS))
def test_spec_says_what_the_name_says(name: str) -> None:
    spec = get_spec(name)
    assert spec.family == name.split("-")[0]
    assert (spec.args["layers"], spec.args["pattern"]) == SPECS[name]
    not_run = ("resnet-alt-unsharp", "densenet-alt-smooth")
    assert (spec.paper is None) == (name in not_run)


@pytest.mark.parametrize("name", list(SPECS))
def test_output_and_feature_layer_shapes(models: dict[str, nn.Module], name: str) -> None:
    model = models[name]
    captured: dict[str, torch.Tensor] = {}
    feature = model.get_submodule(model.feature_layer)
    assert isinstance(feature, nn.ReLU)
    hook = feature.register_forward_hook(lambda m, i, o: captured.update(act=o))
    pooled: dict[str, torch.Tensor] = {}
    pool_hook = model.pool.register_forward_hook(lambda m, i, o: pooled.update(inp=i[0]))
    logits = model(torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1)))
    hook.remove()
    pool_hook.remove()
    assert logits.shape == (2, 10)
    act = captured["act"]
    if name.startswith("resnet"):
        assert act.shape == (2, 64, 4, 4)
        # The hooked activation is the very map the classifier pools.
        torch.testing.assert_close(model.fc(act.mean(dim=(2, 3))), logits)
    else:
        assert act.shape == (2, 8, 3, 3)
        assert pooled["inp"].shape == (2, 256, 3, 3)
        torch.testing.assert_close(pooled["inp"][:, -8:], act)


@pytest.mark.parametrize("name", list(SPECS))
def test_layer_kinds_follow_the_pattern(models: dict[str, nn.Module], name: str) -> None:
    model = models[name]
    layers = body_layers_in_call_order(model, torch.rand(1, 1, 28, 28))
    kinds = [KIND_OF_TYPE[type(layer)] for layer in layers]
    assert kinds == expected_kinds(name)
    wm_count = sum(isinstance(layer, WM_TYPES) for layer in layers)
    replaced = SPECS[name][0] != "conv"
    full = RESNET_LAYERS if name.startswith("resnet") else DENSENET_LAYERS
    assert wm_count == (0 if not replaced else full if "-alt-" not in name else full // 2)
    projections = [
        m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)
    ]
    assert len(projections) == (4 if name.startswith("resnet") else 0)


def test_parameter_counts_of_the_conv_baselines_by_hand() -> None:
    # resnet-conv, stage by stage: first block (two 3×3 layers and a 1×1 projection), then the
    # remaining blocks' pairs of 3×3 layers; FC 64 -> 10.
    c = conv_params
    stage1 = c(1, 8) + c(8, 8) + c(1, 8, k=1) + 2 * 2 * c(8, 8)
    stage2 = c(8, 16) + c(16, 16) + c(8, 16, k=1) + 3 * 2 * c(16, 16)
    stage3 = c(16, 32) + c(32, 32) + c(16, 32, k=1) + 5 * 2 * c(32, 32)
    stage4 = c(32, 64) + c(64, 64) + c(32, 64, k=1) + 3 * 2 * c(64, 64)
    assert stage1 + stage2 + stage3 + stage4 + 64 * 10 + 10 == 407_234
    assert n_params(create_model("resnet-conv")) == 407_234
    # densenet-conv: the first layer 1 -> 16, then dense layer j of the net sees 16 + 8·j channels.
    dense = sum(c(16 + 8 * j, 8) for j in range(30))
    assert c(1, 16) + dense + 256 * 10 + 10 == 288_090
    assert n_params(create_model("densenet-conv")) == 288_090


@pytest.mark.parametrize("name", list(SPECS))
def test_parameter_count_matches_architecture_arithmetic(
    models: dict[str, nn.Module], name: str
) -> None:
    count = resnet_params if name.startswith("resnet") else densenet_params
    assert n_params(models[name]) == count(expected_kinds(name), 28)


@pytest.mark.parametrize(
    ("name", "size", "feature_side"),
    [("resnet-wm-unsharp", 20, 3), ("resnet-alt-smooth", 32, 4), ("densenet-wm-smooth", 20, 2)],
)
def test_other_input_sizes_are_tracked(name: str, size: int, feature_side: int) -> None:
    model = with_input_size(name, size)
    count = resnet_params if name.startswith("resnet") else densenet_params
    assert n_params(model) == count(expected_kinds(name), size)
    captured: dict[str, torch.Tensor] = {}
    model.get_submodule(model.feature_layer).register_forward_hook(
        lambda m, i, o: captured.update(act=o)
    )
    assert model(torch.rand(2, 1, size, size)).shape == (2, 10)
    assert captured["act"].shape[-2:] == (feature_side, feature_side)


@pytest.mark.parametrize("name", ["resnet-conv", "resnet-wm-smooth", "resnet-wm-unsharp"])
@pytest.mark.parametrize(("block", "size_in"), [("stage2_block1", 28), ("stage4_block1", 7)])
def test_stride_two_layer_keeps_the_even_pixels_of_stride_one(
    models: dict[str, nn.Module], name: str, block: str, size_in: int
) -> None:
    res_block = models[name].get_submodule(f"body.{block}")
    strided = res_block.layer1
    assert strided.stride in (2, (2, 2))
    cin, cout = strided.in_channels, strided.out_channels
    if isinstance(strided, nn.Conv2d):
        full: nn.Module = nn.Conv2d(cin, cout, 3, padding=1)
        bias = strided.bias
    else:
        extra = {"padding": "same"} if isinstance(strided, SmoothingWeightMap2d) else {}
        full = type(strided)(cin, cout, size_in, 3, **extra)
        bias = torch.zeros_like(full.bias)
        bias[:, ::2, ::2] = strided.bias.detach()
    with torch.no_grad():
        full.weight.copy_(strided.weight)
        full.bias.copy_(bias)
    x = torch.randn(2, cin, size_in, size_in, generator=torch.Generator().manual_seed(2))
    out = strided(x)
    assert out.shape[-1] == (size_in + 1) // 2
    torch.testing.assert_close(out, full(x)[:, :, ::2, ::2])
    # The 1×1 projection subsamples the same pixels, so the residual sum lines up.
    shortcut = res_block.shortcut
    expected = nn.functional.conv2d(x[:, :, ::2, ::2], shortcut.weight, shortcut.bias)
    torch.testing.assert_close(shortcut(x), expected)


@pytest.mark.parametrize("name", list(SPECS))
def test_gradients_reach_the_first_layer(models: dict[str, nn.Module], name: str) -> None:
    model = models[name]
    model.zero_grad()
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 3])).backward()
    first = "body.stage1_block1.layer1" if name.startswith("resnet") else "body.layer0"
    grad = model.get_submodule(first).weight.grad
    assert grad is not None
    assert torch.isfinite(grad).all()
    assert grad.abs().sum() > 0


@pytest.mark.parametrize("family", ["resnet", "densenet"])
@pytest.mark.parametrize(
    ("key", "value"), [("pattern", "every-third"), ("layers", "wm-sharp"), ("blocks", [])]
)
def test_bad_args_are_model_errors(family: str, key: str, value: object) -> None:
    spec = get_spec(f"{family}-conv")
    spec = spec.model_copy(update={"args": {**spec.args, key: value}})
    with pytest.raises(ModelError, match=key if key != "layers" else "wm-sharp"):
        build_model(spec)


@pytest.mark.parametrize("name", list(SPECS))
def test_head_keeps_the_state_dict_keys_checkpoints_use(
    models: dict[str, nn.Module], name: str
) -> None:
    """ResNet and DenseNet share one head; its keys stay ``fc.weight`` and ``fc.bias``."""
    model = models[name]
    head = [key for key in model.state_dict() if not key.startswith("body.")]
    assert head == ["fc.weight", "fc.bias"]
    width = 64 if name.startswith("resnet") else 256
    assert model.fc.weight.shape == (10, width)
    assert isinstance(model.pool, nn.AdaptiveAvgPool2d)
