"""Perturbations against independent references: torchattacks itself and the literal formulas."""

from __future__ import annotations

import pytest
import torch
import torchattacks

from wmbench.errors import ConfigError
from wmbench.models import create_model
from wmbench.perturbations import (
    ApgdAttack,
    AutoAttackProtocol,
    CleanImages,
    CommonCorruption,
    CwAttack,
    FgsmAttack,
    PgdAttack,
    TorchattacksAttack,
    TransferAttack,
    UniformNoise,
    WorstOfAttack,
    build_perturbation,
    loss_input_gradient,
    torchattacks_names,
)
from wmbench.schema import ENTRY_TYPES, PERTURBATION_KINDS, Suite, TorchattacksEntry


@pytest.fixture(scope="module", params=["cnn-33", "wm-unsharp-32"])
def model_and_batch(request):
    torch.manual_seed(0)
    model = create_model(request.param).eval()
    images = torch.rand(16, 1, 28, 28)
    labels = torch.randint(0, 10, (16,))
    return model, images, labels


@pytest.mark.parametrize("eps", [0.0, 0.05, 0.1, 0.3])
def test_fgsm_equals_torchattacks_exactly(model_and_batch, eps):
    model, images, labels = model_and_batch
    reference = torchattacks.FGSM(model, eps=eps)(images, labels)
    ours = FgsmAttack(eps)(model, images, labels)
    assert torch.equal(ours, reference)


def test_one_gradient_serves_the_whole_sweep(model_and_batch):
    model, images, labels = model_and_batch
    gradient = loss_input_gradient(model, images, labels)
    for eps in (0.05, 0.1, 0.2):
        shared = FgsmAttack(eps)(model, images, labels, input_gradient=gradient)
        assert torch.equal(shared, torchattacks.FGSM(model, eps=eps)(images, labels))
        assert (shared - images).abs().max() <= eps + 1e-7


def test_uniform_noise_is_the_renormalised_sum():
    images = torch.rand(5, 1, 28, 28)
    generator = torch.Generator().manual_seed(11)
    noisy = UniformNoise(0.5)(None, images, None, generator=generator)
    noise = torch.rand(images.shape, generator=torch.Generator().manual_seed(11))
    summed = images + 0.5 * noise
    for index in range(len(images)):  # literal per-image min–max
        low, high = summed[index].min(), summed[index].max()
        assert torch.allclose(noisy[index], (summed[index] - low) / (high - low), atol=1e-6)
    assert noisy.amin(dim=(1, 2, 3)).eq(0).all() and noisy.amax(dim=(1, 2, 3)).eq(1).all()


def test_uniform_noise_is_seeded():
    images = torch.rand(4, 1, 28, 28)
    first = UniformNoise(1.0)(None, images, None, generator=torch.Generator().manual_seed(1))
    again = UniformNoise(1.0)(None, images, None, generator=torch.Generator().manual_seed(1))
    other = UniformNoise(1.0)(None, images, None, generator=torch.Generator().manual_seed(2))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_constant_image_maps_to_zeros():
    from wmbench.perturbations import renormalise

    assert torch.equal(renormalise(torch.full((1, 1, 3, 3), 0.7)), torch.zeros(1, 1, 3, 3))


def test_clean_is_the_identity(model_and_batch):
    model, images, labels = model_and_batch
    assert torch.equal(CleanImages()(model, images, labels), images)


def test_pgd_goes_through_torchattacks(model_and_batch):
    model, images, labels = model_and_batch
    torch.manual_seed(5)
    reference = torchattacks.PGD(model, eps=0.1, alpha=0.02, steps=3)(images, labels)
    torch.manual_seed(5)
    ours = PgdAttack(eps=0.1, alpha=0.02, steps=3)(model, images, labels)
    assert torch.equal(ours, reference)
    assert (ours - images).abs().max() <= 0.1 + 1e-6


def test_cw_goes_through_torchattacks(model_and_batch):
    model, images, labels = model_and_batch
    reference = torchattacks.CW(model, c=1.0, kappa=0.0, steps=3, lr=0.01)(images, labels)
    ours = CwAttack(c=1.0, kappa=0.0, steps=3, lr=0.01)(model, images, labels)
    assert torch.equal(ours, reference)


def test_any_torchattacks_attack_by_name(model_and_batch):
    model, images, labels = model_and_batch
    reference = torchattacks.BIM(model, eps=0.1, alpha=0.05, steps=2)(images, labels)
    args = {"eps": 0.1, "alpha": 0.05, "steps": 2}
    entry = TorchattacksEntry(kind="torchattacks", attack="BIM", args=args)
    (params,) = entry.points()
    ours = build_perturbation(entry, params)
    assert torch.equal(ours(model, images, labels), reference)


EXAMPLES = {
    "clean": ({"kind": "clean"}, CleanImages),
    "uniform": ({"kind": "uniform", "upper": 0.5}, UniformNoise),
    "fgsm": ({"kind": "fgsm", "eps": 0.1}, FgsmAttack),
    "pgd": ({"kind": "pgd", "eps": 0.1}, PgdAttack),
    "cw": ({"kind": "cw"}, CwAttack),
    "torchattacks": ({"kind": "torchattacks", "attack": "DeepFool"}, TorchattacksAttack),
    "apgd": ({"kind": "apgd", "eps": 0.1, "loss": "margin"}, ApgdAttack),
    "autoattack": ({"kind": "autoattack", "eps": 0.1}, AutoAttackProtocol),
    "worst-of": (
        {"kind": "worst-of", "of": [{"kind": "fgsm", "eps": 0.1}, {"kind": "pgd", "eps": 0.1}]},
        WorstOfAttack,
    ),
    "transfer": (
        {"kind": "transfer", "source": "s.safetensors", "attack": {"kind": "fgsm", "eps": 0.1}},
        TransferAttack,
    ),
    "corruption": ({"kind": "corruption", "corruption": "fog"}, CommonCorruption),
}


def test_every_kind_of_the_schema_builds_its_own_perturbation():
    assert set(EXAMPLES) == set(PERTURBATION_KINDS)
    assert len(ENTRY_TYPES) == len(PERTURBATION_KINDS)
    entries = [example for example, _ in EXAMPLES.values()]
    suite = Suite.model_validate({"name": "s", "models": {"m": "m"}, "perturbations": entries})
    for entry, (_, expected) in zip(suite.perturbations, EXAMPLES.values(), strict=True):
        (params,) = entry.points()
        built = build_perturbation(entry, params)
        assert type(built) is expected and built.params == params


def test_an_attack_keeps_no_model_but_the_last(model_and_batch):
    """A suite measures models one after another: the attack built for one must not keep it."""
    import gc
    import weakref

    model, images, labels = model_and_batch
    attack = TorchattacksAttack("FGSM", eps=0.1)
    first = create_model("cnn-33").eval()
    attack(first, images, labels)
    gone = weakref.ref(first)
    del first
    attack(model, images, labels)
    gc.collect()
    assert gone() is None


def test_catalogue_and_unknown_names():
    names = torchattacks_names()
    assert {"PGD", "CW", "DeepFool", "AutoAttack", "FGSM"} <= set(names)
    assert "MultiAttack" not in names and "Attack" not in names
    with pytest.raises(ConfigError, match="'DeepFoo' is not an attack of torchattacks"):
        TorchattacksAttack("DeepFoo")


def test_bad_attack_arguments_are_config_errors(model_and_batch):
    model, images, labels = model_and_batch
    attack = TorchattacksAttack("PGD", epsilon=0.1)
    with pytest.raises(ConfigError, match="PGD"):
        attack(model, images, labels)


def test_grad_cam_matches_its_definition():
    """Grad-CAM by hand: channel weights are the spatial mean of the class score's gradient."""
    from wmbench.gradcam import grad_cam

    torch.manual_seed(0)
    model = create_model("cnn-33").eval()
    images = torch.rand(3, 1, 28, 28)
    maps, predictions = grad_cam(model, images)
    assert maps.shape == (3, 28, 28) and maps.min() >= 0 and maps.max() <= 1
    captured = []
    layer = model.get_submodule(model.feature_layer)
    handle = layer.register_forward_hook(lambda m, i, o: captured.append(o))
    logits = model(images)
    handle.remove()
    assert torch.equal(predictions, logits.argmax(1))
    (activation,) = captured
    score = logits.gather(1, predictions[:, None]).sum()
    (gradient,) = torch.autograd.grad(score, activation)
    cam = torch.relu((gradient.mean((2, 3), keepdim=True) * activation).sum(1, keepdim=True))
    cam = torch.nn.functional.interpolate(cam, size=(28, 28), mode="bilinear")[:, 0]
    cam = cam / cam.flatten(1).amax(1)[:, None, None]
    assert torch.allclose(maps, cam.detach(), atol=1e-6)
