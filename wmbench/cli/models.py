"""``wmbench models``: the zoo with parameter counts and multiply-accumulates per image."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from wmbench.cli._console import stdout
from wmbench.metrics import count_macs, count_parameters
from wmbench.models import create_model, get_spec, list_models


def models(
    pattern: str = typer.Argument("*", help="Shell-style wildcard over model names."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
) -> None:
    """List the model zoo with parameters and multiply-accumulates per image."""
    rows = []
    for name in list_models(pattern):
        spec = get_spec(name)
        model = create_model(spec)
        input_shape = (spec.input.channels, spec.input.size, spec.input.size)
        rows.append(
            {
                "name": name,
                "family": spec.family,
                "params": count_parameters(model),
                "macs": count_macs(model, input_shape),
                "feature_layer": model.feature_layer,
                "paper_params": spec.paper.params if spec.paper else None,
                "paper_test_error": spec.paper.test_error if spec.paper else None,
                "description": spec.description,
            }
        )
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title="wmbench model zoo")
    for column, justify in (
        ("model", "left"),
        ("family", "left"),
        ("params", "right"),
        ("MACs", "right"),
        ("paper params", "right"),
        ("paper error %", "right"),
    ):
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in rows:
        error = row["paper_test_error"]
        table.add_row(
            row["name"],
            row["family"],
            f"{row['params']:,}",
            f"{row['macs']:,}",
            row["paper_params"] or "",
            "" if error is None else f"{error:.2f}",
        )
    stdout.print(table)
