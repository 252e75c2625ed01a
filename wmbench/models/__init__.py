"""Model families and the zoo registry; importing this registers every family."""

from wmbench.models import (
    cnn,  # noqa: F401  (registers the family)
    densenet,  # noqa: F401  (registers the family)
    resnet,  # noqa: F401  (registers the family)
)
from wmbench.models._registry import (
    ModelSpec,
    build_model,
    check_input_shape,
    create_model,
    get_spec,
    list_families,
    list_models,
    load_spec,
    parse_spec,
    register_family,
    zoo_dir,
)

__all__ = [
    "ModelSpec",
    "build_model",
    "check_input_shape",
    "create_model",
    "get_spec",
    "list_families",
    "list_models",
    "load_spec",
    "parse_spec",
    "register_family",
    "zoo_dir",
]
