"""What Amer & Maul's paper states, set against our measurements: Tables 2 and 5 as rows of our
numbers beside theirs (``tables``) and the paper's claims as verdicts (``claims``).

Computed here, formatted by :mod:`wmbench.reporting.reproduction`. This package only re-exports
the public names of its modules.
"""

from __future__ import annotations

from wmbench.paper.claims import Claim, mean_test_errors, paper_claims
from wmbench.paper.tables import ModelRow, Training, model_rows, sweep_values

__all__ = [
    "Claim",
    "ModelRow",
    "Training",
    "mean_test_errors",
    "model_rows",
    "paper_claims",
    "sweep_values",
]
