"""The layers file: one JSON document per ``wmbench layers`` run, versioned like the results file
(adding a key keeps :data:`VERSION`; renaming or removing one, or changing a meaning, changes it).

:class:`LayersDocument` is the one owner of the format: built from a :class:`LayerAnalysis`,
it writes itself (non-finite numbers as ``null``) and reads itself back.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wmbench._io import write_text_atomic
from wmbench._yaml import validation_message
from wmbench.errors import ConfigError
from wmbench.lsa.analysis import LayerAnalysis

FORMAT = "wmbench.layers"
VERSION = 1
INTERVAL = "mean ± 1.96·sd/√n, normal approximation"


class LayerRow(BaseModel):
    """One monitored layer: its CMs and whether it is among the most vulnerable."""

    model_config = ConfigDict(extra="allow")
    layer: str
    reads: str
    cm: float | None
    cm_image_mean: float | None
    cm_image_std: float | None = None
    cm_image_ci95: list[float | None] | None = None
    images: int = 0
    undefined: int = 0
    mvl: bool = False


class LayersDocument(BaseModel):
    """The whole layers file."""

    model_config = ConfigDict(extra="ignore")
    format: str = FORMAT
    version: int = VERSION
    checkpoint: dict[str, Any] = Field(default_factory=dict)
    dataset: dict[str, Any] = Field(default_factory=dict)
    perturbation: dict[str, Any] = Field(default_factory=dict)
    n: int
    batch_size: int | None = None
    seed: int | None = None
    device: str = ""
    error_clean: float | None = None
    error_perturbed: float | None = None
    eta: float
    cm_mean: float | None = None
    cm_std: float | None = None
    interval: str = INTERVAL
    mvl: list[str]
    layers: list[LayerRow]

    @classmethod
    def of_analysis(cls, analysis: LayerAnalysis, **context: Any) -> LayersDocument:
        """The document of one analysis; ``context``: ``checkpoint``, ``dataset``,
        ``perturbation``, ``batch_size``, ``seed``, ``device``."""
        n = analysis.n
        rows = [
            LayerRow(
                layer=layer,
                reads=error.reads,
                cm=error.cm,
                cm_image_mean=error.image_mean,
                cm_image_std=error.image_std,
                cm_image_ci95=list(error.image_ci95),
                images=error.images,
                undefined=error.undefined,
                mvl=layer in analysis.mvl,
            )
            for layer, error in analysis.errors.items()
        ]
        return cls(
            n=n,
            error_clean=analysis.wrong_clean / n if n else None,
            error_perturbed=analysis.wrong_perturbed / n if n else None,
            eta=analysis.eta,
            cm_mean=analysis.mean,
            cm_std=analysis.sigma,
            mvl=list(analysis.mvl),
            layers=rows,
            **context,
        )

    def to_json(self) -> str:
        """The document as JSON text (indent 2, trailing newline); non-finite numbers are null."""
        document = _json_safe(self.model_dump(mode="json"))
        return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def write(self, path: str | Path) -> Path:
        return write_text_atomic(path, self.to_json())

    @classmethod
    def read(cls, path: str | Path) -> LayersDocument:
        """Reads and validates a layers file.

        Raises:
            ConfigError: naming the file, when it is missing, not JSON or not a layers file of
                this version.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("no such layers file", path) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ConfigError(f"cannot read layers file: {error}", path) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConfigError(f'not a wmbench layers file (no "format": {FORMAT!r})', path)
        if data.get("version") != VERSION:
            raise ConfigError(
                f"layers format version {data.get('version')!r} is not supported", path
            )
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise ConfigError(validation_message(error), path) from None


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value
