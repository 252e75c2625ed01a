"""Results over seeds (wmbench.paper.seeds): grouping of MODEL-sSEED labels, mean and sample std
against numpy, the pooled Wilson interval against Wilson's closed form, Newcombe's difference
against the formula written out by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from seed_rows import cell_row

from wmbench.paper.seeds import model_and_seed, over_seeds, seed_difference, split_label
from wmbench.results import ResultsDocument
from wmbench.results.document import CellRow

ROOT = Path(__file__).resolve().parents[1]
Z95 = 1.959963984540054


def wilson_closed_form(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return centre - half, centre + half


def _row(model: str, perturbation: str, params: dict, wrong: int, n: int = 1000) -> CellRow:
    mse = 0.0 if perturbation == "clean" else wrong / 10_000
    return cell_row(model, perturbation, params, wrong, n, mse)


COUNTS = {  # model label → (clean wrong, fgsm 0.1 wrong, fgsm 0.3 wrong)
    "cnn-33-s0": (9, 210, 940),
    "cnn-33-s1": (11, 190, 955),
    "cnn-33-s2": (8, 240, 930),
    "wm-unsharp-32-s0": (7, 330, 990),
    "wm-unsharp-32-s1": (10, 300, 985),
    "wm-unsharp-32-s2": (12, 350, 970),
}


@pytest.fixture
def document() -> ResultsDocument:
    rows = []
    for label, (clean, low, high) in COUNTS.items():
        rows += [
            _row(label, "clean", {}, clean),
            _row(label, "fgsm", {"eps": 0.1}, low),
            _row(label, "fgsm", {"eps": 0.3}, high),
        ]
    return ResultsDocument(results=rows)


def test_labels_split_into_model_and_seed() -> None:
    assert split_label("cnn-33-s2") == ("cnn-33", 2)
    assert split_label("wm-unsharp-32-s10") == ("wm-unsharp-32", 10)
    assert split_label("cnn-33") is None and split_label("cnn-s") is None
    assert model_and_seed("cnn-33-s2") == ("cnn-33", 2)
    assert model_and_seed("cnn-33") == ("cnn-33", 0)


def test_cells_over_seeds_are_numpy_means_and_sample_stds(document) -> None:
    found = over_seeds(document)
    assert list(found) == ["cnn-33", "wm-unsharp-32"]
    for model, cells in found.items():
        assert [(c.perturbation, c.params) for c in cells] == [
            ("clean", {}),
            ("fgsm", {"eps": 0.1}),
            ("fgsm", {"eps": 0.3}),
        ]
        for column, cell in enumerate(cells):
            counts = [COUNTS[f"{model}-s{seed}"][column] for seed in range(3)]
            errors = np.array(counts) / 1000
            assert cell.errors == {seed: errors[seed] for seed in range(3)}
            assert cell.mean == pytest.approx(errors.mean(), abs=1e-15)
            assert cell.std == pytest.approx(errors.std(ddof=1), abs=1e-15)
            assert (cell.wrong, cell.n) == (sum(counts), 3000)
            low, high = cell.interval()
            expected = wilson_closed_form(sum(counts), 3000)
            assert low == pytest.approx(expected[0], abs=1e-12)
            assert high == pytest.approx(expected[1], abs=1e-12)


def test_the_difference_of_two_models_is_newcombes(document) -> None:
    cnn, wm = (over_seeds(document)[name][1] for name in ("cnn-33", "wm-unsharp-32"))
    difference, (low, high) = seed_difference(wm, cnn)
    p_wm, p_cnn = 980 / 3000, 640 / 3000
    assert difference == pytest.approx(p_wm - p_cnn, abs=1e-15)
    (l_wm, u_wm), (l_cnn, u_cnn) = wilson_closed_form(980, 3000), wilson_closed_form(640, 3000)
    assert low == pytest.approx(
        p_wm - p_cnn - math.sqrt((p_wm - l_wm) ** 2 + (u_cnn - p_cnn) ** 2), abs=1e-12
    )
    assert high == pytest.approx(
        p_wm - p_cnn + math.sqrt((u_wm - p_wm) ** 2 + (p_cnn - l_cnn) ** 2), abs=1e-12
    )
    assert low > 0  # 32.7% against 21.3%: WM is worse at FGSM 0.1 here, beyond the interval
    with pytest.raises(ValueError, match="different cells"):
        seed_difference(wm, over_seeds(document)["cnn-33"][2])


def test_a_seed_twice_or_rows_without_counts_are_refused(document) -> None:
    twice = ResultsDocument(results=[*document.results, _row("cnn-33-s0", "clean", {}, 3)])
    with pytest.raises(ValueError, match="measured twice"):
        over_seeds(twice)
    bare = CellRow(model="m", perturbation="clean", params={}, error=0.1)
    with pytest.raises(ValueError, match="no counts"):
        over_seeds(ResultsDocument(results=[bare]))


def test_a_results_file_without_seeds_is_one_seed_per_model() -> None:
    path = ROOT / "docs" / "reproduction" / "results.json"
    document = ResultsDocument.model_validate(json.loads(path.read_text()))
    found = over_seeds(document)
    assert sorted(found) == sorted({row.model for row in document.results})
    assert sum(len(cells) for cells in found.values()) == len(document.results)
    for cells in found.values():
        for cell in cells:
            assert list(cell.errors) == [0] and math.isnan(cell.std)
            assert cell.mean == cell.wrong / cell.n
