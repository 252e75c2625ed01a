"""``wmbench info CKPT`` / ``wmbench info SUITE.yaml --model LABEL``: what a checkpoint holds
(read from its header alone), or what a suite's model is (a checkpoint, or a user's own model
built from its factory and weights)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from wmbench.checkpoint import read_checkpoint_info
from wmbench.cli._console import stdout
from wmbench.errors import ConfigError
from wmbench.results import describe_adversarial
from wmbench.suites import load_suite
from wmbench.suites.sources import CheckpointSource, FactorySource


def info(
    target: Path = typer.Argument(
        ..., help="A .safetensors file written by wmbench train, or a suite file with --model."
    ),
    model: str | None = typer.Option(
        None, "--model", "-m", help="With a suite file: the label of the model to describe."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show the model spec, training set-up and measured errors stored in a checkpoint, or what a
    suite's model entry is (with --model)."""
    if target.suffix in (".yaml", ".yml"):
        _suite_model(target, model, as_json)
        return
    if model is not None:
        raise ConfigError("--model goes with a suite file (.yaml)", target)
    _checkpoint(target, as_json)


def _checkpoint(path: Path, as_json: bool) -> None:
    details = read_checkpoint_info(path)
    document = details.to_json()
    if as_json:
        print(json.dumps(document, indent=2))
        return
    metrics = document.get("metrics", {})
    train = document.get("train", {})
    _print(
        str(path),
        [
            ("model", details.spec.name),
            ("family", details.spec.family),
            ("args", json.dumps(details.spec.args)),
            ("input", json.dumps(list(details.spec.input_shape))),
            ("sha256", details.sha256),
            ("seed", str(train.get("seed", ""))),
            ("epochs", str(train.get("epochs", ""))),
            ("adversarial", describe_adversarial(train.get("adversarial"))),
            ("best epoch", str(metrics.get("best_epoch", ""))),
            ("val error", _percent(metrics.get("val_error"))),
            ("test error", _percent(metrics.get("test_error"))),
            ("dataset", json.dumps(document.get("dataset", {}))),
            ("versions", json.dumps(document.get("versions", {}))),
        ],
    )


def _suite_model(path: Path, label: str | None, as_json: bool) -> None:
    loaded = load_suite(path)
    if label is None or label not in loaded.models:
        known = ", ".join(loaded.models)
        what = "give --model" if label is None else f"no model {label!r}"
        raise ConfigError(f"{what} (the suite has {known})", path)
    source = loaded.models[label]
    if isinstance(source, CheckpointSource):
        _checkpoint(source.path, as_json)
        return
    assert isinstance(source, FactorySource)
    document: dict[str, Any] = {"label": label, "sha256": source.record.sha256}
    document.update(source.factory.to_json())
    if as_json:
        print(json.dumps(document, indent=2))
        return
    _print(f"{path}: {label}", [(key, _text(value)) for key, value in document.items()])


def _print(title: str, rows: list[tuple[str, str]]) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in rows:
        table.add_row(key, value)
    stdout.print(table)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}%"
