"""Results: what a suite run measured (:mod:`.measured`) and the results file (:mod:`.document`),
which writes, reads and validates itself. Below suites, gates and reporting; above the schema."""

from wmbench.results.corruption import (
    CorruptionSummary,
    corruption_summaries,
    suite_summaries,
)
from wmbench.results.document import (
    FORMAT,
    VERSION,
    BaselineRecord,
    CellRow,
    CheckpointEntry,
    ResultsDocument,
    SuiteRecord,
)
from wmbench.results.measured import (
    Cell,
    CellKey,
    CheckpointChange,
    CheckpointRecord,
    ModelOutcome,
    Results,
    SanityWarning,
    Verdict,
    cell_key,
    describe_adversarial,
    describe_point,
)

__all__ = [
    "FORMAT",
    "VERSION",
    "BaselineRecord",
    "Cell",
    "CellKey",
    "CellRow",
    "CheckpointChange",
    "CheckpointEntry",
    "CheckpointRecord",
    "CorruptionSummary",
    "ModelOutcome",
    "Results",
    "ResultsDocument",
    "SanityWarning",
    "SuiteRecord",
    "Verdict",
    "cell_key",
    "corruption_summaries",
    "describe_adversarial",
    "describe_point",
    "suite_summaries",
]
