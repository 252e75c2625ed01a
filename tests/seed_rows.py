"""Results rows for the tests of results over seeds (test_seeds.py, test_verdict.py)."""

from __future__ import annotations

from wmbench.results.document import CellRow


def cell_row(
    model: str,
    perturbation: str,
    params: dict,
    wrong: int,
    n: int = 1000,
    activation_mse: float | None = None,
) -> CellRow:
    """One cell as a results file stores it: ``wrong`` of ``n`` images misclassified."""
    return CellRow(
        model=model,
        perturbation=perturbation,
        kind=perturbation,
        params=params,
        error=wrong / n,
        n=n,
        wrong=wrong,
        activation_mse=activation_mse,
    )
