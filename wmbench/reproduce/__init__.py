"""Reproduction of Amer & Maul on MNIST as a feature: train the zoo, run the paper's suite, draw
Figures 2–4 and write a report beside the paper's Tables 2 and 5. Also LSA's MNIST table
(``lsa``: model B trained normally, adversarially and with AT-LR).

``budgets`` says how much of the protocol a reproduction runs; ``pipeline`` runs it end to end,
training with :mod:`wmbench.training`, judging the paper's claims with :mod:`wmbench.paper` and
writing the report with :mod:`wmbench.reporting.reproduction`. This package only re-exports the
public names of its modules.
"""

from __future__ import annotations

from wmbench.reproduce.budgets import BUDGETS, Budget, TrainJob, get_budget
from wmbench.reproduce.lsa import LSA_BUDGETS, LsaBudget, get_lsa_budget, reproduce_lsa
from wmbench.reproduce.pipeline import (
    checkpoint_path,
    reproduce,
    train_all,
    training_table,
    write_suite,
)

__all__ = [
    "BUDGETS",
    "LSA_BUDGETS",
    "Budget",
    "LsaBudget",
    "TrainJob",
    "checkpoint_path",
    "get_budget",
    "get_lsa_budget",
    "reproduce",
    "reproduce_lsa",
    "train_all",
    "training_table",
    "write_suite",
]
