"""The studio's what-if levers: each turns one value from the form into the overrides that
change exactly what it says, relative to the file, and a sentence saying what changed.

- ``demand_scale``: every demand figure times the value.
- ``grid_mw:<site>``: the site's grid connection; a path by period is scaled so that its
  largest value becomes the value (its shape kept).
- ``max_cards:<site>``: the site's card slots.
- ``price_per_card:<accelerator>``: a price path is scaled so that its first period's price
  becomes the value (a falling price keeps falling); a scalar price is replaced.
- ``budget_per_period``: the capex budget; a path by period is scaled so that its largest
  value becomes the value.
- ``domestic_share``: the share of the file's rules on the ``domestic`` tag (their ``from``
  and ``by`` kept); a rule from the first period when the file has none.
- ``ban_imported_from``: a ban on ``imported`` cards from that period, added to the file's bans
  (installed cards kept).
- ``cvar_weight``: the weight w of CVaR in a scenario plan's objective (uncertainty.md),
  ``scenarios.risk.cvar_weight``; the file's ``cvar_alpha`` kept (the default 0.9 when it
  has none).
  Only for instances with scenarios.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Mapping

from optimizer.errors import InstanceError
from optimizer.instance.overrides import OVERRIDE_SOURCE
from optimizer.scenarios.assemble import DEFAULT_CVAR_ALPHA

LEVERS = ("demand_scale", "grid_mw", "max_cards", "price_per_card", "budget_per_period",
          "domestic_share", "ban_imported_from", "cvar_weight")


def _number(name: str, value: Any, low: float = 0.0, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value) or value < low:
        raise InstanceError(OVERRIDE_SOURCE, name, f"found {value!r}; expected a finite "
                            f"number >= {low:g}")
    if integer and value != int(value):
        raise InstanceError(OVERRIDE_SOURCE, name, f"found {value!r}; expected a whole number")
    return int(value) if integer else float(value)


def _scaled(path: Any, reference: float, target: float) -> Any:
    """``path`` (a scalar or a mapping period -> value) with ``reference`` moved to
    ``target``: a scalar is replaced, a mapping scaled by target / reference (set flat when
    the reference is 0)."""
    if not isinstance(path, dict):
        return target
    if reference == 0:
        return {p: target for p in path}
    return {p: v * target / reference for p, v in path.items()}


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{p}: {v:,.6g}" for p, v in value.items()) + "}"
    if isinstance(value, float):
        return f"{value:,.6g}"
    return str(value)


def lever_overrides(raw: Mapping[str, Any], levers: Mapping[str, Any]
                    ) -> tuple[dict[str, Any], list[str]]:
    """The overrides (dotted path -> value, as ``--set`` takes them) that the form's ``levers``
    make on the instance ``raw`` (as read), and one sentence per lever saying what it changes
    relative to the file.

    Raises:
        InstanceError: an unknown lever, site or accelerator, or a value out of range (named).
    """
    raw = copy.deepcopy(dict(raw))
    sites, accs = raw.get("sites", {}), raw.get("accelerators", {})
    policies = raw.get("policies", {}) or {}
    periods = [str(p) for p in raw.get("horizon", {}).get("periods", [])]
    overrides: dict[str, Any] = {}
    changes: list[str] = []
    for name, value in levers.items():
        kind, _, target = name.partition(":")
        if kind not in LEVERS:
            raise InstanceError(OVERRIDE_SOURCE, name, f"unknown lever; levers are "
                                f"{', '.join(LEVERS)}")
        if kind == "demand_scale":
            overrides["demand_scale"] = _number(name, value)
            changes.append(f"every demand figure x {overrides['demand_scale']:g}")
        elif kind in ("grid_mw", "max_cards"):
            if target not in sites:
                raise InstanceError(OVERRIDE_SOURCE, name, f"unknown site {target!r}")
            path = f"sites.{target}.{kind}"
            old = sites[target].get(kind)
            if kind == "max_cards":
                new = _number(name, value, integer=True)
            else:
                reference = max(old.values()) if isinstance(old, dict) else old
                new = _scaled(old, float(reference or 0.0), _number(name, value))
            if new != old:
                overrides[path] = new
                changes.append(f"{path}: {_show(old)} -> {_show(new)}")
        elif kind == "price_per_card":
            if target not in accs:
                raise InstanceError(OVERRIDE_SOURCE, name, f"unknown accelerator {target!r}")
            path = f"accelerators.{target}.price_per_card"
            old = accs[target].get("price_per_card")
            first = (old.get(periods[0], next(iter(old.values()))) if isinstance(old, dict)
                     else old)
            new = _scaled(old, float(first or 0.0), _number(name, value))
            if new != old:
                overrides[path] = new
                changes.append(f"{path}: {_show(old)} -> {_show(new)}")
        elif kind == "budget_per_period":
            path = "policies.budget_per_period"
            old = policies.get("budget_per_period")
            if value is None:
                if old is not None:
                    overrides[path] = None
                    changes.append(f"{path}: {_show(old)} -> none")
                continue
            reference = max(old.values()) if isinstance(old, dict) and old else old
            new = _scaled(old, float(reference or 0.0), _number(name, value))
            if new != old:
                overrides[path] = new
                changes.append(f"{path}: {_show(old)} -> {_show(new)}")
        elif kind == "domestic_share":
            share = _number(name, value)
            if share > 1:
                raise InstanceError(OVERRIDE_SOURCE, name, f"found {value!r}; expected a "
                                    "share in [0, 1]")
            rules = copy.deepcopy(policies.get("min_share", []) or [])
            mine = [i for i, rule in enumerate(rules) if "domestic" in rule.get("tags", [])]
            if mine:
                for i in mine:
                    changes.append(f"policies.min_share.{i} (domestic{', from ' + str(rules[i]['from']) if 'from' in rules[i] else ''}): share {rules[i]['share']:g} -> {share:g}")
                    rules[i]["share"] = share
            else:
                rules.append({"tags": ["domestic"], "share": share})
                changes.append(f"policies.min_share: a domestic share >= {share:g} added, "
                               "from the first period")
            overrides["policies.min_share"] = rules
        elif kind == "ban_imported_from":
            if value in (None, ""):
                continue
            if str(value) not in periods:
                raise InstanceError(OVERRIDE_SOURCE, name, f"unknown period {value!r}; "
                                    f"periods are {', '.join(periods)}")
            bans = copy.deepcopy(policies.get("ban", []) or [])
            bans.append({"tags": ["imported"], "from": str(value), "installed": "keep"})
            overrides["policies.ban"] = bans
            changes.append(f"policies.ban: no imported cards delivered or rented from {value} "
                           f"(installed ones kept), added to the file's "
                           f"{len(bans) - 1} ban(s)")
        elif kind == "cvar_weight":
            weight = _number(name, value)
            if weight > 1:
                raise InstanceError(OVERRIDE_SOURCE, name, f"found {value!r}; expected a "
                                    "weight in [0, 1]")
            scenarios = raw.get("scenarios") or {}
            if not scenarios:
                raise InstanceError(OVERRIDE_SOURCE, name, "this instance has no scenarios; "
                                    "a CVaR weight needs futures to weigh")
            risk = scenarios.get("risk") or {}
            old = risk.get("cvar_weight", 0.0)
            if weight != old:
                if "risk" in scenarios:
                    overrides["scenarios.risk.cvar_weight"] = weight
                else:                 # an override may not add a key below a missing one
                    overrides["scenarios.risk"] = {"cvar_weight": weight}
                changes.append(f"scenarios.risk.cvar_weight: {_show(old)} -> {_show(weight)} "
                               f"(CVaR at alpha {risk.get('cvar_alpha', DEFAULT_CVAR_ALPHA):g})")
    return overrides, changes
