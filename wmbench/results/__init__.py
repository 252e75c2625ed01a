"""Results: what a suite run measured (:mod:`.measured`) and the results file (:mod:`.document`),
which writes, reads and validates itself. Below suites, gates and reporting; above the schema."""

from wmbench.results.document import (
    FORMAT,
    VERSION,
    CellRow,
    CheckpointEntry,
    ResultsDocument,
    SuiteRecord,
)
from wmbench.results.measured import (
    Cell,
    CellKey,
    CheckpointRecord,
    ModelOutcome,
    Results,
    SanityWarning,
    Verdict,
    cell_key,
    describe_point,
)

__all__ = [
    "FORMAT",
    "VERSION",
    "Cell",
    "CellKey",
    "CellRow",
    "CheckpointEntry",
    "CheckpointRecord",
    "ModelOutcome",
    "Results",
    "ResultsDocument",
    "SanityWarning",
    "SuiteRecord",
    "Verdict",
    "cell_key",
    "describe_point",
]
