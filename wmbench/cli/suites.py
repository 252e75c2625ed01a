"""``wmbench suites``: the example suites shipped with wmbench, and what each one runs.

``wmbench attack NAME`` runs one of them by name when no file of that name is in the current
folder (:func:`resolve_suite_argument` says so on stderr).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from wmbench._yaml import read_yaml
from wmbench.cli._console import note, stdout
from wmbench.models.shipped import packaged_suites
from wmbench.suites.loader import parse_suite, resolve_suite_path


def resolve_suite_argument(suite: Path) -> Path:
    """The suite file ``wmbench attack`` runs: ``suite``, or the packaged example of that name."""
    resolved = resolve_suite_path(suite)
    if resolved != suite:
        note(f"{suite}: no such file here; running the example suite of that name: {resolved}")
    return resolved


def header_comment(path: Path) -> str:
    """The comment lines a YAML file opens with, joined into one paragraph."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(" ".join(lines).split())


def describe_suite(name: str, path: Path) -> dict[str, Any]:
    """One row of ``wmbench suites``: what the suite runs, and whether its checkpoints are here."""
    suite = parse_suite(read_yaml(path), path)
    checkpoints = [entry for entry in suite.models.values() if isinstance(entry, str)]
    return {
        "name": name,
        "suite": suite.name,
        "file": str(path),
        "description": header_comment(path) or suite.name,
        "dataset": suite.dataset.name,
        "limit": suite.dataset.limit,
        "models": list(suite.models),
        "perturbations": [entry.label for entry in suite.perturbations],
        "gates": len(suite.gates),
        "checkpoints_present": all((path.parent / entry).is_file() for entry in checkpoints),
    }


def suites(
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
) -> None:
    """List the example suites shipped with wmbench; run one with `wmbench attack NAME`."""
    rows = [describe_suite(name, path) for name, path in packaged_suites().items()]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title="example suites (wmbench attack NAME)")
    widest = max((len(row["name"]) for row in rows), default=4)
    for column in ("name", "images", "models", "perturbations", "ready", "description"):
        # Names and readiness whole; the lists and the description wrap on a narrow terminal.
        table.add_column(
            column,
            no_wrap=column in ("name", "images", "ready"),
            min_width=widest if column == "name" else None,
        )
    for row in rows:
        table.add_row(
            row["name"],
            f"{row['dataset']} {row['limit'] or 'all'}",
            ", ".join(row["models"]),
            ", ".join(row["perturbations"]),
            "yes" if row["checkpoints_present"] else "no: train first",
            row["description"],
        )
    stdout.print(table)
