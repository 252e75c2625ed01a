"""The training loop: determinism, best-on-validation weights, and learning on real MNIST."""

from __future__ import annotations

import pytest
import torch

from wmbench.data import Mnist, load_mnist
from wmbench.models import get_spec
from wmbench.train import TrainConfig, prepare_data, train_model

pytestmark = pytest.mark.heavy(seconds=35)


def _train(name: str, mnist: Mnist, **overrides) -> tuple:
    config = TrainConfig(device="cpu", **{"epochs": 2, "batch_size": 50, **overrides})
    data = prepare_data(mnist, config, torch.device("cpu"))
    return train_model(get_spec(name), data, config), data


def test_same_seed_same_weights_other_seed_other_weights(synthetic_mnist):
    mnist = synthetic_mnist()
    first, _ = _train("wm-smooth-32", mnist, seed=7)
    again, _ = _train("wm-smooth-32", mnist, seed=7)
    other, _ = _train("wm-smooth-32", mnist, seed=8)
    for name, tensor in first.model.state_dict().items():
        assert torch.equal(tensor, again.model.state_dict()[name]), name
    assert any(
        not torch.equal(tensor, other.model.state_dict()[name])
        for name, tensor in first.model.state_dict().items()
    )
    assert [s.loss for s in first.history] == [s.loss for s in again.history]


def test_keeps_best_validation_weights_and_reports_their_errors(synthetic_mnist):
    result, data = _train("cnn-33", synthetic_mnist(), epochs=3)
    best = min(result.history, key=lambda stats: stats.val_error)
    assert result.val_error == best.val_error
    assert result.best_epoch == best.epoch
    wrong = (result.model(data.test_x).argmax(1) != data.test_y).float().mean().item()
    assert result.test_error == pytest.approx(wrong)
    assert not result.model.training


def test_patience_stops_after_epochs_without_a_better_validation_error(synthetic_mnist):
    mnist = synthetic_mnist()
    # lr 0: the validation error never moves, so only epoch 1 is ever best
    frozen, _ = _train("cnn-33", mnist, epochs=8, lr=0.0, patience=2)
    assert [s.epoch for s in frozen.history] == [1, 2, 3] and frozen.best_epoch == 1
    # learning: the run is the patience-free run's first epochs, cut where the rule says: after
    # the first epoch e whose best-so-far epoch (the first minimum) is at least `patience` back
    full, _ = _train("cnn-33", mnist, epochs=6, lr=3e-3)
    errors = [s.val_error for s in full.history]
    for patience in (1, 2):
        stopped, _ = _train("cnn-33", mnist, epochs=6, lr=3e-3, patience=patience)
        ends = [e for e in range(1, 7) if errors.index(min(errors[:e])) + 1 + patience <= e]
        assert len(stopped.history) == (ends[0] if ends else 6)
        assert [s.loss for s in stopped.history] == [s.loss for s in full.history][
            : ends[0] if ends else 6
        ]


def test_learns_the_synthetic_task(synthetic_mnist):
    result, _ = _train("wm-unsharp-32", synthetic_mnist(), epochs=2)
    assert result.test_error < 0.2  # chance is 0.9


def test_split_and_limit_follow_the_config(synthetic_mnist):
    config = TrainConfig(limit_train=100, val_fraction=0.2)
    data = prepare_data(synthetic_mnist(), config, torch.device("cpu"))
    assert len(data.train_x) == 100 and len(data.val_x) == 120 and len(data.test_x) == 200
    assert data.train_x.shape[1:] == (1, 28, 28) and data.train_x.max() <= 1.0


@pytest.mark.integration
def test_end_to_end_on_real_mnist():
    """Brief training on a real MNIST subset: test error must fall clearly below chance (90%)."""
    mnist = load_mnist()
    result, data = _train("wm-unsharp-32", mnist, epochs=1, limit_train=3000, batch_size=100)
    assert len(data.test_x) == 10_000
    assert result.test_error < 0.25
