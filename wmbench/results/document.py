"""The results file: one JSON document per suite run, versioned (see docs/results-json.md).

It holds the suite as run, the checkpoints' identities, the measured cells, the sanity warnings
and the verdicts, so that a later run can be compared with it (``--baseline``) and figures and
reports can be drawn from it. :class:`ResultsDocument` is the one owner of the format: it is
built from a run, validates itself, and is the only writer and the only reader of the file.
Adding keys does not change :data:`VERSION`; renaming or removing one, or changing a meaning,
does. Readers ignore keys they do not know.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from wmbench._io import write_text_atomic
from wmbench._yaml import validation_message
from wmbench.errors import ConfigError
from wmbench.results.corruption import CorruptionSummary, suite_summaries
from wmbench.results.measured import (
    Cell,
    CellKey,
    CheckpointChange,
    Results,
    SanityWarning,
    Verdict,
    cell_key,
)
from wmbench.schema import Scalar

FORMAT = "wmbench.results"
VERSION = 1

_CELL_KEYS = (
    "model", "perturbation", "kind", "params", "error", "n", "wrong", "activation_mse", "per_layer",
)  # fmt: skip


class SuiteRecord(BaseModel):
    """The suite as run (``wmbench.schema.Suite`` after validation and defaults), plus ``path``:
    the suite file the run read, or None for a suite built in code. Kept as written, so a
    results file of a newer suite format is still read."""

    model_config = ConfigDict(extra="allow")

    @property
    def name(self) -> str | None:
        value = (self.model_extra or {}).get("name")
        return value if isinstance(value, str) else None


class CheckpointEntry(BaseModel):
    """The checkpoint one model label ran on."""

    model_config = ConfigDict(extra="allow")
    path: str = ""
    sha256: str | None = None
    model: str = ""
    family: str = ""
    metrics: dict[str, Any] = Field(default_factory=dict)


class CellRow(BaseModel):
    """One measured cell as the file stores it. Parameters appear twice: in ``params``, and
    flattened as extra keys (for jq and data frames) unless named like one of the fixed keys."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(strict=True)
    perturbation: str = Field(strict=True)
    kind: str = ""
    params: dict[str, Scalar]
    error: float = Field(strict=True)
    n: int | None = None
    wrong: int | None = None
    activation_mse: float | None = None
    error_ci95: list[float] | None = None
    broken_by: dict[str, int] | None = None
    per_layer: dict[str, dict[str, float | None]] | None = None

    @classmethod
    def of(cls, cell: Cell) -> CellRow:
        flat = {key: value for key, value in cell.params.items() if key not in _CELL_KEYS}
        return cls(
            model=cell.model,
            perturbation=cell.perturbation,
            kind=cell.kind,
            params=dict(cell.params),
            error=cell.error,
            n=cell.n,
            wrong=cell.wrong,
            activation_mse=cell.activation_mse,
            error_ci95=list(cell.ci95),
            broken_by=None if cell.broken_by is None else dict(cell.broken_by),
            per_layer=None if cell.per_layer is None else dict(cell.per_layer),
            **flat,
        )

    @model_serializer(mode="wrap")
    def _flat_params_after_params(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The file's key order: the cell's identity, its flattened parameters, its numbers."""
        data = handler(self)
        head = {key: data.pop(key) for key in ("model", "perturbation", "kind", "params")}
        flat = {key: data.pop(key) for key in list(data) if key not in type(self).model_fields}
        for key in ("broken_by", "per_layer"):  # only worst-case protocols / per_layer suites
            if data.get(key) is None:
                data.pop(key, None)
        return {**head, **flat, **data}

    def key(self) -> CellKey:
        """The same identity as :meth:`Cell.key`."""
        return cell_key(self.model, self.perturbation, self.params)

    @property
    def exact_error(self) -> float:
        """``wrong / n`` when the counts are there (no rounding), else the stored error."""
        if self.n and self.wrong is not None:
            return self.wrong / self.n
        return self.error

    @property
    def has_counts(self) -> bool:
        return self.n is not None and self.wrong is not None

    @property
    def ci95(self) -> tuple[float, float] | None:
        """The stored 95% interval of the error (None in files that predate it)."""
        return None if self.error_ci95 is None else (self.error_ci95[0], self.error_ci95[1])


class BaselineRecord(BaseModel):
    """The baseline a run's ``regression`` verdicts compared with: its file, and the model labels
    whose checkpoint changed since (the normal case in CI: new weights, old numbers)."""

    model_config = ConfigDict(extra="allow")
    path: str
    checkpoints_changed: list[CheckpointChange] = Field(default_factory=list)


class ResultsDocument(BaseModel):
    """The whole results file."""

    model_config = ConfigDict(extra="ignore")
    format: str = FORMAT
    version: int = VERSION
    suite: SuiteRecord | None = None
    checkpoints: dict[str, CheckpointEntry] | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    device: str = ""
    started: str = ""
    duration_s: float | None = None
    results: list[CellRow]
    gates: list[Verdict] = Field(default_factory=list)
    baseline: BaselineRecord | None = None
    warnings: list[SanityWarning] = Field(default_factory=list)
    corruption: list[CorruptionSummary] = Field(default_factory=list)
    passed: bool = True

    @classmethod
    def of_run(
        cls, results: Results, verdicts: list[Verdict], baseline: BaselineRecord | None = None
    ) -> ResultsDocument:
        """The document of one run and its verdicts (gates, then regressions against
        ``baseline``, if one was given)."""
        suite = results.suite.model_dump(mode="json")
        if not suite.get("per_layer"):  # files of suites without it stay as they were
            suite.pop("per_layer", None)
        suite["path"] = None if results.source is None else str(results.source)
        return cls(
            suite=SuiteRecord(**suite),
            checkpoints={
                label: CheckpointEntry(
                    path=str(record.path),
                    sha256=record.sha256,
                    model=record.model,
                    family=record.family,
                    metrics=dict(record.metrics),
                    **({"factory": record.factory} if record.factory is not None else {}),
                    **({"adversarial": record.adversarial} if record.adversarial else {}),
                )
                for label, record in results.checkpoints.items()
            },
            versions=dict(results.versions),
            device=results.device,
            started=results.started,
            duration_s=results.duration_s,
            results=[CellRow.of(cell) for cell in results.cells],
            gates=list(verdicts),
            baseline=baseline,
            warnings=list(results.warnings),
            corruption=suite_summaries(results.cells, results.suite),
            passed=all(verdict.passed for verdict in verdicts),
        )

    def rows_of(self, perturbation: str) -> list[CellRow]:
        return [row for row in self.results if row.perturbation == perturbation]

    def family_of(self, model: str) -> str | None:
        """The family of the checkpoint a model label ran on (None when it is not recorded)."""
        entry = (self.checkpoints or {}).get(model)
        return entry.family if entry is not None else None

    def to_json(self) -> str:
        """The document as JSON text (indent 2, trailing newline); non-finite numbers are null.
        ``baseline`` appears only in the document of a run compared with one, ``corruption``
        only in that of a suite with common corruptions."""
        unset = {"baseline"} if self.baseline is None else set()
        unset |= set() if self.corruption else {"corruption"}
        document = _json_safe(self.model_dump(mode="json", exclude=unset))
        return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def write(self, path: str | Path) -> Path:
        """Writes the document atomically: an existing file is replaced only on success."""
        return write_text_atomic(path, self.to_json())

    @classmethod
    def read(cls, path: str | Path) -> ResultsDocument:
        """Reads and validates a results file.

        Raises:
            ConfigError: naming the file, when it is missing, not JSON, not a wmbench results
                file of a version this wmbench reads, or has no well-formed ``results`` list.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("no such results file", path) from None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"cannot read results file: {error}", path) from None
        except json.JSONDecodeError as error:
            raise ConfigError(f"not JSON ({error.msg} at line {error.lineno})", path) from None
        return cls.parse(data, path)

    @classmethod
    def parse(cls, data: Any, source: str | Path) -> ResultsDocument:
        """Validates a decoded results document (see :meth:`read`)."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConfigError(f'not a wmbench results file (no "format": {FORMAT!r})', source)
        if data.get("version") != VERSION:
            raise ConfigError(
                f"results format version {data.get('version')!r} is not supported "
                f"(this wmbench reads version {VERSION})",
                source,
            )
        if not isinstance(data.get("results"), list):
            raise ConfigError('missing "results" list', source)
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            location = error.errors()[0]["loc"]
            if len(location) > 1 and location[0] == "results" and isinstance(location[1], int):
                raise ConfigError(
                    f"results[{location[1]}]: expected model, perturbation, params and error",
                    source,
                ) from None
            raise ConfigError(validation_message(error), source) from None


def _json_safe(value: Any) -> Any:
    """Non-finite floats become ``null``: JSON has no NaN or infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value
