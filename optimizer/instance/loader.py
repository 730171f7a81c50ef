"""Load an instance: safe YAML -> CSV tables -> overrides -> schema -> semantic checks."""
from __future__ import annotations

import copy
import csv
import difflib
import hashlib
import json
import math
import typing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from pydantic import BaseModel, ValidationError

from optimizer.instance.checks import check_instance
from optimizer.errors import InstanceError
from optimizer.instance.overrides import (
    DEMAND_SCALE, OVERRIDE_SOURCE, apply_overrides, deep_merge, read_override_file,
)
from optimizer.instance.safe_yaml import MAX_FILE_BYTES, read_yaml_file
from optimizer.instance.schema import RESERVED_SCENARIO_KEYS, InstanceSpec


@dataclass(frozen=True)
class Instance:
    """A validated instance, ready to become problem data.

    Attributes:
        spec: the validated, immutable instance.
        path: the YAML file it was read from.
        input_sha256: SHA-256 of the YAML file, its CSV tables and the overrides applied.
        demand_scale: the factor applied to every demand figure (``demand_scale`` override).
        overrides: the overrides applied (dotted path -> value), for the record.
        override_files: the override fragments merged over the file, in order.
        raw: the instance as read, its CSV tables read in (no file is needed to validate it
            again, e.g. for a scenario or a sweep variant on another machine).
    """

    spec: InstanceSpec
    path: Path
    input_sha256: str
    demand_scale: float = 1.0
    overrides: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    override_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class RawInstance:
    """An instance file as read, before validation.

    Attributes:
        raw: the mapping, override fragments merged in, CSV tables read in.
        digest: SHA-256 of the bytes read (file, fragments, tables).
        sources: workload -> the CSV file its demand came from (to name it in errors).
        fragments: override file -> its mapping (to name it in errors about its fields).
    """

    raw: dict
    digest: str
    sources: dict[str, Path]
    fragments: dict[str, dict]


def read_raw_instance(path: str | Path, override_files: Iterable[str | Path] = (),
                      data_dir: str | Path | None = None, max_bytes: int | None = None
                      ) -> RawInstance:
    """Read an instance file, override fragments merged over it and the CSV tables it names,
    without validating it.

    Args:
        data_dir: another folder CSV tables may be read from (besides the instance's own).
        max_bytes: largest file read (default ``MAX_FILE_BYTES``).

    Raises:
        InstanceError: unreadable, oversized or unsafe YAML, not a mapping, or a table that
            cannot be read or lies outside the folders allowed.
    """
    path = Path(path)
    raw = read_yaml_file(path, max_bytes)
    if not isinstance(raw, dict):
        raise InstanceError(path, "", f"expected a YAML mapping at the top level, found "
                            f"{type(raw).__name__ if raw is not None else 'an empty file'}")
    digest = hashlib.sha256(path.read_bytes())
    fragments = {}
    for fragment_path in override_files:
        fragment = read_override_file(fragment_path, max_bytes)
        digest.update(Path(fragment_path).read_bytes())
        fragments[str(fragment_path)] = fragment
        raw = deep_merge(raw, fragment)
    folders = [path.parent] + ([Path(data_dir)] if data_dir is not None else [])
    sources = _read_demand_tables(raw, path, digest, folders, max_bytes)
    return RawInstance(raw, digest.hexdigest(), sources, fragments)


def load_instance(path: str | Path, overrides: Mapping[str, Any] | None = None,
                  override_files: Iterable[str | Path] = (), data_dir: str | Path | None = None,
                  max_bytes: int | None = None) -> Instance:
    """Read, override and validate an instance file.

    Args:
        path: the instance YAML file.
        overrides: dotted path -> value (``{"sites.s1.grid_mw": 80, "demand_scale": 1.5}``).
        override_files: YAML fragments merged over the file, in order, before ``overrides``.
        data_dir: another folder the instance's CSV tables may come from (only the instance's
            own folder otherwise).
        max_bytes: largest instance, fragment or table file read (default 16 MB).

    Raises:
        InstanceError: naming the file and the field at fault (the override fragment, or
            ``<override>`` for a ``--set``, when the field came from there).
    """
    files = tuple(map(str, override_files))
    read = read_raw_instance(path, files, data_dir, max_bytes)
    try:
        instance = instance_from_raw(read.raw, path, overrides, read.digest, read.sources)
    except InstanceError as exc:
        for fragment_path, fragment in read.fragments.items():
            if _holds_field(fragment, exc.field):
                raise InstanceError(fragment_path, exc.field, exc.reason) from None
        raise
    return replace(instance, override_files=files)


def _holds_field(mapping: Any, dotted: str) -> bool:
    """Whether ``mapping`` (an override fragment) sets the field ``dotted`` or one above it."""
    node = mapping
    for part in dotted.split(".") if dotted else []:
        if not isinstance(node, dict):
            return True
        key = next((k for k in node if str(k) == part), None)
        if key is None:
            return False
        node = node[key]
    return bool(dotted)


def instance_from_mapping(data: Mapping[str, Any], base_dir: str | Path | None = None,
                          overrides: Mapping[str, Any] | None = None,
                          name: str = "<mapping>") -> Instance:
    """An instance from a mapping (e.g. built from a spreadsheet), validated like a file.

    Args:
        data: the instance as ``load_instance`` would read it from YAML.
        base_dir: where CSV tables it names are read from (default: the working directory).
        overrides: dotted path -> value, as for :func:`load_instance`.
        name: how errors name the source.

    Raises:
        InstanceError: naming ``name`` and the field at fault.
    """
    if not isinstance(data, Mapping):
        raise InstanceError(name, "", f"expected a mapping, found {type(data).__name__}")
    raw = copy.deepcopy(dict(data))
    try:
        text = json.dumps(raw, sort_keys=True, default=str)
    except TypeError:                      # keys of mixed types cannot be sorted
        text = repr(raw)
    digest = hashlib.sha256(text.encode()).hexdigest()
    path = Path(base_dir if base_dir is not None else Path.cwd()) / name
    return instance_from_raw(raw, path, overrides, digest)


def instance_from_raw(raw: dict, path: str | Path, overrides: Mapping[str, Any] | None = None,
                      file_digest: str = "", sources: Mapping[str, Path] | None = None
                      ) -> Instance:
    """Validate an already-read instance (``raw`` is not modified) with ``overrides`` applied.

    Sweeps and scenarios read the file once and call this for every variant.

    Raises:
        InstanceError: a field at fault; one an override set is named as ``<override>``.
    """
    path = Path(path)
    digest = hashlib.sha256(file_digest.encode())
    data, scale = apply_overrides(raw, overrides)
    digest.update(repr(sorted((str(k), repr(v)) for k, v in (overrides or {}).items())).encode())
    demand_sources = dict(sources or {})
    demand_sources.update(_read_demand_tables(data, path, digest, [path.parent]))
    if scale != 1.0:
        data["demand"] = {w: {p: v * scale if _is_number(v) else v for p, v in series.items()}
                          for w, series in data["demand"].items()}
    try:
        spec = validate_spec(data, path)
        check_instance(spec, path, demand_sources)
    except InstanceError as exc:
        overridden = next((key for key in (overrides or {}) if key != DEMAND_SCALE and (
            exc.field == key or exc.field.startswith(key + "."))), None)
        if overridden is not None:
            raise InstanceError(OVERRIDE_SOURCE, exc.field, exc.reason + f" (from --set "
                                f"{overridden}; the instance is {path})") from None
        raise
    return Instance(spec=spec, path=path, input_sha256=digest.hexdigest(), demand_scale=scale,
                    overrides=dict(overrides or {}), raw=raw)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate_spec(data: dict, path: str | Path) -> InstanceSpec:
    """Validate ``data`` against the schema; the first error becomes an :class:`InstanceError`."""
    try:
        return InstanceSpec.model_validate(data)
    except ValidationError as exc:
        raise _translate(exc, data, path) from None


# ---------------------------------------------------------------------------------------------
# CSV tables
# ---------------------------------------------------------------------------------------------

def _read_demand_tables(data: dict, yaml_path: Path, digest: Any, folders: list[Path],
                        max_bytes: int | None = None) -> dict[str, Path]:
    """Replace CSV references in ``data["demand"]`` by mappings, in place, reading only files
    inside ``folders``.

    Returns:
        workload -> the file its demand came from (for error messages).
    """
    demand = data.get("demand")
    sources: dict[str, Path] = {}
    if isinstance(demand, str):
        csv_path = _resolve(yaml_path, demand, "demand", folders)
        table: dict[str, dict[str, float]] = {}
        for line, row in _read_csv(csv_path, ("workload", "period", "tokens_per_day"), digest,
                                   max_bytes):
            series = table.setdefault(row["workload"], {})
            _add_row(series, row, line, csv_path)
            sources[row["workload"]] = csv_path
        data["demand"] = table
    elif isinstance(demand, dict):
        for workload, series in list(demand.items()):
            if isinstance(series, str):
                csv_path = _resolve(yaml_path, series, f"demand.{workload}", folders)
                table_w: dict[str, float] = {}
                for line, row in _read_csv(csv_path, ("period", "tokens_per_day"), digest,
                                           max_bytes):
                    _add_row(table_w, row, line, csv_path)
                demand[workload] = table_w
                sources[str(workload)] = csv_path
    return sources


def _resolve(yaml_path: Path, reference: str, field_path: str, folders: list[Path]) -> Path:
    """The CSV file ``reference`` names, relative to the instance's folder; it must lie inside
    one of ``folders`` once symlinks are followed (no absolute paths, ``..`` or links out)."""
    if not reference.lower().endswith(".csv"):
        raise InstanceError(yaml_path, field_path, f"found {reference!r}; expected a mapping "
                            "period -> tokens_per_day or the name of a .csv file")
    relative = Path(reference)
    candidates = [folder / relative for folder in folders] if not relative.is_absolute() \
        else [relative]
    for csv_path in candidates:
        resolved = csv_path.resolve()
        inside = any(resolved.is_relative_to(folder.resolve()) for folder in folders)
        if not inside:
            raise InstanceError(yaml_path, field_path, f"CSV file {reference!r} lies outside "
                                "the instance's folder; tables are read only from there (or "
                                "from a folder named with --data-dir)")
        if resolved.is_file():
            return resolved
    raise InstanceError(yaml_path, field_path, f"CSV file {reference!r} not found next to "
                        "the instance")


def _read_csv(csv_path: Path, columns: tuple[str, ...], digest: Any,
              max_bytes: int | None = None):
    limit = MAX_FILE_BYTES if max_bytes is None else max_bytes
    if csv_path.stat().st_size > limit:
        raise InstanceError(csv_path, "", f"file is {csv_path.stat().st_size:,} bytes; the "
                            f"limit is {limit:,} (--max-input-mb)")
    raw = csv_path.read_bytes()
    if b"\x00" in raw:
        raise InstanceError(csv_path, "", "binary file; expected a CSV text table")
    digest.update(raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InstanceError(csv_path, "", "not UTF-8 text; expected a CSV table") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    if sorted(header) != sorted(columns):
        raise InstanceError(csv_path, "header", f"found columns {header}; expected exactly "
                            f"{list(columns)}")
    reader.fieldnames = header
    for line, row in enumerate(reader, start=2):
        yield line, {k: (v or "").strip() for k, v in row.items() if k is not None}


def _add_row(series: dict[str, float], row: dict[str, str], line: int, csv_path: Path) -> None:
    period = row["period"]
    try:
        value = float(row["tokens_per_day"])
    except ValueError:
        raise InstanceError(csv_path, f"line {line}.tokens_per_day",
                            f"found {row['tokens_per_day']!r}; expected a number") from None
    if not math.isfinite(value) or value < 0:
        raise InstanceError(csv_path, f"line {line}.tokens_per_day",
                            f"found {value}; expected a finite number >= 0")
    if not period:
        raise InstanceError(csv_path, f"line {line}.period", "empty; expected a period label")
    if period in series:
        raise InstanceError(csv_path, f"line {line}.period", f"period {period!r} is given twice")
    series[period] = value


# ---------------------------------------------------------------------------------------------
# pydantic errors -> InstanceError
# ---------------------------------------------------------------------------------------------

def _clean_location(loc: tuple, data: Any) -> tuple[list[str], tuple]:
    """Drop the union-member tags pydantic puts into ``loc``; keep keys present in ``data``.

    Returns the dotted parts for the message and the cleaned raw location.
    """
    parts: list[str] = []
    kept: list[Any] = []
    node = data
    for item in loc:
        if isinstance(node, dict):
            key = next((k for k in node if str(k) == str(item)), None)
            if key is not None:
                parts.append(str(key))
                kept.append(key)
                node = node[key]
                continue
            if item in ("members",):
                continue
            # an unknown key (extra) or a missing field: keep it as the last part
            if not _looks_like_type_tag(item):
                parts.append(str(item))
                kept.append(item)
                node = None
            continue
        if isinstance(node, list) and isinstance(item, int) and item < len(node):
            parts.append(str(item))
            kept.append(item)
            node = node[item]
            continue
    return parts, tuple(kept)


def _keys_at(data: Any, loc: tuple) -> list[str]:
    """The keys written at ``loc`` in the raw data."""
    node = data
    for item in loc:
        if isinstance(node, dict):
            key = next((k for k in node if str(k) == str(item)), None)
            node = node.get(key) if key is not None else None
        elif isinstance(node, list) and isinstance(item, int) and item < len(node):
            node = node[item]
        else:
            return []
    return [str(k) for k in node] if isinstance(node, dict) else []


def _looks_like_type_tag(item: Any) -> bool:
    text = str(item)
    return any(c in text for c in "[]()") or text in {
        "float", "int", "str", "bool", "VendorShare", "function-before", "function-after",
        "constrained-float", "constrained-int", "literal"} or text[:1].isupper()


def _fields_at(loc: tuple) -> list[str]:
    """The field names the schema allows at the mapping ``loc`` points into."""
    model: Any = InstanceSpec
    for item in loc:
        model = _descend(model, item)
        if model is None:
            return []
    model = _unwrap_model(model)
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _unwrap_model(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in typing.get_args(tp):
        found = _unwrap_model(arg)
        if found is not None:
            return found
    return None


def _descend(tp: Any, item: Any) -> Any:
    model = _unwrap_model(tp)
    if model is not None and not (typing.get_origin(tp) in (dict, list)):
        if model.__name__ == "Scenarios" and item not in RESERVED_SCENARIO_KEYS:
            return model.model_fields["members"].annotation.__args__[1]
        for name, f in model.model_fields.items():
            if item in (name, f.alias):
                return f.annotation
        return None
    origin = typing.get_origin(tp)
    if origin in (dict, list):
        return typing.get_args(tp)[-1]
    for arg in typing.get_args(tp):
        if typing.get_origin(arg) in (dict, list):
            return typing.get_args(arg)[-1]
    return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _translate(exc: ValidationError, data: dict, path: str | Path) -> InstanceError:
    errors = exc.errors(include_url=False)
    first_parts, _ = _clean_location(errors[0]["loc"], data)
    # errors at or below the first error's field (a union reports one per member): prefer the
    # deepest one that says more than "wrong type"
    below = [e for e in errors
             if _clean_location(e["loc"], data)[0][:len(first_parts)] == first_parts]
    same = [e for e in below if _clean_location(e["loc"], data)[0] == first_parts]
    specific = sorted((e for e in below if not e["type"].endswith("_type")
                       and e["type"] not in ("literal_error", "model_type")),
                      key=lambda e: -len(_clean_location(e["loc"], data)[0]))
    chosen = (specific or same)[0]
    parts, kept = _clean_location(chosen["loc"], data)
    field_path = ".".join(parts)
    kind = chosen["type"]
    if kind == "extra_forbidden":
        allowed = _fields_at(kept[:-1])
        near = difflib.get_close_matches(parts[-1], allowed, n=1, cutoff=0.6)
        hint = f"did you mean {near[0]!r}?" if near else f"allowed keys: {', '.join(allowed)}"
        return InstanceError(path, field_path, f"unknown key {parts[-1]!r}; {hint}")
    if kind == "missing":
        present = _keys_at(data, kept[:-1])
        allowed = _fields_at(kept[:-1])
        near = difflib.get_close_matches(parts[-1], [k for k in present if k not in allowed],
                                         n=1, cutoff=0.6)
        hint = f"; found {near[0]!r}: a typo for {parts[-1]!r}?" if near else ""
        return InstanceError(path, field_path, f"required field {parts[-1]!r} is missing{hint}")
    if len(same) > 1 and not specific:
        expected = " or ".join(dict.fromkeys(_expected(e) for e in same))
    else:
        expected = _expected(chosen)
    if kind == "value_error":
        return InstanceError(path, field_path, f"found {_show(chosen.get('input'))}: "
                             f"{chosen['ctx'].get('error', chosen['msg'])}")
    return InstanceError(path, field_path, f"found {_show(chosen.get('input'))}; expected {expected}")


def _expected(error: dict) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind == "finite_number":
        return "a finite number (not NaN or infinity)"
    if kind in ("float_type", "float_parsing"):
        return "a number"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return "a whole number"
    if kind in ("string_type",):
        return "a text label"
    if kind in ("bool_type",):
        return "true or false"
    if kind in ("dict_type", "model_type"):
        return "a mapping"
    if kind == "list_type":
        return "a list"
    if kind == "greater_than_equal":
        return f"a number >= {ctx.get('ge')}"
    if kind == "greater_than":
        return f"a number > {ctx.get('gt')}"
    if kind == "less_than_equal":
        return f"a number <= {ctx.get('le')}"
    if kind == "literal_error":
        return str(ctx.get("expected", "one of the allowed values"))
    if kind in ("too_short", "string_too_short"):
        return "at least one entry" if kind == "too_short" else "a non-empty label"
    return error.get("msg", kind).lower()
