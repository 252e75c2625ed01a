"""The verdict over seeds (wmbench.paper.verdict) and its tables (wmbench.reporting.verdict): the
rules of docs/findings.md applied to counts chosen so that each outcome is known by hand (a
difference of 10 points on 3,000 images each is far outside any 95% interval; equal counts are
a tie), numbers in the tables against numpy, and the paper's ±2σ band against Table 2."""

from __future__ import annotations

import numpy as np
import pytest
from seed_rows import cell_row

from wmbench.paper.seeds import merge, over_seeds
from wmbench.paper.verdict import (
    HELD,
    NOT_HELD,
    PART,
    WEAK_ONLY,
    claim_verdicts,
    clean_rows,
    compare,
    corruption_means,
    warning_counts,
)
from wmbench.reporting.verdict import clean_table, sweep_table, timing_table, warnings_table
from wmbench.results import ResultsDocument, SanityWarning
from wmbench.results.document import CellRow

N = 1000


def _row(model: str, perturbation: str, params: dict, wrong: int, mse: float = 0.1) -> CellRow:
    return cell_row(model, perturbation, params, wrong, N, mse)


# Per model, the wrong counts of every seed at each cell (3 seeds × 1,000 images).
CELLS = {
    ("clean", ()): {"cnn-33": 9, "wm-unsharp-32": 8, "wm-smooth-32": 30},
    ("uniform", (("upper", 1.0),)): {"cnn-33": 300, "wm-unsharp-32": 200, "wm-smooth-32": 300},
    ("uniform", (("upper", 2.0),)): {"cnn-33": 500, "wm-unsharp-32": 400, "wm-smooth-32": 600},
    ("fgsm", (("eps", 0.1),)): {"cnn-33": 300, "wm-unsharp-32": 200, "wm-smooth-32": 400},
    ("fgsm", (("eps", 0.2),)): {"cnn-33": 600, "wm-unsharp-32": 500, "wm-smooth-32": 700},
    ("pgd", (("eps", 0.1),)): {"cnn-33": 500, "wm-unsharp-32": 600, "wm-smooth-32": 700},
}


def document_of(seeds: range) -> ResultsDocument:
    rows = []
    for (perturbation, params), counts in CELLS.items():
        for model, wrong in counts.items():
            for seed in seeds:
                # the seeds differ a little (±1 image), and the WM MSEs are higher than the
                # CNN's only for unsharp
                mse = {"cnn-33": 0.2, "wm-unsharp-32": 0.5, "wm-smooth-32": 0.2}[model] + seed / 100
                rows.append(
                    _row(f"{model}-s{seed}", perturbation, dict(params), wrong + seed - 1, mse)
                )
    return ResultsDocument(results=rows)


def test_merged_seed_documents_equal_one_document() -> None:
    whole = over_seeds(document_of(range(3)))
    parts = [document_of(range(seed, seed + 1)) for seed in range(3)]
    merged = over_seeds(merge(parts))
    assert list(merged) == list(whole)
    for model in whole:
        for a, b in zip(whole[model], merged[model], strict=True):
            assert (a.key, a.errors, a.wrong, a.n) == (b.key, b.errors, b.wrong, b.n)
    with pytest.raises(ValueError, match="measured twice"):
        over_seeds(merge([parts[0], parts[0]]))
    with pytest.raises(ValueError, match="no results"):
        merge([])


def test_outcomes_of_differences_follow_the_interval() -> None:
    cells = over_seeds(document_of(range(3)))
    uniform = {c.point: c.outcome for c in compare(cells, "wm-smooth-32", "uniform", "cnn-33")}
    assert uniform == {"upper=1.0": "tie", "upper=2.0": "higher"}
    fgsm = [c.outcome for c in compare(cells, "wm-unsharp-32", "fgsm", "cnn-33")]
    assert fgsm == ["lower", "lower"]
    (one,) = [c for c in compare(cells, "wm-unsharp-32", "fgsm", "cnn-33") if c.point == "eps=0.1"]
    assert one.difference == pytest.approx(-0.1, abs=1e-12) and one.low < -0.1 < one.high < 0


def test_claims_get_the_verdicts_of_the_rules() -> None:
    verdicts = {
        v.claim: (v.verdict, v.evidence) for v in claim_verdicts(over_seeds(document_of(range(3))))
    }

    def verdict(start: str) -> str:
        (found,) = [v for claim, v in verdicts.items() if claim.startswith(start)]
        return found[0]

    assert verdict("wm-unsharp-32 has a lower clean test error than cnn-33") == NOT_HELD  # tie
    assert verdict("wm-smooth-32 has a lower clean test error than cnn-33") == NOT_HELD  # higher
    assert verdict("wm-unsharp-32 has a lower clean test error than wm-smooth-32") == HELD
    assert verdict("wm-unsharp-32 keeps a lower error than cnn-33 under uniform") == HELD
    assert verdict("wm-smooth-32 keeps a lower error than cnn-33 under uniform") == NOT_HELD
    assert verdict("wm-unsharp-32 keeps a lower error than cnn-33 under FGSM") == HELD
    assert verdict("wm-unsharp-32 keeps a lower error than cnn-33 under PGD") == WEAK_ONLY
    assert verdict("wm-smooth-32 keeps a lower error than cnn-33 under PGD") == NOT_HELD
    for perturbation in ("uniform", "fgsm"):
        change = "feature-layer activations change more than cnn-33's under " + perturbation
        assert verdict(f"wm-unsharp-32's {change}") == HELD
        assert verdict(f"wm-smooth-32's {change}") == NOT_HELD
    assert not any("AutoAttack" in claim for claim in verdicts)  # not measured: no claim
    evidence = verdicts[
        next(
            c
            for c in verdicts
            if c.startswith("wm-smooth-32 keeps a lower error than cnn-33 under uniform")
        )
    ][1]
    assert evidence == "0 lower, 1 tie, 1 higher of 2"


def test_held_in_part_when_lower_somewhere_and_higher_nowhere() -> None:
    document = document_of(range(3))
    for row in document.results:  # unsharp ties the CNN at upper 2.0
        if row.model.startswith("wm-unsharp") and row.params == {"upper": 2.0}:
            row.wrong += 100
    verdicts = {v.claim: v.verdict for v in claim_verdicts(over_seeds(document))}
    assert (
        verdicts["wm-unsharp-32 keeps a lower error than cnn-33 under uniform noise (Figure 2a)"]
        == PART
    )


def test_clean_rows_against_the_papers_two_sigma() -> None:
    rows = {row.model: row for row in clean_rows(over_seeds(document_of(range(3))))}
    # cnn-33: 0.9% (0.8, 0.9, 1.0) against 0.85 ± 0.11: inside; wm-smooth-32: 3.0% against
    # 0.79 ± 0.03: 2.21 - 0.06 = 2.15 points outside
    assert rows["cnn-33"].within_two_sigma is True and rows["cnn-33"].off_by == 0.0
    assert rows["wm-smooth-32"].within_two_sigma is False
    assert rows["wm-smooth-32"].off_by == pytest.approx(3.0 - 0.79 - 0.06, abs=1e-9)
    table = clean_table(over_seeds(document_of(range(3))))
    errors = np.array([29, 30, 31]) / N * 100
    assert f"| wm-smooth-32 | 3 | {errors.mean():.2f} ± {errors.std(ddof=1):.2f} |" in table
    assert "0.79 ± 0.03 | no (by 2.15 points) |" in table


def test_a_recipe_arm_is_judged_against_its_architectures_paper_error() -> None:
    rows = [_row(f"wm-unsharp-32-cosine-s{seed}", "clean", {}, 7 + seed) for seed in range(2)]
    cells = over_seeds(ResultsDocument(results=rows))
    # 0.75% against wm-unsharp-32's 0.73 ± 0.03: inside the band
    (row,) = clean_rows(cells, {"wm-unsharp-32-cosine": "wm-unsharp-32"})
    assert row.paper_error == 0.73 and row.within_two_sigma is True
    # a model the zoo does not know, and no architecture given: no paper error, and no crash
    (bare,) = clean_rows(cells)
    assert bare.paper_error is None and bare.within_two_sigma is None
    assert "| wm-unsharp-32-cosine | 2 | 0.75 ± 0.07 |" in clean_table(cells)


def test_sweep_table_rows_are_numpy_means_and_differences() -> None:
    table = sweep_table(over_seeds(document_of(range(3))), "fgsm")
    errors = np.array([399, 400, 401]) / N * 100
    mse = np.array([0.2, 0.21, 0.22])
    line = next(
        line for line in table.splitlines() if line.startswith("| eps=0.1 | wm-smooth-32 |")
    )
    assert f"| {errors.mean():.2f} ± {errors.std(ddof=1):.2f} |" in line
    assert "| +10.00 (" in line and ") higher |" in line
    assert line.endswith(f"| {mse.mean():.4g} ± {mse.std(ddof=1):.2g} |")
    cnn = next(line for line in table.splitlines() if line.startswith("| eps=0.1 | cnn-33 |"))
    assert "| – |" in cnn  # no difference of the baseline from itself


def test_corruption_means_and_warning_counts() -> None:
    rows = [
        _row(f"wm-s{seed}", "mnist-c", {"corruption": name, "severity": 3}, wrong)
        for seed, counts in enumerate([(100, 300), (200, 400)])
        for name, wrong in zip(("fog", "glass_blur"), counts, strict=True)
    ]
    cells = over_seeds(ResultsDocument(results=rows))
    assert corruption_means(cells) == {"wm": {0: pytest.approx(0.2), 1: pytest.approx(0.3)}}
    warnings = [
        SanityWarning("wm-s0", "fgsm", "non_monotonic", "…"),
        SanityWarning("wm-s1", "fgsm", "non_monotonic", "…"),
        SanityWarning("cnn-33", "", "zero_gradient", "…"),
    ]
    document = ResultsDocument(results=rows, warnings=warnings)
    counts = warning_counts(document)
    assert counts == {"wm": {"non_monotonic": 2}, "cnn-33": {"zero_gradient": 1}}
    table = warnings_table(counts, ["wm", "cnn-33", "other"])
    assert "| wm | non_monotonic ×2 |" in table and "| other | none |" in table


def test_a_pooled_difference_with_overlapping_seeds_is_a_tie() -> None:
    """Pooled 720 against 900 wrong of 3,000 (−6 points, Newcombe's interval far below zero), but
    one WM seed (320) is above every CNN seed (300): the training's spread decides, a tie."""
    rows = [
        _row(f"{model}-s{seed}", "fgsm", {"eps": 0.1}, wrong)
        for model, counts in (("cnn-33", (300, 300, 300)), ("wm-unsharp-32", (200, 200, 320)))
        for seed, wrong in enumerate(counts)
    ]
    (comparison,) = compare(
        over_seeds(ResultsDocument(results=rows)), "wm-unsharp-32", "fgsm", "cnn-33"
    )
    assert comparison.difference == pytest.approx(-0.06, abs=1e-12) and comparison.high < -0.03
    assert comparison.separated == 0 and comparison.outcome == "tie"
    rows[-1] = _row("wm-unsharp-32-s2", "fgsm", {"eps": 0.1}, 299)
    (comparison,) = compare(
        over_seeds(ResultsDocument(results=rows)), "wm-unsharp-32", "fgsm", "cnn-33"
    )
    assert comparison.separated == -1 and comparison.outcome == "lower"


def test_timing_table_has_a_column_per_suite_and_a_dash_where_one_did_not_run() -> None:
    table = timing_table({"wm-s0": {"verdict": 114.4, "strong": 393.6}, "cnn-s0": {"verdict": 142}})
    assert table.splitlines() == [
        "| checkpoint | strong | verdict |",
        "| --- | --- | --- |",
        "| cnn-s0 | – | 142 |",
        "| wm-s0 | 394 | 114 |",
    ]
