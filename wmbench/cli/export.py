"""``wmbench export SUITE.yaml --model LABEL --out CKPT``: a suite's factory entry (a user's
own model: their code, their weights, the normalisation) as a self-describing checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch
import typer

from wmbench.checkpoint import save_checkpoint
from wmbench.cli._console import note
from wmbench.errors import ConfigError
from wmbench.models import exported_spec
from wmbench.runtime import versions
from wmbench.suites import load_suite
from wmbench.suites.sources import FactorySource


def export(
    suite: Path = typer.Argument(..., help="The suite file whose models: entry to export."),
    model: str = typer.Option(..., "--model", "-m", help="The label of a factory entry."),
    out: Path = typer.Option(..., "--out", "-o", help="The checkpoint to write (.safetensors)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing checkpoint file."),
) -> None:
    """Write a factory model (code + weights + normalisation) as a wmbench checkpoint.

    The checkpoint names the factory's file by absolute path (or its importable module) and
    holds the weights; loading it runs that code, as the suite entry does.
    """
    if out.suffix != ".safetensors":
        raise ConfigError("the checkpoint must be a .safetensors file", out)
    if out.exists() and not force:
        raise ConfigError("already exists; pass --force to replace it", out)
    loaded = load_suite(suite)
    source = loaded.models.get(model)
    if not isinstance(source, FactorySource):
        factories = [label for label, s in loaded.models.items() if isinstance(s, FactorySource)]
        what = "no model" if source is None else "not a factory entry:"
        raise ConfigError(
            f"{what} {model!r} (factory entries: {', '.join(factories) or 'none'})", suite
        )
    network = source.load(torch.device("cpu"))
    network.spec = exported_spec(model, source.entry, source.factory)
    save_checkpoint(out, network, factory=source.factory.to_json(), versions=versions())
    note(f"{model}: {source.entry.factory} exported to {out}")
