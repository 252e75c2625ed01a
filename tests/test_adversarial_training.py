"""Adversarial training (wmbench.train.adversarial): each method's batches against literal
implementations of its paper, the eval/train mode rule, plain training left as it was, seeds and
resume, what the checkpoint records, that it makes a model more robust, and the CLI's refusals."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F
import torchattacks
import yaml
from mnist_files import learnable_mnist, write_mnist_dir
from resume_states import same_tensors, snapshot
from safetensors.torch import load_file
from torch import nn

from wmbench.cli import run
from wmbench.data import random_crop
from wmbench.errors import ConfigError, ModelError
from wmbench.models import ModelSpec, build_model
from wmbench.resume import load_resume_state, resume_path, save_resume_state
from wmbench.train import (
    AdversarialConfig,
    LayerwiseTerm,
    ResumeState,
    TrainConfig,
    batch_loss,
    prepare_data,
    train_model,
)

EPS = 0.3
# lsa-b's shape at a tenth of its widths, and a small cnn-33-bn: seconds on a busy CPU
LSA_TINY = ModelSpec(
    name="lsa-tiny",
    family="lsa",
    args={"layers": "conv", "channels": [8, 16, 16], "kernel_size": 5, "hidden": 32},
)
CNN_TINY_BN = ModelSpec(
    name="cnn-tiny-bn",
    family="cnn",
    args={"layers": "conv", "channels": [4, 4, 4], "batchnorm": True, "hidden": 16},
)


def _tiny_model(batchnorm: bool = False) -> nn.Module:
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Conv2d(1, 6, 3)]
    if batchnorm:
        layers.append(nn.BatchNorm2d(6))
    layers += [nn.ReLU(), nn.Flatten(), nn.Linear(6 * 8 * 8, 10)]
    return nn.Sequential(*layers)


def _batch(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(32, 1, 10, 10, generator=generator)
    images[:4] = 0.0  # some pixels on the box's edges, where the [0, 1] clipping bites
    images[4:8] = 1.0
    return images, torch.randint(0, 10, (32,), generator=generator)


def _assert_in_ball(adversarial: torch.Tensor, images: torch.Tensor, eps: float) -> None:
    assert (adversarial - images).abs().max() <= eps + 1e-6
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    assert (adversarial - images).abs().max() > eps / 2  # it moved


# --- each method against its paper, written out here -------------------------------------------


def _literal_fast_at(model, x, y, eps, alpha, generator):
    """Wong, Rice & Kolter 2020, Algorithm 3 (their CIFAR code's start inside [0, 1])."""
    delta = torch.zeros_like(x).uniform_(-eps, eps, generator=generator)
    delta = (x + delta).clamp(0, 1) - x
    delta.requires_grad_(True)
    model.eval()
    F.cross_entropy(model(x + delta), y).backward()
    model.train()
    delta = (delta.detach() + alpha * delta.grad.sign()).clamp(-eps, eps)
    return (x + delta).clamp(0, 1)


def _literal_pgd(model, x, y, eps, alpha, steps, generator):
    """Madry et al. 2018: x + U(−ε, ε), then projected signed-gradient steps on the CE."""
    model.eval()
    x_adv = (x + torch.zeros_like(x).uniform_(-eps, eps, generator=generator)).clamp(0, 1)
    for _ in range(steps):
        x_adv = x_adv.detach().requires_grad_(True)
        F.cross_entropy(model(x_adv), y).backward()
        x_adv = x_adv + alpha * x_adv.grad.sign()
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)
    model.train()
    return x_adv.detach()


def _literal_trades(model, x, y, eps, alpha, steps, beta, generator):
    """Zhang et al. 2019, as github.com/yaodongyu/TRADES's trades_loss writes it."""
    kl = nn.KLDivLoss(reduction="sum")
    model.eval()
    x_adv = x + 0.001 * torch.randn(x.shape, generator=generator)
    for _ in range(steps):
        x_adv = x_adv.detach().requires_grad_(True)
        loss_kl = kl(F.log_softmax(model(x_adv), dim=1), F.softmax(model(x), dim=1))
        (grad,) = torch.autograd.grad(loss_kl, [x_adv])
        x_adv = x_adv.detach() + alpha * torch.sign(grad)
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0.0, 1.0)
    model.train()
    logits = model(x)
    robust = kl(F.log_softmax(model(x_adv), dim=1), F.softmax(model(x), dim=1)) / len(x)
    return x_adv, F.cross_entropy(logits, y) + beta * robust


def _ours(model, images, labels, config, seed=5):
    """batch_loss's loss, and the batch it trained on (caught at the model's last forward)."""
    seen = []
    handle = model.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    result = batch_loss(model, images, labels, config, torch.Generator().manual_seed(seed))
    handle.remove()
    return result, seen


def test_fgsm_rs_batch_equals_fast_at():
    model, (images, labels) = _tiny_model(), _batch()
    config = AdversarialConfig("fgsm-rs", eps=EPS)
    assert (config.steps, config.alpha) == (1, pytest.approx(1.25 * EPS))
    result, seen = _ours(model, images, labels, config)
    expected = _literal_fast_at(
        model, images, labels, EPS, 1.25 * EPS, torch.Generator().manual_seed(5)
    )
    torch.testing.assert_close(seen[-1], expected, rtol=0, atol=1e-6)
    _assert_in_ball(seen[-1], images, EPS)
    torch.testing.assert_close(result.loss, F.cross_entropy(model(expected), labels))
    assert torch.equal(result.logits, model(seen[-1]))  # training error counts the adversarial


def test_pgd_batch_equals_madry_and_torchattacks():
    model, (images, labels) = _tiny_model(), _batch()
    config = AdversarialConfig("pgd", eps=EPS, steps=4)
    assert config.alpha == pytest.approx(2.5 * EPS / 4)
    result, seen = _ours(model, images, labels, config)
    expected = _literal_pgd(
        model, images, labels, EPS, config.alpha, 4, torch.Generator().manual_seed(5)
    )
    torch.testing.assert_close(seen[-1], expected, rtol=0, atol=1e-6)
    _assert_in_ball(seen[-1], images, EPS)
    torch.testing.assert_close(result.loss, F.cross_entropy(model(expected), labels))
    torch.manual_seed(5)  # torchattacks draws its start from the global RNG: the same stream
    attack = torchattacks.PGD(model, eps=EPS, alpha=config.alpha, steps=4, random_start=True)
    torch.testing.assert_close(seen[-1], attack(images, labels), rtol=0, atol=1e-6)


def test_trades_batch_and_loss_equal_the_reference_code():
    model, (images, labels) = _tiny_model(), _batch()
    config = AdversarialConfig("trades", eps=EPS, steps=3, beta=2.0)
    result, seen = _ours(model, images, labels, config)
    expected, loss = _literal_trades(
        model, images, labels, EPS, config.alpha, 3, 2.0, torch.Generator().manual_seed(5)
    )
    torch.testing.assert_close(seen[-1], expected, rtol=0, atol=1e-6)
    _assert_in_ball(seen[-1], images, EPS)
    torch.testing.assert_close(result.loss, loss)
    assert torch.equal(result.logits, model(images))  # training error counts the clean images
    assert AdversarialConfig("trades").beta == 6.0


def test_another_seed_another_start():
    model, (images, labels) = _tiny_model(), _batch()
    config = AdversarialConfig("pgd", eps=EPS, steps=1)
    _, first = _ours(model, images, labels, config, seed=5)
    _, other = _ours(model, images, labels, config, seed=6)
    assert not torch.equal(first[-1], other[-1])


# --- the eval/train mode rule ------------------------------------------------------------------


@pytest.mark.parametrize(("method", "train_forwards"), [("pgd", 1), ("fgsm-rs", 1), ("trades", 2)])
def test_attack_in_eval_mode_update_in_train_mode(method, train_forwards):
    model, (images, labels) = _tiny_model(batchnorm=True), _batch()
    batchnorm = model[1]
    model.train()
    modes: list[bool] = []
    batchnorm.register_forward_pre_hook(lambda module, args: modes.append(module.training))
    steps = None if method == "fgsm-rs" else 3
    config = AdversarialConfig(method, eps=EPS, steps=steps)
    _, seen = _ours(model, images, labels, config)
    eval_forwards = config.steps + (method == "trades")  # TRADES: the clean reference, once
    assert modes == [False] * eval_forwards + [True] * train_forwards
    assert batchnorm.num_batches_tracked.item() == train_forwards  # generation left them alone
    reference = _tiny_model(batchnorm=True).train()
    reference(seen[-1])  # one train-mode forward of the batch trained on, from the same start
    if method != "trades":
        torch.testing.assert_close(batchnorm.running_mean, reference[1].running_mean)
    assert model.training and batchnorm.training


def test_each_module_gets_its_own_mode_back():
    model, (images, labels) = _tiny_model(batchnorm=True), _batch()
    model.train()
    model[1].eval()  # e.g. frozen BatchNorm statistics
    batch_loss(model, images, labels, AdversarialConfig("pgd", steps=2), torch.Generator())
    assert model.training and not model[1].training


# --- the training loop -------------------------------------------------------------------------


def _plain_loop(spec, data, config: TrainConfig) -> dict[str, torch.Tensor]:
    """The training loop as it was before adversarial training: Adam, crops, cross-entropy."""
    torch.manual_seed(config.seed)
    model = build_model(spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    count = len(data.train_x)
    for _ in range(config.epochs):
        model.train()
        order = torch.randperm(count, generator=generator)
        for start in range(0, count, config.batch_size):
            batch = order[start : start + config.batch_size]
            images = random_crop(data.train_x[batch], config.crop_padding, generator)
            loss = F.cross_entropy(model(images), data.train_y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model.state_dict()


def _last_weights(spec, data, config: TrainConfig) -> tuple[dict, object]:
    last: dict[str, torch.Tensor] = {}
    result = train_model(
        spec,
        data,
        config,
        on_state=lambda state: last.update({k: v.clone() for k, v in state.model.items()}),
    )
    return last, result


def test_plain_training_is_bit_identical_to_the_plain_loop(synthetic_mnist):
    spec = CNN_TINY_BN  # BatchNorm: train/eval modes matter
    config = TrainConfig(device="cpu", epochs=2, batch_size=50, seed=3)
    data = prepare_data(synthetic_mnist(200, 40), config, torch.device("cpu"))
    weights, _ = _last_weights(spec, data, config)
    assert same_tensors(weights, _plain_loop(spec, data, config))
    adversarial = dataclasses.replace(config, adversarial=AdversarialConfig("fgsm-rs"))
    # The check can fail: adversarial training ends elsewhere.
    assert not same_tensors(_last_weights(spec, data, adversarial)[0], weights)


@pytest.mark.parametrize(
    "attack",
    [
        AdversarialConfig("pgd", steps=2),
        AdversarialConfig("trades", steps=2),
        AdversarialConfig("fgsm-rs", lr_gamma=0.5, lr_layers=["body.conv3", "head.fc1"]),
    ],
    ids=["pgd", "trades", "fgsm-rs+AT-LR"],
)
def test_same_seed_same_adversarial_weights(synthetic_mnist, attack):
    spec = LSA_TINY
    config = TrainConfig(device="cpu", epochs=2, batch_size=50, seed=7, adversarial=attack)
    data = prepare_data(synthetic_mnist(200, 40), config, torch.device("cpu"))
    first, result = _last_weights(spec, data, config)
    again, _ = _last_weights(spec, data, config)
    other, _ = _last_weights(spec, data, dataclasses.replace(config, seed=8))
    assert same_tensors(first, again) and not same_tensors(first, other)
    clean = (result.model(data.test_x).argmax(1) != data.test_y).float().mean().item()
    assert result.test_error == pytest.approx(clean)  # the test error is on clean images


def test_library_resume_equals_uninterrupted_pgd_run(tmp_path, synthetic_mnist):
    spec = LSA_TINY
    attack = AdversarialConfig("pgd", eps=0.2, steps=2)
    config = TrainConfig(device="cpu", epochs=3, batch_size=50, seed=4, adversarial=attack)
    data = prepare_data(synthetic_mnist(200, 40), config, torch.device("cpu"))
    states: list[ResumeState] = []
    full = train_model(spec, data, config, on_state=lambda state: states.append(snapshot(state)))

    path = tmp_path / "run.resume.safetensors"
    one = dataclasses.replace(config, epochs=1)
    train_model(spec, data, one, on_state=lambda state: save_resume_state(path, state))
    saved = load_resume_state(path)
    assert saved.config["adversarial"] == dataclasses.asdict(attack)
    resumed_states: list[ResumeState] = []
    resumed = train_model(
        spec, data, config, resume=saved, on_state=lambda s: resumed_states.append(snapshot(s))
    )
    assert same_tensors(resumed_states[-1].model, states[-1].model)
    assert same_tensors(resumed.model.state_dict(), full.model.state_dict())
    assert [s.loss for s in resumed.history] == [s.loss for s in full.history]


# --- the command line --------------------------------------------------------------------------


def _args(data, out, *extra: str) -> list[str]:
    spec = out.parent / "lsa-tiny.yaml"
    spec.write_text(yaml.safe_dump(LSA_TINY.model_dump(exclude_none=True)))
    args = ["train", str(spec), "--data-dir", str(data), "--out", str(out), "--batch-size", "50"]
    return [*args, "--device", "cpu", *extra]


def test_cli_resume_with_pgd_ends_with_the_uninterrupted_weights(
    capsys, tmp_path, synthetic_mnist, one_error_line
):
    data = write_mnist_dir(tmp_path / "data", learnable_mnist(100, 20))
    pgd = ["--adversarial", "pgd", "--adv-eps", "0.2", "--adv-steps", "2"]
    reference = tmp_path / "reference.safetensors"
    assert run(_args(data, reference, "--epochs", "2", *pgd)) == 0
    said = "".join(capsys.readouterr().err.split())  # rich wraps long lines anywhere
    assert "adversarialtraining:pgd,eps0.2,2stepsof0.25" in said

    out = tmp_path / "m.safetensors"  # a run killed after epoch 1 of 2, as the library leaves it
    attack = AdversarialConfig("pgd", eps=0.2, steps=2)
    config = TrainConfig(epochs=1, batch_size=50, device="cpu", adversarial=attack)
    prepared = prepare_data(synthetic_mnist(100, 20), config, torch.device("cpu"))
    train_model(
        LSA_TINY,
        prepared,
        config,
        on_state=lambda state: save_resume_state(
            resume_path(out), dataclasses.replace(state, config={**state.config, "epochs": 2})
        ),
    )
    assert run(_args(data, out, "--resume")) == 2  # without --adversarial: another set-up
    assert "training set-up differs: adversarial" in one_error_line()
    assert run(_args(data, out, "--resume", *pgd)) == 0
    reference_weights, weights = load_file(str(reference)), load_file(str(out))
    assert same_tensors(weights, reference_weights)
    capsys.readouterr()
    assert run(["info", str(out), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert run(["info", str(reference), "--json"]) == 0
    want = json.loads(capsys.readouterr().out)
    assert got["metrics"]["history"][1]["loss"] == want["metrics"]["history"][1]["loss"]


def test_checkpoint_records_the_method_and_info_shows_it(capsys, tmp_path, one_error_line):
    data = write_mnist_dir(tmp_path / "data", learnable_mnist(60, 20))
    out = tmp_path / "t.safetensors"
    trades = ["--adversarial", "trades", "--adv-eps", "0.2", "--adv-steps", "3"]
    assert run(_args(data, out, "--epochs", "1", *trades, "--trades-beta", "2")) == 0
    capsys.readouterr()
    assert run(["info", str(out), "--json"]) == 0
    train = json.loads(capsys.readouterr().out)["train"]
    assert train["adversarial"] == {
        "method": "trades",
        "eps": 0.2,
        "steps": 3,
        "alpha": pytest.approx(2.5 * 0.2 / 3),
        "beta": 2.0,
        "lr_gamma": 0.0,
        "lr_layers": None,
    }
    assert run(["info", str(out)]) == 0
    assert "trades (eps 0.2, steps 3, alpha 0.166667, beta 2)" in capsys.readouterr().out
    atlr = tmp_path / "a.safetensors"
    layers = ["--atlr-gamma", "0.5", "--atlr-layers", "body.conv3, head.fc1"]
    assert run(_args(data, atlr, "--epochs", "1", "--adversarial", "fgsm-rs", *layers)) == 0
    capsys.readouterr()
    assert run(["info", str(atlr), "--json"]) == 0
    train = json.loads(capsys.readouterr().out)["train"]
    assert train["adversarial"]["lr_gamma"] == 0.5
    assert train["adversarial"]["lr_layers"] == ["body.conv3", "head.fc1"]
    wrong = ["--adversarial", "pgd", "--atlr-gamma", "0.5", "--atlr-layers", "body.act3"]
    assert run(_args(data, tmp_path / "w.safetensors", *wrong)) == 2
    assert "body.act3: not a Conv2d, WM or Linear layer" in one_error_line()
    plain = tmp_path / "p.safetensors"
    assert run(_args(data, plain, "--epochs", "1")) == 0
    capsys.readouterr()
    assert run(["info", str(plain), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["train"]["adversarial"] is None


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--adversarial", "pgd", "--adv-eps", "-0.1"], "adversarial eps must be > 0, got -0.1"),
        (["--adversarial", "free"], "unknown adversarial method 'free' (one of fgsm-rs, pgd"),
        (["--adversarial", "pgd", "--trades-beta", "6"], "--trades-beta goes with --adversarial"),
        (["--adv-eps", "0.1"], "--adv-eps goes with --adversarial METHOD"),
        (["--adversarial", "pgd", "--adv-steps", "0"], "steps must be an integer >= 1, got 0"),
        (["--adversarial", "fgsm-rs", "--adv-steps", "3"], "fgsm-rs takes one"),
        (["--adversarial", "trades", "--adv-alpha", "0"], "alpha must be > 0, got 0.0"),
        (["--atlr-gamma", "0.1"], "--atlr-gamma goes with --adversarial METHOD"),
        (["--adversarial", "pgd", "--atlr-gamma", "0.1"], "--atlr-gamma and --atlr-layers go"),
    ],
)
def test_cli_refuses_bad_adversarial_settings(capsys, tmp_path, extra, said, one_error_line):
    out = tmp_path / "x.safetensors"
    assert run(["train", "lsa-b", "--out", str(out), "--device", "cpu", *extra]) == 2
    assert said in one_error_line()
    assert not out.exists()


def test_at_lr_adds_the_relative_errors_of_its_layers():
    model, (images, labels) = _tiny_model(), _batch()
    config = AdversarialConfig("pgd", eps=EPS, steps=2, lr_gamma=0.5, lr_layers=["0", "3"])
    term = LayerwiseTerm(model, 0.5, ["0", "3"], images)  # the conv after its ReLU; logits
    result = batch_loss(model, images, labels, config, torch.Generator().manual_seed(5), term)
    x_adv = _literal_pgd(
        model, images, labels, EPS, config.alpha, 2, torch.Generator().manual_seed(5)
    )

    def relative(clean: torch.Tensor, perturbed: torch.Tensor) -> torch.Tensor:
        return (clean - perturbed).flatten().norm() / clean.flatten().norm()

    cm = relative(model[:2](images), model[:2](x_adv)) + relative(model(images), model(x_adv))
    expected = F.cross_entropy(model(x_adv), labels) + 0.5 * cm
    torch.testing.assert_close(result.loss, expected)
    assert cm.item() > 0.01
    model.zero_grad()
    result.loss.backward()  # the term's gradients reach the clean side's layers too
    with_term = model[0].weight.grad.clone()
    model.zero_grad()
    F.cross_entropy(model(x_adv), labels).backward()
    assert not torch.allclose(with_term, model[0].weight.grad)


def test_at_lr_settings_are_checked():
    with pytest.raises(ConfigError, match="needs lr_layers"):
        AdversarialConfig("pgd", lr_gamma=0.1)
    with pytest.raises(ConfigError, match="go with lr_gamma > 0"):
        AdversarialConfig("pgd", lr_layers=["body.conv3"])
    with pytest.raises(ModelError, match="body.act3: not a Conv2d, WM or Linear layer"):
        LayerwiseTerm(build_model(LSA_TINY), 0.1, ["body.act3"])


# --- it makes the model more robust ------------------------------------------------------------


def _fgsm_error(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float) -> float:
    model.eval()
    x = images.clone().requires_grad_(True)
    F.cross_entropy(model(x), labels).backward()
    adversarial = (x + eps * x.grad.sign()).clamp(0, 1).detach()
    return (model(adversarial).argmax(1) != labels).float().mean().item()


def test_adversarial_training_makes_the_model_robust_to_fgsm(synthetic_mnist):
    config = TrainConfig(device="cpu", epochs=4, batch_size=50, lr=3e-3, seed=0)
    data = prepare_data(synthetic_mnist(600, 200), config, torch.device("cpu"))
    plain = train_model(LSA_TINY, data, config)
    attack = AdversarialConfig("fgsm-rs", eps=0.15)
    robust = train_model(LSA_TINY, data, dataclasses.replace(config, adversarial=attack))
    assert plain.test_error < 0.05 and robust.test_error < 0.1
    plain_error = _fgsm_error(plain.model, data.test_x, data.test_y, 0.15)
    robust_error = _fgsm_error(robust.model, data.test_x, data.test_y, 0.15)
    assert robust_error < min(0.3, plain_error / 2), (robust_error, plain_error)
