"""Layer Sustainability Analysis (Khalooei et al., "Layer-wise Regularized Adversarial Training
using Layers Sustainability Analysis", arXiv:2202.02626; reference code github.com/khalooei/LSA):
how much each layer's representation moves when the input is perturbed, and which layers move
most.

``taps`` finds the monitored layers (Conv2d, WM, Linear, each read after its nonlinearity) and
reads them all in one forward pass; ``relative`` computes the comparison measure (per image and
in LSA's batch form), its differentiable form for AT-LR training and the most vulnerable layers;
``analysis`` runs a perturbation over a data set; ``document`` is the ``wmbench layers`` JSON.
"""

from wmbench.lsa.analysis import LayerAnalysis, analyse_layers
from wmbench.lsa.document import LayerRow, LayersDocument
from wmbench.lsa.relative import (
    DEFAULT_ETA,
    ErrorSums,
    LayerError,
    layer_errors_for_training,
    layer_relative_error,
    layer_spread,
    most_vulnerable_layers,
    relative_errors,
)
from wmbench.lsa.taps import (
    ACTIVATIONS,
    MONITORED,
    NORMALISATIONS,
    LayerTap,
    TapPoint,
    monitored_layers,
    plan_taps,
)

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_ETA",
    "MONITORED",
    "NORMALISATIONS",
    "ErrorSums",
    "LayerAnalysis",
    "LayerError",
    "LayerRow",
    "LayerTap",
    "LayersDocument",
    "TapPoint",
    "analyse_layers",
    "layer_errors_for_training",
    "layer_relative_error",
    "layer_spread",
    "monitored_layers",
    "most_vulnerable_layers",
    "plan_taps",
    "relative_errors",
]
