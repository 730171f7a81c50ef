"""A safe YAML reader for instance files.

Built on PyYAML's ``SafeLoader`` (no tag can construct a Python object) with:

- duplicate mapping keys rejected (a repeated key silently drops data in plain YAML);
- YAML 1.2 floats (``2.0e12``, ``5e12`` are numbers, not strings as in YAML 1.1);
- binary content, oversized files and alias bombs refused before they cost time or memory.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from optimizer.errors import InstanceError

MAX_FILE_BYTES = 16 * 1024 * 1024
"""Largest instance, override or table file read by default, in bytes (16 MB: the national
instance with a thousand sites is under 1 MB; big tables belong in CSV files). Overridable
with ``--max-input-mb`` / ``max_bytes``."""

MAX_KEY_LENGTH = 256
"""Longest mapping key accepted, in characters (keys are labels and field names)."""

MAX_LINE_LENGTH = 100_000
"""Longest line accepted, in characters (checked before parsing, so that a giant scalar is
refused at once)."""

MAX_EXPANDED_NODES = 2_000_000
"""Largest number of YAML nodes after expanding aliases (stops 'billion laughs')."""

_FLOAT_12 = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML has it (about ten times faster on big files), else PyYAML's."""


class _InstanceLoader(_BASE_LOADER):
    """SafeLoader with YAML 1.2 floats and duplicate-key detection."""


# Replace the YAML 1.1 float resolver by a YAML 1.2 one.
_InstanceLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:float"]
    for first, resolvers in _BASE_LOADER.yaml_implicit_resolvers.items()
}
_InstanceLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, str) and len(key) > MAX_KEY_LENGTH:
            raise _LongKey(len(key), key_node.start_mark)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a scalar", key_node.start_mark) from None
        if key in mapping:
            raise _DuplicateKey(key, key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


class _LongKey(yaml.YAMLError):
    def __init__(self, length: int, mark: yaml.Mark) -> None:
        self.length = length
        self.mark = mark
        super().__init__(f"a key of {length:,} characters")


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, mark: yaml.Mark) -> None:
        self.key = key
        self.mark = mark
        super().__init__(f"duplicate key {key!r}")


_InstanceLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Number of nodes ``node`` stands for once every alias is expanded."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # guards against recursive structures
    if isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    else:
        size = 1
    memo[key] = size
    return size


def _line(mark: yaml.Mark | None) -> str:
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""


def parse_yaml_text(text: str, source: str | Path) -> Any:
    """Parse YAML ``text`` safely; errors name ``source``.

    Raises:
        InstanceError: not YAML, a duplicate key, an unsafe tag or an alias bomb.
    """
    loader = _InstanceLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            raise InstanceError(source, "", f"YAML aliases expand to more than "
                                f"{MAX_EXPANDED_NODES:,} nodes; refusing (alias bomb?)")
        return loader.construct_document(node)
    except _LongKey as exc:
        raise InstanceError(source, "", f"a key of {exc.length:,} characters{_line(exc.mark)}; "
                            f"keys are labels of at most {MAX_KEY_LENGTH} characters") from None
    except _DuplicateKey as exc:
        raise InstanceError(source, str(exc.key), f"duplicate key {exc.key!r}{_line(exc.mark)}; "
                            "each key may appear once per mapping") from None
    except yaml.constructor.ConstructorError as exc:
        raise InstanceError(source, "", f"unsupported YAML construct: {exc.problem}"
                            f"{_line(exc.problem_mark)}; only plain mappings, lists and "
                            "scalars are allowed") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise InstanceError(source, "", f"not valid YAML: {problem}{_line(mark)}") from None
    except RecursionError:
        raise InstanceError(source, "", "YAML nesting is too deep") from None
    finally:
        loader.dispose()


def read_yaml_file(path: str | Path, max_bytes: int | None = None) -> Any:
    """Read and parse a YAML file with the checks of :func:`parse_yaml_text`.

    Args:
        max_bytes: largest file read (default ``MAX_FILE_BYTES``).

    Raises:
        InstanceError: unreadable, too large, binary, not UTF-8 or not safe YAML.
    """
    path = Path(path)
    limit = MAX_FILE_BYTES if max_bytes is None else max_bytes
    try:
        size = path.stat().st_size
        if size > limit:
            raise InstanceError(path, "", f"file is {size:,} bytes; the limit is {limit:,} "
                                "(raise it with --max-input-mb)")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InstanceError(path, "", "file not found") from None
    except IsADirectoryError:
        raise InstanceError(path, "", "is a directory, expected a YAML file") from None
    except OSError as exc:
        raise InstanceError(path, "", f"cannot read: {exc.strerror}") from None
    if b"\x00" in raw:
        raise InstanceError(path, "", "binary data (NUL bytes); expected a UTF-8 YAML text file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InstanceError(path, "", f"not UTF-8 text (bad byte at offset {exc.start}); "
                            "expected a UTF-8 YAML text file") from None
    longest = max((len(line) for line in text.splitlines()), default=0)
    if longest > MAX_LINE_LENGTH:
        raise InstanceError(path, "", f"a line of {longest:,} characters; instance files have "
                            f"lines under {MAX_LINE_LENGTH:,} characters")
    return parse_yaml_text(text, path)
