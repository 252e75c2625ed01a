"""Defence layers usable in any PyTorch model.

The weight map (WM) layers of Amer & Maul, "Weight Map Layer for Noise and Adversarial Attack
Robustness" (arXiv:1905.00568), and their common base class; Element-Wise Activation Scaling
(EWAS, Liu & Zhang) with the auxiliary-loss protocol training uses (``supervised``,
``auxiliary_loss``) and the mask switch of adaptive attacks (``ewas_mask``).
"""

from wmbench.layers.ewas import (
    ElementWiseActivationScaling,
    auxiliary_loss,
    ewas_mask,
    supervised,
)
from wmbench.layers.weight_map import SmoothingWeightMap2d, UnsharpWeightMap2d, WeightMap2d

__all__ = [
    "ElementWiseActivationScaling",
    "SmoothingWeightMap2d",
    "UnsharpWeightMap2d",
    "WeightMap2d",
    "auxiliary_loss",
    "ewas_mask",
    "supervised",
]
