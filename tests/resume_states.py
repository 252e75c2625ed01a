"""Helpers for tests that keep a training run's resume states (``train_model``'s ``on_state``)."""

from __future__ import annotations

import dataclasses

import torch

from wmbench.train import ResumeState


def snapshot(state: ResumeState) -> ResumeState:
    """A resume state whose tensors no longer move with the training run they came from (the
    callback is handed the live weights and moments)."""
    return dataclasses.replace(
        state,
        model={name: tensor.clone() for name, tensor in state.model.items()},
        optimizer={
            index: {key: value.clone() for key, value in moments.items()}
            for index, moments in state.optimizer.items()
        },
    )


def same_tensors(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> bool:
    """The same names holding bit-for-bit equal tensors."""
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
