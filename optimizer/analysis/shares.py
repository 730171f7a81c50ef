"""Share rules as a plan measures them: read from the fleet aggregates the rules are written
on (``policy_fleet``: owned and rented cards alike, by the rule's weights), so that a shadow
price per percentage point, an explanation and a reported share all count the same fleet."""
from __future__ import annotations

import pyomo.environ as pyo

from optimizer.problem import ProblemData, SharePolicy


def share_rule(data: ProblemData, family: str, key: str) -> SharePolicy:
    """The share policy behind a min_share or max_vendor_share row."""
    rules = data.min_share if family == "min_share" else data.vendor_share
    return next(rule for rule in rules if rule.key == key)


def share_totals(model: pyo.ConcreteModel, data: ProblemData, family: str, key: str,
                 t: int) -> tuple[float, float]:
    """(members, base) of a share row in period t: the weighted cards of the rule's members
    and of the whole fleet it is a share of, owned and rented, as the rule counts them."""
    groups = ((f"tagged:{key}", f"weighted:{key}") if family == "min_share"
              else (f"vendor:{key}", "all"))
    total = getattr(model, "fleet_total", None)
    if total is None:
        return 0.0, 0.0
    return tuple(float(total[g, t].value or 0.0) if (g, t) in total else 0.0 for g in groups)
