"""What-if overrides: dotted paths into the raw instance, and override files merged over it."""
from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any, Mapping

from optimizer.errors import InstanceError
from optimizer.instance.safe_yaml import parse_yaml_text, read_yaml_file

OVERRIDE_SOURCE = "<override>"
"""The ``path`` of an :class:`InstanceError` raised by a bad ``--set``."""

DEMAND_SCALE = "demand_scale"
"""The override key that scales every demand figure (applied after CSV tables are read)."""


def parse_assignment(text: str) -> tuple[str, Any]:
    """Split ``PATH=VALUE`` and parse VALUE as a YAML scalar (or flow mapping/list).

    Raises:
        InstanceError: no ``=`` or an empty path.
    """
    path, sep, raw_value = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise InstanceError(OVERRIDE_SOURCE, text, "expected PATH=VALUE, e.g. sites.s1.grid_mw=80")
    return path, parse_yaml_text(raw_value, f"{OVERRIDE_SOURCE} {path}")


def _match_key(mapping: dict, part: str) -> Any:
    """The key of ``mapping`` spelled ``part`` (keys read from YAML may be ints, e.g. 2026)."""
    for key in mapping:
        if str(key) == part:
            return key
    return part


def _locate(data: dict, dotted: str) -> tuple[Any, Any]:
    """The container and key ``dotted`` ("a.b.c") names in ``data``: (data[a][b], c).

    Mapping keys that themselves contain dots are matched greedily (longest key first). A
    missing last key is allowed (optional fields need not be in the file); a missing
    intermediate key is an error naming the nearest valid keys.

    Raises:
        InstanceError: the path does not lead into the instance.
    """
    parts = dotted.split(".")
    node: Any = data
    walked: list[str] = []
    i = 0
    while i < len(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not parts[i].isdigit() or int(parts[i]) >= len(node):
                raise InstanceError(OVERRIDE_SOURCE, dotted, f"{'.'.join(walked) or 'the instance'} is a "
                                    f"list of {len(node)} entries; {parts[i]!r} is not an index into it")
            if last:
                return node, int(parts[i])
            node = node[int(parts[i])]
            walked.append(parts[i])
            i += 1
            continue
        if not isinstance(node, dict):
            raise InstanceError(OVERRIDE_SOURCE, dotted, f"{'.'.join(walked)} is a single value; "
                                "it has no fields below it")
        # longest run of parts that names an existing key (keys may contain dots)
        for j in range(len(parts), i, -1):
            candidate = ".".join(parts[i:j])
            key = _match_key(node, candidate)
            if key in node:
                break
        else:
            j, key = i + 1, parts[i]
        if j == len(parts):
            return node, key
        if key not in node:
            nearest = difflib.get_close_matches(parts[i], [str(k) for k in node], n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(nearest)}?" if nearest else \
                f"; valid keys here: {', '.join(sorted(map(str, node)))}"
            raise InstanceError(OVERRIDE_SOURCE, dotted,
                                f"{'.'.join(walked + [parts[i]])} is not in the instance{hint}")
        node = node[key]
        walked.append(str(key))
        i = j
    raise InstanceError(OVERRIDE_SOURCE, dotted, "an empty path")


def set_path(data: dict, dotted: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``dotted = "a.b.c"``, in place (see
    :func:`_locate` for how the path is read).

    Raises:
        InstanceError: the path does not lead into the instance.
    """
    node, key = _locate(data, dotted)
    node[key] = value


def deep_merge(base: dict, fragment: Mapping) -> dict:
    """``base`` with ``fragment`` merged over it (mappings recursively, anything else replaced)."""
    merged = dict(base)
    for key, value in fragment.items():
        match = _match_key(merged, str(key))
        if isinstance(value, Mapping) and isinstance(merged.get(match), dict):
            merged[match] = deep_merge(merged[match], value)
        else:
            merged[match] = copy.deepcopy(value)
    return merged


def merge_fragment(base: dict, fragment: Mapping) -> dict:
    """``base`` with an override fragment merged over it (instance-format.md, "Overrides"):
    mappings merge key by key at every depth, a scalar or a list replaces what it meets. A key
    that is not in ``base`` but spells a dotted path (``demand.chat``) is merged there.

    Raises:
        InstanceError: a dotted key that does not lead into the instance.
    """
    merged = copy.deepcopy(base)
    for key, value in fragment.items():
        text = str(key)
        if "." in text and _match_key(merged, text) not in merged:
            node, last = _locate(merged, text)
            here = node[last] if isinstance(node, list) or last in node else None
            if isinstance(value, Mapping) and isinstance(here, dict):
                node[last] = deep_merge(here, value)
            else:
                node[last] = copy.deepcopy(value)
        else:
            merged = deep_merge(merged, {key: value})
    return merged


def apply_overrides(raw: dict, overrides: Mapping[str, Any] | None) -> tuple[dict, float]:
    """Apply dotted-path ``overrides`` to a copy of ``raw``.

    Returns:
        The overridden data and the demand scale (1.0 unless ``demand_scale`` is given).
    """
    data = copy.deepcopy(raw)
    scale = 1.0
    for path, value in (overrides or {}).items():
        if path == DEMAND_SCALE:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 \
                    or value == float("inf"):
                raise InstanceError(OVERRIDE_SOURCE, DEMAND_SCALE,
                                    f"found {value!r}; expected a finite number >= 0")
            scale *= float(value)
            continue
        set_path(data, path, value)
    return data, scale


def read_override_file(path: str | Path, max_bytes: int | None = None) -> dict:
    """Read a YAML override fragment (a mapping merged over the base instance)."""
    fragment = read_yaml_file(path, max_bytes)
    if not isinstance(fragment, dict):
        raise InstanceError(path, "", f"an override file must be a YAML mapping, found "
                            f"{type(fragment).__name__}")
    return fragment
