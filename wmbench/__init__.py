"""wmbench: noise and adversarial robustness benchmark built around the weight map (WM) layer.

Amer & Maul, "Weight Map Layer for Noise and Adversarial Attack Robustness" (arXiv:1905.00568).
"""

__version__ = "0.1.0"

from wmbench.checkpoint import load_checkpoint, load_model, save_checkpoint  # noqa: E402
from wmbench.evaluate import evaluate  # noqa: E402
from wmbench.layers import SmoothingWeightMap2d, UnsharpWeightMap2d  # noqa: E402
from wmbench.models import create_model, get_spec, list_models  # noqa: E402
from wmbench.suites import load_suite, run_suite  # noqa: E402

__all__ = [
    "SmoothingWeightMap2d",
    "UnsharpWeightMap2d",
    "__version__",
    "create_model",
    "evaluate",
    "get_spec",
    "list_models",
    "load_checkpoint",
    "load_model",
    "load_suite",
    "run_suite",
    "save_checkpoint",
]
