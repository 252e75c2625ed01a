"""Model families, the zoo registry and the model contract; importing this registers every
family."""

from wmbench.models import (
    cnn,  # noqa: F401  (registers the family)
    densenet,  # noqa: F401  (registers the family)
    resnet,  # noqa: F401  (registers the family)
)
from wmbench.models._registry import (
    build_model,
    create_model,
    get_spec,
    list_families,
    list_models,
    load_spec,
    parse_spec,
    register_family,
    state_shapes,
    zoo_dir,
)
from wmbench.models.base import BenchmarkModel, ZooModel, check_model, feature_module
from wmbench.models.spec import ModelSpec, check_input_shape

__all__ = [
    "BenchmarkModel",
    "ModelSpec",
    "ZooModel",
    "build_model",
    "check_input_shape",
    "check_model",
    "create_model",
    "feature_module",
    "get_spec",
    "list_families",
    "list_models",
    "load_spec",
    "parse_spec",
    "register_family",
    "state_shapes",
    "zoo_dir",
]
