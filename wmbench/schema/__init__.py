"""The schemas of the files users write: suites, their perturbation entries and their gates.

A leaf of the package: it imports pydantic and nothing else of wmbench, so every other part
(perturbations, results, suites, gates, reporting) can use the one vocabulary it defines.
"""

from wmbench.schema.corruption import CORRUPTIONS, Corruption
from wmbench.schema.entry import PerturbationEntry
from wmbench.schema.gates import (
    GATE_KINDS,
    CorruptionGate,
    Gate,
    MaxErrorGate,
    NoWarningsGate,
    RelativeGate,
)
from wmbench.schema.models import (
    FactoryModelEntry,
    ImageInput,
    ModelEntry,
    Normalization,
)
from wmbench.schema.perturbations import (
    AUTOATTACK_ATTACKS,
    ENTRY_TYPES,
    PERTURBATION_KINDS,
    Apgd,
    AttackLoss,
    AutoAttack,
    Clean,
    Cw,
    DefenceAware,
    Fgsm,
    Perturbation,
    Pgd,
    TorchattacksEntry,
    Transfer,
    Uniform,
    WorstOf,
)
from wmbench.schema.suite import DatasetSpec, Suite
from wmbench.schema.types import Scalar

__all__ = [
    "AUTOATTACK_ATTACKS",
    "ENTRY_TYPES",
    "GATE_KINDS",
    "PERTURBATION_KINDS",
    "Apgd",
    "AttackLoss",
    "DefenceAware",
    "AutoAttack",
    "CORRUPTIONS",
    "Clean",
    "Corruption",
    "CorruptionGate",
    "Cw",
    "DatasetSpec",
    "FactoryModelEntry",
    "Fgsm",
    "Gate",
    "ImageInput",
    "MaxErrorGate",
    "ModelEntry",
    "NoWarningsGate",
    "Normalization",
    "Perturbation",
    "PerturbationEntry",
    "Pgd",
    "RelativeGate",
    "Scalar",
    "Suite",
    "TorchattacksEntry",
    "Uniform",
    "Transfer",
    "WorstOf",
]
