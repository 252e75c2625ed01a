"""Model families, the zoo registry and the model contract; importing this registers every
family."""

from wmbench.models import (
    cnn,  # noqa: F401  (registers the family)
    densenet,  # noqa: F401  (registers the family)
    exported,  # noqa: F401  (registers the family of exported factory models)
    lsa,  # noqa: F401  (registers the family)
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
from wmbench.models.exported import exported_spec
from wmbench.models.factory import FactoryRecord, load_factory_model
from wmbench.models.foreign import ForeignModel, as_benchmark_model, default_feature_layer
from wmbench.models.spec import InputSpec, ModelSpec, check_input_shape

__all__ = [
    "exported_spec",
    "InputSpec",
    "as_benchmark_model",
    "BenchmarkModel",
    "FactoryRecord",
    "ForeignModel",
    "ModelSpec",
    "ZooModel",
    "build_model",
    "check_input_shape",
    "check_model",
    "create_model",
    "default_feature_layer",
    "feature_module",
    "get_spec",
    "list_families",
    "list_models",
    "load_factory_model",
    "load_spec",
    "parse_spec",
    "register_family",
    "state_shapes",
    "zoo_dir",
]
