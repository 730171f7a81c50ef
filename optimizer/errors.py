"""Typed errors of the library: bad instances and models with no plan."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


class AccelplanError(Exception):
    """Base class of every error accelplan raises on purpose."""


class InstanceError(AccelplanError):
    """An instance file (or a CSV table it references, or an override) is invalid.

    Attributes:
        path: the file that holds the bad value (the YAML, a CSV, or ``<override>``).
        field: dotted path of the field inside that file (``sites.zhengzhou.cooling.air.pue``);
            empty when the whole file is at fault (not YAML, binary, ...).
        reason: what was found and what was expected.
    """

    def __init__(self, path: str | Path, field: str, reason: str) -> None:
        self.path = str(path)
        self.field = field
        self.reason = reason
        where = f"{self.path}: {field}: " if field else f"{self.path}: "
        super().__init__(where + reason)


class SolverError(AccelplanError):
    """HiGHS failed (a numerical or internal failure, not a model without a plan)."""


class UsageError(AccelplanError):
    """A usage problem that is not in the instance (an existing results directory, ...)."""


class Interrupted(AccelplanError):
    """A solve was cancelled (Ctrl-C, SIGTERM, a service's cancel) before any plan existed:
    there is nothing to keep."""


@dataclass(frozen=True)
class Relaxation:
    """One resource that must give for a plan to exist.

    Attributes:
        constraint: the constraint family (``grid``, ``demand``, ``supply``, ``budget`` ...).
        index: the labels of the row (site, period, ...).
        amount: how much the row must be relaxed, in ``unit``.
        unit: natural unit of ``amount`` (MW, cards, tokens/s, money, share).
        message: the planner-facing sentence.
    """

    constraint: str
    index: tuple[str, ...]
    amount: float
    unit: str
    message: str
    note: str = ""

    @property
    def sentence(self) -> str:
        """The message with its note (e.g. which ``--set`` changed the cap)."""
        return f"{self.message} ({self.note})" if self.note else self.message

    def as_dict(self) -> dict[str, Any]:
        """The relaxation as a JSON-ready mapping."""
        out = {"constraint": self.constraint, "index": list(self.index),
               "amount": self.amount, "unit": self.unit, "message": self.message}
        if self.note:
            out["note"] = self.note
        return out


class InfeasibleError(AccelplanError):
    """No plan satisfies the instance; ``explanation`` lists what would have to give (the
    smallest relaxation), ``alternatives`` other ways out (each a list of relaxations)."""

    def __init__(self, explanation: list[Relaxation], headline: str = "no plan exists",
                 alternatives: list[list[Relaxation]] | None = None) -> None:
        self.explanation = explanation
        self.alternatives = alternatives or []
        lines = [headline] + [f"  - {r.sentence}" for r in explanation]
        if self.alternatives:
            lines.append("other ways out:")
            for number, way in enumerate(self.alternatives, start=2):
                lines.append(f"  {number}. " + "; ".join(r.sentence for r in way))
        super().__init__("\n".join(lines))
