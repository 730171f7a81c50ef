"""A Pyomo model as the arrays HiGHS reads, through Pyomo's linear standard-form compiler
(``compile_standard_form`` with ``mixed_form``), and the way back: plan values into the Pyomo
variables, rows and columns as (family, index) keys. Knows Pyomo, not any model's names."""
from __future__ import annotations

import time
from typing import Any, Mapping

import numpy as np
import pyomo.environ as pyo
from pyomo.common.dependencies import scipy_available as _scipy_available
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from formulations import PYOMO_LOCK
from optimizer.solver.highs import INF, ModelArrays

# Pyomo imports SciPy lazily on the first compile (about 0.5 s); resolve it here, once per
# process, so that hand-over timings measure the model and not the import.
bool(_scipy_available)


class StandardForm:
    """A Pyomo model compiled once.

    Attributes:
        model: the Pyomo model.
        columns: its variables in column order; rows: (constraint, sense) in row order, sense
            1 for <=, -1 for >=, 0 for =.
        arrays: the model as HiGHS reads it.
        seconds: the compile time.
    """

    def __init__(self, model: pyo.ConcreteModel) -> None:
        began = time.perf_counter()
        with PYOMO_LOCK:
            repn = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
        self.model = model
        self.columns = repn.columns
        self.rows = repn.rows
        n_cols, n_rows = len(self.columns), len(self.rows)
        lower, upper = np.empty(n_cols), np.empty(n_cols)
        integer = np.zeros(n_cols, dtype=bool)
        binary = np.zeros(n_cols, dtype=bool)
        for j, var in enumerate(self.columns):
            lb, ub = var.bounds
            lower[j] = -INF if lb is None else lb
            upper[j] = INF if ub is None else ub
            binary[j] = var.is_binary()
            integer[j] = binary[j] or var.is_integer()
        rhs = np.asarray(repn.rhs, dtype=float)
        senses = np.fromiter((sense for _, sense in self.rows), dtype=int, count=n_rows)
        cost = np.asarray(repn.c.toarray()).ravel() if repn.c.shape[0] else np.zeros(n_cols)
        self.arrays = ModelArrays(
            cost=cost, lower=lower, upper=upper,
            row_lower=np.where(senses == 1, -INF, rhs), row_upper=np.where(senses == -1, INF, rhs),
            matrix=repn.A.tocsc(), integer=integer, binary=binary, senses=senses,
            offset=float(repn.c_offset[0]) if len(repn.c_offset) else 0.0)
        self.seconds = time.perf_counter() - began

    def names(self) -> tuple[list[str], list[str]]:
        """Column and row names for a model file: the Pyomo names with brackets as
        parentheses and every character the LP and MPS formats refuse (``-``, ``+``, spaces,
        quotes, ...) as ``_``; a row written twice (both sides of a ranged row) and any name
        the mapping made equal get ``#2``, ``#3``, ..."""
        return (_unique([_file_name(var.name) for var in self.columns]),
                _unique([_file_name(con.name) for con, _ in self.rows]))

    def column_keys(self) -> list[tuple[str, Any]]:
        """(variable family, index) of every column."""
        return [(var.parent_component().local_name, var.index()) for var in self.columns]

    def row_keys(self) -> list[tuple[str, Any, int]]:
        """(constraint family, index, sense) of every row."""
        return [(con.parent_component().local_name, con.index(), sense)
                for con, sense in self.rows]

    def columns_of(self, family: str) -> np.ndarray:
        """Positions of the columns of one variable family."""
        return np.array([j for j, var in enumerate(self.columns)
                         if var.parent_component().local_name == family], dtype=np.int32)

    def keyed_duals(self, duals: np.ndarray | None) -> dict[tuple[str, Any], float] | None:
        """Row duals by (family, index) (a row HiGHS received twice keeps its larger dual)."""
        if duals is None:
            return None
        result: dict[tuple[str, Any], float] = {}
        for (con, _), dual in zip(self.rows, duals):
            key = (con.parent_component().local_name, con.index())
            if abs(dual) > abs(result.get(key, 0.0)):
                result[key] = float(dual)
            else:
                result.setdefault(key, float(dual))
        return result

    def load(self, values: np.ndarray) -> None:
        """Write column ``values`` into the Pyomo variables (integers rounded); variables HiGHS
        did not receive are 0 (or their lower bound), fixed ones keep their value."""
        for var in self.model.component_data_objects(pyo.Var, descend_into=True):
            if not var.fixed:       # fixed variables are constants of the model: keep them
                var.set_value(0 if var.lb is None or var.lb <= 0 else var.lb,
                              skip_validation=True)
        rounded = np.where(self.arrays.integer, np.round(values), values)
        for var, x in zip(self.columns, rounded.tolist()):
            var.set_value(x, skip_validation=True)

    def integer_values(self, values: np.ndarray | None) -> dict[str, float]:
        """A plan's integer decisions by variable name (a MIP start for a similar model)."""
        if values is None:
            return {}
        return {self.columns[j].name: float(round(values[j]))
                for j in np.flatnonzero(self.arrays.integer)}

    def start_from_names(self, values: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """A (partial) MIP start by variable name as (columns, values), clipped to bounds."""
        cols, vals = [], []
        lower, upper = self.arrays.lower, self.arrays.upper
        for j, var in enumerate(self.columns):
            x = values.get(var.name)
            if x is not None:
                cols.append(j)
                vals.append(min(max(float(x), lower[j]), upper[j]))
        return np.array(cols, dtype=np.int32), np.array(vals)


_FILE_NAME = str.maketrans({"[": "(", "]": ")", "-": "_", "+": "_", " ": "_", "'": "_",
                            '"': "_", ":": "_", "*": "_", "^": "_", "<": "_", ">": "_",
                            "=": "_", "/": "_", "\\": "_"})


def _file_name(name: str) -> str:
    return name.translate(_FILE_NAME)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        result.append(name if count == 1 else f"{name}#{count}")
    return result
