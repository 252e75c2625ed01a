"""Defence layers usable in any PyTorch model.

For now the weight map (WM) layers of Amer & Maul, "Weight Map Layer for Noise and
Adversarial Attack Robustness" (arXiv:1905.00568), and their common base class.
"""

from wmbench.layers.weight_map import SmoothingWeightMap2d, UnsharpWeightMap2d, WeightMap2d

__all__ = ["SmoothingWeightMap2d", "UnsharpWeightMap2d", "WeightMap2d"]
