"""YAML reading for every file a user gives: safe, duplicate keys refused, errors name the line."""

from __future__ import annotations

import re
from collections.abc import Collection, Hashable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.constructor import ConstructorError

from wmbench.errors import ConfigError

_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.\-]+")


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in a mapping is an error (PyYAML
    silently keeps the last one, which would drop a model or a perturbation without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):  # `!!set x`: PyYAML says what is wrong
            return super().construct_mapping(node, deep=deep)
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:  # `<<: *anchor`; explicit keys may override merged ones
                continue
            key = self.construct_object(key_node, deep=deep)
            mark = key_node.start_mark
            if not isinstance(key, Hashable):  # a list, a mapping or a set
                raise ConstructorError(None, None, "a mapping key must be a plain value", mark)
            if key in seen:
                raise ConstructorError(None, None, f"key {key!r} is given twice", mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _refusing_bad_values(tag: str) -> Any:
    """PyYAML's constructor of ``tag``, raising a YAML error (not ValueError, IndexError, ...) for
    a value its type cannot hold: ``!!float ten``, ``!!int``, ``!!timestamp 2001-13-45``."""
    construct = yaml.SafeLoader.yaml_constructors[tag]

    def checked(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, TypeError, IndexError, AttributeError, OverflowError):
            kind = tag.rsplit(":", 1)[-1]
            value = node.value if len(node.value) <= 40 else f"{node.value[:40]}..."
            raise ConstructorError(
                None, None, f"{value!r} is not a valid {kind}", node.start_mark
            ) from None

    return checked


for _kind in ("bool", "int", "float", "binary", "timestamp"):
    _tag = f"tag:yaml.org,2002:{_kind}"
    _UniqueKeyLoader.add_constructor(_tag, _refusing_bad_values(_tag))


def read_yaml(path: str | Path) -> Any:
    """Reads one YAML document; every problem is a :class:`ConfigError` naming ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("no such file", path) from None
    except IsADirectoryError:
        raise ConfigError("is a folder, not a YAML file", path) from None
    except UnicodeDecodeError as error:
        byte = error.object[error.start : error.start + 1].hex()
        raise ConfigError(
            f"not UTF-8 text (byte 0x{byte} at offset {error.start}); is it a YAML file?", path
        ) from None
    except OSError as error:
        raise ConfigError(f"cannot read: {one_line(str(error))}", path) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or getattr(error, "reason", None)
        if isinstance(error, yaml.reader.ReaderError) and isinstance(error.character, int):
            problem = f"character #x{error.character:04x}: {error.reason}"
        where = f"line {mark.line + 1}: " if mark is not None else ""
        message = f"{where}not valid YAML ({problem or 'syntax error'})"
        raise ConfigError(one_line(message), path) from None
    except RecursionError:
        raise ConfigError("not valid YAML (nested too deeply)", path) from None


def one_line(text: str) -> str:
    """``text`` with its line breaks (any that ``str.splitlines`` knows) made spaces."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def key_name(key: object) -> str:
    """A key as it goes into a message's key path: plain names as they are, others quoted."""
    if isinstance(key, str) and _PLAIN_KEY.fullmatch(key):
        return key
    return repr(key)


def validation_message(error: ValidationError, tags: Collection[str] = ()) -> str:
    """The first problem of a pydantic error as ``key.path[2].name: what is wrong (got X)``.

    ``tags`` are discriminator values (such as perturbation kinds) that pydantic puts in the key
    path after a list index; they are left out, since the user never wrote them as keys.
    """
    first = error.errors(include_url=False)[0]
    where = ""
    location = first["loc"]
    for index, part in enumerate(location):
        if part == "[key]":  # pydantic's marker: the mapping key just before is what is wrong
            continue
        if index + 1 < len(location) and location[index + 1] == "[key]":
            where += f" (key {part!r})"
        elif isinstance(part, int):
            where += f"[{part}]"
        elif index > 0 and isinstance(location[index - 1], int) and part in tags:
            continue
        elif isinstance(part, str) and part.startswith("<") and part.endswith(">"):
            continue  # a schema's own union tag, not a key
        else:
            where += f".{key_name(part)}" if where else key_name(part)
    message = first["msg"].removeprefix("Value error, ")  # pydantic's prefix for a validator's
    value = first.get("input")
    if first["type"] not in ("missing", "extra_forbidden") and isinstance(
        value, (int, float, str, bool)
    ):
        message += f" (got {value!r})"
    return one_line(f"{where or '(top level)'}: {message}")
