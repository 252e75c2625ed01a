"""The reproduction report (Markdown): our numbers beside Amer & Maul's Tables 2 and 5, the
figures, and which of the paper's claims held. Formats what reproduce.py measured; every number
comes from the checkpoints' metadata or the suite's results JSON next to the report."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from wmbench._io import write_text_atomic
from wmbench.metrics import count_macs, count_parameters
from wmbench.models import create_model, get_spec


def _mean_std(values: list[float]) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return f"{100 * values[0]:.2f} (1 seed)"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f}"


def _paper_error(model: str) -> str:
    paper = get_spec(model).paper
    if paper is None or paper.test_error is None:
        return "—"
    std = f" ± {paper.test_error_std:.2f}" if paper.test_error_std is not None else ""
    return f"{paper.test_error:.2f}{std}"


def _model_rows(models: list[str], training: dict[str, list[dict[str, Any]]]) -> list[str]:
    rows = []
    for model in models:
        spec = get_spec(model)
        network = create_model(spec)
        shape = (spec.input.channels, spec.input.size, spec.input.size)
        runs = training[model]
        errors = [run["test_error"] for run in runs]
        epochs = {len(run.get("history", [])) for run in runs}
        paper_params = spec.paper.params if spec.paper and spec.paper.params else "—"
        rows.append(
            f"| {model} | {count_parameters(network):,} | {paper_params} "
            f"| {count_macs(network, shape):,} | {_mean_std(errors)} | {_paper_error(model)} "
            f"| {len(runs)} × {'/'.join(map(str, sorted(epochs)))} |"
        )
    return rows


def _sweep_errors(
    document: dict[str, Any], perturbation: str, metric: str = "error"
) -> dict[str, dict[float, float]]:
    table: dict[str, dict[float, float]] = {}
    for row in document["results"]:
        if row["perturbation"] == perturbation:
            (value,) = row["params"].values()
            table.setdefault(row["model"], {})[value] = row[metric]
    return table


def _sweep_table(document: dict[str, Any], perturbation: str, parameter: str) -> list[str]:
    errors = _sweep_errors(document, perturbation)
    values = sorted({value for per_model in errors.values() for value in per_model})
    lines = [
        f"| model | {' | '.join(f'{parameter}={v:g}' for v in values)} |",
        "|---|" + "---:|" * len(values),
    ]
    for model, per_value in errors.items():
        cells = [f"{100 * per_value[v]:.1f}" if v in per_value else "—" for v in values]
        lines.append(f"| {model} | {' | '.join(cells)} |")
    return lines


def _clean(document: dict[str, Any]) -> dict[str, float]:
    return {r["model"]: r["error"] for r in document["results"] if r["perturbation"] == "clean"}


def claims(training: dict[str, list[dict[str, Any]]], document: dict[str, Any]) -> list[str]:
    """Each claim of the paper we can check, with a verdict and the numbers behind it."""
    test = {m: statistics.mean(r["test_error"] for r in runs) for m, runs in training.items()}
    uniform = _sweep_errors(document, "uniform")
    fgsm = _sweep_errors(document, "fgsm")
    lines = []

    def verdict(held: bool | None, text: str, numbers: str) -> None:
        mark = "not measured" if held is None else ("held" if held else "did NOT hold")
        lines.append(f"- **{mark}** — {text} ({numbers})")

    def pct(value: float) -> str:
        return f"{100 * value:.2f}%"

    if {"cnn-33", "wm-smooth-32", "wm-unsharp-32"} <= set(test):
        held = test["wm-smooth-32"] < test["cnn-33"] and test["wm-unsharp-32"] < test["cnn-33"]
        verdict(
            held,
            "WM variants beat the FLOP-matched CNN on clean test error (Table 2)",
            f"cnn-33 {pct(test['cnn-33'])}, wm-smooth-32 {pct(test['wm-smooth-32'])}, "
            f"wm-unsharp-32 {pct(test['wm-unsharp-32'])}",
        )
        held = test["wm-unsharp-32"] < test["wm-smooth-32"]
        verdict(
            held,
            "unsharp WM beats smoothing WM on clean error (Table 2)",
            f"{pct(test['wm-unsharp-32'])} vs {pct(test['wm-smooth-32'])}",
        )
    for name, sweep, figure in (("uniform noise", uniform, "2a"), ("FGSM", fgsm, "3a")):
        families = {
            "cnn": ("cnn-33", ("wm-smooth-32", "wm-unsharp-32")),
            "resnet": ("resnet-conv", ("resnet-alt-smooth",)),
            "densenet": ("densenet-conv", ("densenet-alt-unsharp",)),
        }
        for family, (base, wms) in families.items():
            present = [w for w in wms if w in sweep]
            if base not in sweep or not present:
                continue
            worse = [
                (w, v)
                for w in present
                for v in sweep[base]
                if sweep[w].get(v, 1.0) > sweep[base][v]
            ]
            mean = {m: statistics.mean(sweep[m].values()) for m in (base, *present)}
            numbers = ", ".join(f"{m} mean {pct(e)}" for m, e in mean.items())
            if worse:
                numbers += f"; worse at {len(worse)} of {len(present) * len(sweep[base])} points"
            verdict(
                not worse,
                f"{family}: {', '.join(present)} keep lower error than {base} "
                f"under {name} across the sweep (Figure {figure})",
                numbers,
            )
    for name, figure in (("uniform", "2b"), ("fgsm", "3b")):
        mse = _sweep_errors(document, name, "activation_mse")
        present = [m for m in ("wm-smooth-32", "wm-unsharp-32") if m in mse]
        if "cnn-33" in mse and present:
            held = all(mse[m][v] > mse["cnn-33"][v] for m in present for v in mse["cnn-33"])
            numbers = ", ".join(
                f"{m} mean {statistics.mean(mse[m].values()):.3g}" for m in ("cnn-33", *present)
            )
            verdict(
                held,
                f"the WM variants' feature-layer activations change more than "
                f"cnn-33's under {name} at every value (Figure {figure})",
                numbers,
            )
    if {"cnn-33", "cnn-33-bn"} <= set(test) and "cnn-33-bn" in fgsm and "wm-unsharp-32" in fgsm:
        helps_clean = test["cnn-33-bn"] < test["cnn-33"]
        bn_mean = statistics.mean(fgsm["cnn-33-bn"].values())
        wm_mean = statistics.mean(fgsm["wm-unsharp-32"].values())
        verdict(
            helps_clean and bn_mean > wm_mean,
            "batchnorm helps clean error but does not give the WM layers' FGSM robustness",
            f"clean {pct(test['cnn-33-bn'])} vs {pct(test['cnn-33'])}; mean FGSM error "
            f"cnn-33-bn {pct(bn_mean)} vs wm-unsharp-32 {pct(wm_mean)}",
        )
    if {"cnn-33", "cnn-33-k9", "wm-smooth-32", "wm-smooth-32-k9"} <= set(test):
        held = test["cnn-33-k9"] < test["cnn-33"] and test["wm-smooth-32-k9"] > test["wm-smooth-32"]
        verdict(
            held,
            "a 9×9 kernel helps the CNN and hurts the smoothing WM network (Table 2)",
            f"cnn {pct(test['cnn-33'])} → {pct(test['cnn-33-k9'])}, wm-smooth "
            f"{pct(test['wm-smooth-32'])} → {pct(test['wm-smooth-32-k9'])}",
        )
    for family in ("resnet", "densenet"):
        members = [m for m in test if m.startswith(f"{family}-")]
        if f"{family}-conv" in members and len(members) > 1:
            best = min(members, key=test.get)
            verdict(
                best == f"{family}-conv",
                f"{family}: the all-convolutional variant has the lowest clean error (Table 5)",
                ", ".join(f"{m} {pct(test[m])}" for m in sorted(members, key=test.get)),
            )
    return lines


def write_report(
    path: Path,
    *,
    budget: Any,
    training: dict[str, list[dict[str, Any]]],
    document: dict[str, Any],
    figures: list[Path],
    device: str,
    wall_seconds: float,
) -> Path:
    """Writes the Markdown report and returns its path."""
    table2 = [m for m in training if get_spec(m).family == "cnn"]
    table5 = [m for m in training if get_spec(m).family != "cnn"]
    header = [
        "| model | params | paper params | MACs | test error % (ours) | paper % | seeds × epochs |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    lines = [
        f"# Reproduction of Amer & Maul on MNIST — budget `{budget.name}`",
        "",
        f"Budget: {budget.description}. Device: {device}. Wall time: {wall_seconds / 60:.1f} min. "
        f"wmbench {document.get('versions', {}).get('wmbench', '?')}, torch "
        f"{document.get('versions', {}).get('torch', '?')}.",
        "",
        "Training follows §4: 54,000/6,000 train/validation split (seed 0), Adam at its "
        "defaults, zero-pad-and-crop augmentation, best-validation weights; test error on the "
        "10,000 test images. The robustness numbers come from `results.json` (written by the "
        "suite in `suite.yaml`, seed-0 checkpoints); the training numbers from each "
        "checkpoint's metadata (`wmbench info checkpoints/NAME-sSEED.safetensors`).",
        "",
        "## Table 2 — small CNNs",
        "",
        *header,
        *_model_rows(table2, training),
    ]
    if table5:
        lines += [
            "",
            "## Table 5 — ResNet and DenseNet",
            "",
            *header,
            *_model_rows(table5, training),
        ]
    lines += ["", "## Claims of the paper", "", *claims(training, document)]
    lines += [
        "",
        "## Test error (%) under uniform noise (Figure 2a)",
        "",
        *_sweep_table(document, "uniform", "upper"),
        "",
        "## Test error (%) under FGSM (Figure 3a)",
        "",
        *_sweep_table(document, "fgsm", "eps"),
        "",
        "## Figures",
        "",
    ]
    lines += [f"![{figure.stem}]({figure.as_posix()})" for figure in figures]
    lines.append("")
    return write_text_atomic(path, "\n".join(lines))
