"""``wmbench info CKPT``: what a checkpoint holds, read from its header alone."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from wmbench.checkpoint import read_checkpoint_info
from wmbench.cli._console import stdout


def info(
    checkpoint: Path = typer.Argument(..., help="A .safetensors file written by wmbench train."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show the model spec, training set-up and measured errors stored in a checkpoint."""
    details = read_checkpoint_info(checkpoint)
    document = details.to_json()
    if as_json:
        print(json.dumps(document, indent=2))
        return
    table = Table(title=str(checkpoint), show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    metrics = document.get("metrics", {})
    train = document.get("train", {})
    rows = [
        ("model", details.spec.name),
        ("family", details.spec.family),
        ("args", json.dumps(details.spec.args)),
        ("sha256", details.sha256),
        ("seed", str(train.get("seed", ""))),
        ("epochs", str(train.get("epochs", ""))),
        ("best epoch", str(metrics.get("best_epoch", ""))),
        ("val error", _percent(metrics.get("val_error"))),
        ("test error", _percent(metrics.get("test_error"))),
        ("dataset", json.dumps(document.get("dataset", {}))),
        ("versions", json.dumps(document.get("versions", {}))),
    ]
    for key, value in rows:
        table.add_row(key, value)
    stdout.print(table)


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}%"
