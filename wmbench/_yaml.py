"""YAML reading for every file a user gives: safe, duplicate keys refused, errors name the line."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from wmbench.errors import ConfigError


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in a mapping is an error (PyYAML
    silently keeps the last one, which would drop a model or a perturbation without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (list, dict)):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path) -> Any:
    """Reads one YAML document; every problem is a :class:`ConfigError` naming ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("no such file", path) from None
    except IsADirectoryError:
        raise ConfigError("is a folder, not a YAML file", path) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read: {error}", path) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or "syntax error"
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(f"{where}not valid YAML ({problem})", path) from None
    except RecursionError:
        raise ConfigError("not valid YAML (nested too deeply)", path) from None


def validation_message(error: ValidationError, tags: Collection[str] = ()) -> str:
    """The first problem of a pydantic error as ``key.path[2].name: what is wrong (got X)``.

    ``tags`` are discriminator values (such as perturbation kinds) that pydantic puts in the key
    path after a list index; they are left out, since the user never wrote them as keys.
    """
    first = error.errors(include_url=False)[0]
    where = ""
    location = first["loc"]
    for index, part in enumerate(location):
        if isinstance(part, int):
            where += f"[{part}]"
        elif index > 0 and isinstance(location[index - 1], int) and part in tags:
            continue
        else:
            where += f".{part}" if where else str(part)
    message = first["msg"]
    value = first.get("input")
    if first["type"] not in ("missing", "extra_forbidden") and isinstance(
        value, (int, float, str, bool)
    ):
        message += f" (got {value!r})"
    return f"{where or '(top level)'}: {message}"
