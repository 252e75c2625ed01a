"""The progress file of a suite run: measured models survive an interrupted run.

JSON lines. The first line fingerprints the run (the suite file's sha256, each checkpoint's
sha256, the device type and the number of images); every further line holds one model's cells
and sanity warnings, appended (and flushed to disk) as soon as the model is measured. A rerun
with ``--resume`` reads the models back, after checking the fingerprint, and measures only the
rest. A line cut short by a kill is ignored. The file is removed once a run completes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from wmbench.errors import ConfigError
from wmbench.results import Cell, ModelOutcome, SanityWarning


def fingerprint(suite_path: Path, checkpoint_hashes: dict[str, str], device: str) -> dict[str, Any]:
    return {
        "suite_sha256": hashlib.sha256(suite_path.read_bytes()).hexdigest(),
        "checkpoints": dict(checkpoint_hashes),
        "device": device,
    }


def default_path(suite_path: Path, json_out: str | None) -> Path:
    """Beside the results file when there is one, else ``.wmbench/<suite>.partial.jsonl``."""
    if json_out not in (None, "-"):
        return Path(f"{json_out}.partial.jsonl")
    return Path(".wmbench") / f"{suite_path.stem}.partial.jsonl"


def outcome_json(outcome: ModelOutcome) -> dict[str, Any]:
    """A model's cells and warnings as JSON values (floats written exactly: ``repr``)."""
    return {
        "cells": [asdict(cell) for cell in outcome.cells],
        "warnings": [asdict(warning) for warning in outcome.warnings],
    }


def outcome_from_json(entry: dict[str, Any]) -> ModelOutcome:
    """The inverse of :func:`outcome_json`.

    Raises:
        KeyError, TypeError: ``entry`` is not one.
    """
    return ModelOutcome(
        cells=[Cell(**cell) for cell in entry["cells"]],
        warnings=[SanityWarning(**warning) for warning in entry["warnings"]],
    )


def load(path: Path, expected: dict[str, Any]) -> dict[str, ModelOutcome]:
    """The models an interrupted run finished, if its fingerprint matches this run's."""
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        header = json.loads(lines[0]) if lines else None
    except json.JSONDecodeError:
        header = None
    if header != expected:
        raise ConfigError(
            "was written for another suite file, other checkpoints or another device; "
            "delete it or run without --resume",
            path,
        )
    outcomes: dict[str, ModelOutcome] = {}
    for line in lines[1:]:
        try:
            entry = json.loads(line)
            outcomes[entry["model"]] = outcome_from_json(entry)
        except (json.JSONDecodeError, KeyError, TypeError):
            break  # the tail of a run killed while writing
    return outcomes


class Writer:
    """Appends each finished model to the progress file. The file is (re)written when the first
    model finishes — at once when resuming — so a run that fails before measuring anything
    leaves no file behind."""

    def __init__(self, path: Path, header: dict[str, Any], keep: dict[str, ModelOutcome]) -> None:
        self.path = path
        self.kept = keep
        self.models = len(keep)
        self._header = header
        self._started = False
        if keep:
            self._start()

    def _start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w", encoding="utf-8") as handle:
            handle.write(json.dumps(self._header) + "\n")
            for label, outcome in self.kept.items():
                handle.write(self._line(label, outcome))
            self._sync(handle)
        self._started = True

    @staticmethod
    def _line(label: str, outcome: ModelOutcome) -> str:
        return json.dumps({"model": label, **outcome_json(outcome)}) + "\n"

    @staticmethod
    def _sync(handle: Any) -> None:
        handle.flush()
        os.fsync(handle.fileno())

    def __call__(self, label: str, outcome: ModelOutcome) -> None:
        if not self._started:
            self._start()
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(self._line(label, outcome))
            self._sync(handle)
        self.models += 1

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
