"""The package's structure (docs/architecture.md): imports point one way, private names stay in
their package, files stay small. Read from the source with ``ast``, nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "wmbench"
MAX_LINES = 300
# Layers from the bottom: a module may import from its own layer or any lower one, never higher.
LAYERS = [
    {"errors", "_io", "_yaml", "stats", "runtime", "schema", "layers", "distributed"},
    {"models", "data"},
    {"checkpoint", "metrics", "perturbations", "gradcam", "results", "lsa", "anva"},
    {"sanity", "gates", "paper", "reporting"},
    {"suites", "train", "resume"},
    {"reproduce", "training", "evaluate"},
    {"cli", "__init__", "__main__"},
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> list[tuple[str, str]]:
    """(module, imported name) for every ``from wmbench... import`` and ``import wmbench...``."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found += [(target, alias.name) for alias in node.names if target.startswith("wmbench")]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names if alias.name.startswith("wmbench")]
    return found


def dependencies(name: str) -> set[str]:
    deps = set()
    for target, imported in imports_of(name):
        full = f"{target}.{imported}"
        deps.add(full if full in MODULES else target)
    return {dep for dep in deps if dep in MODULES and dep != name}


def top(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer_of(name: str) -> int:
    group = top(name)
    for index, members in enumerate(LAYERS):
        if group in members:
            return index
    raise AssertionError(f"{name}: not placed in a layer of tests/test_structure.py")


def test_every_module_has_a_layer():
    for name in MODULES:
        layer_of(name)


def test_no_import_cycles():
    graph = {name: dependencies(name) for name in MODULES}
    state: dict[str, int] = {}  # 1: on the path, 2: done
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(" -> ".join([*path[path.index(dep) :], dep]))
            elif state.get(dep) is None:
                visit(dep, [*path, dep])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_imports_point_down():
    upward = [
        f"{name} imports {dep}"
        for name in MODULES
        for dep in dependencies(name)
        if top(dep) != top(name) and layer_of(dep) > layer_of(name)
    ]
    assert upward == []


def test_no_private_names_across_packages():
    found = []
    for name in MODULES:
        for target, imported in imports_of(name):
            owner = target.rsplit(".", 1)[0]  # the package that holds the imported module
            inside = name == owner or name.startswith(owner + ".")
            dunder = imported.startswith("__") and imported.endswith("__")
            private = (imported.startswith("_") and not dunder) or target.rpartition(".")[
                2
            ].startswith("_")
            if private and not inside:
                found.append(f"{name} imports {target}.{imported}")
    assert found == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_files_are_small(name):
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{MODULES[name]} has {lines} lines"


def test_the_checks_can_fail(tmp_path):
    """The cycle and private-name detectors find what they look for in a made-up example."""
    global MODULES
    saved = MODULES
    try:
        (tmp_path / "a.py").write_text("from wmbench.b import thing\n")
        (tmp_path / "b.py").write_text("from wmbench.a import _hidden\n")
        MODULES = {"wmbench.a": tmp_path / "a.py", "wmbench.b": tmp_path / "b.py"}
        assert dependencies("wmbench.a") == {"wmbench.b"}
        assert dependencies("wmbench.b") == {"wmbench.a"}
        with pytest.raises(AssertionError):
            test_no_import_cycles()
    finally:
        MODULES = saved
