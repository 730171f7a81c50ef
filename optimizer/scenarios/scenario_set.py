"""The scenarios of an instance: each as the instance it sees (its fragment merged over the
file, instance-format.md "Overrides"), their mean demand, and probability-weighted KPIs."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping

from optimizer.errors import InstanceError
from optimizer.instance.loader import Instance, instance_from_raw
from optimizer.instance.overrides import DEMAND_SCALE, merge_fragment


@dataclass(frozen=True)
class Future:
    """One scenario of a stochastic instance, as data a worker process can rebuild.

    Attributes:
        name: the scenario's name.
        probability: its probability.
        demand_scale: its own factor on demand (the instance's ``demand_scale`` apart).
        raw: the instance as this scenario sees it: the file with the scenario's fragment
            merged over it (mappings key by key).
        overrides: the dotted overrides applied on top (the instance's own what-ifs, which
            hold in every scenario, and the demand scale of both).
    """

    name: str
    probability: float
    demand_scale: float
    raw: dict = field(repr=False)
    overrides: dict = field(default_factory=dict)


def future_overrides(instance: Instance) -> dict[str, Any]:
    """The instance's own what-ifs a future sees: all but those of the scenarios block
    (which made the futures and is not part of any future's instance)."""
    return {k: v for k, v in instance.overrides.items()
            if k != "scenarios" and not k.startswith("scenarios.")}


def futures(instance: Instance) -> list[Future]:
    """The scenarios of ``instance``, in the order of its file.

    Raises:
        InstanceError: a scenario's fragment does not lead into the instance (naming it).
    """
    block = instance.spec.scenarios
    if block.sample is not None:
        return sampled_futures(instance)
    out = []
    for name, scenario in block.members.items():
        try:
            raw = merge_fragment(instance.raw, scenario.overrides)
        except InstanceError as exc:
            raise InstanceError(instance.path, f"scenarios.{name}.overrides.{exc.field}",
                                exc.reason) from None
        overrides = {**future_overrides(instance),
                     DEMAND_SCALE: instance.demand_scale * scenario.demand_scale}
        out.append(Future(name, scenario.probability, scenario.demand_scale, raw, overrides))
    return out


def sampled_futures(instance: Instance, seed: int | None = None,
                    count: int | None = None, paths: bool = False) -> list[Future]:
    """The futures of ``scenarios.sample`` (:mod:`optimizer.scenarios.sampling`): the file's
    demand (after the instance's own what-ifs) times each future's growth factors, each of
    probability 1/count; ``seed`` and ``count`` replace the block's (an out-of-sample draw).
    In a tree the count is the tree's leaves, unless ``paths``: then ``count`` independent
    paths from the root's end on, each distributed as a leaf of the tree is (every period's
    shock standard normal, independent of the others), which is how a tree's plan is
    evaluated out of sample."""
    from optimizer.scenarios.sampling import (
        future_names, growth_factors, tree_growth_factors,
    )
    from optimizer.scenarios.tree import committed_periods, is_tree, leaf_count, stage_starts
    spec = instance.spec
    sample = spec.scenarios.sample
    seed = sample.seed if seed is None else seed
    periods = list(spec.horizon.periods)
    workloads = list(spec.demand)
    if is_tree(spec) and not paths:
        count = leaf_count(spec)
        factors = tree_growth_factors(seed, workloads, len(periods), stage_starts(spec),
                                      spec.scenarios.tree.branching, sample.demand_growth,
                                      spec.horizon.period_years)
    else:
        count = (sample.count if not is_tree(spec) else leaf_count(spec)) if count is None \
            else count
        factors = growth_factors(count, seed, workloads, len(periods), committed_periods(spec),
                                 sample.demand_growth, spec.horizon.period_years)
    base = copy.deepcopy(dict(instance.raw))
    base.pop("scenarios", None)
    base.pop("demand", None)
    overrides = {k: v for k, v in future_overrides(instance).items() if k != DEMAND_SCALE
                 and not (k == "demand" or k.startswith("demand."))}
    index = {label: t for t, label in enumerate(periods)}
    out = []
    for s, name in enumerate(future_names(count)):
        demand = {w: {p: float(v) * float(factors[s, i, index[p]]) if p in index else v
                      for p, v in series.items()}
                  for i, (w, series) in enumerate(spec.demand.items())}
        out.append(Future(name, 1.0 / count, 1.0, {**base, "demand": demand}, overrides))
    return out


def future_instance(instance: Instance, future: Future) -> Instance:
    """The instance ``future`` sees, validated (an error names the scenario)."""
    raw = {k: v for k, v in future.raw.items() if k != "scenarios"}
    overrides = {k: v for k, v in future.overrides.items()     # applied to the block already
                 if k != "scenarios" and not k.startswith("scenarios.")}
    try:
        return instance_from_raw(raw, instance.path, overrides,
                                 file_digest=instance.input_sha256)
    except InstanceError as exc:
        raise InstanceError(exc.path, exc.field, f"in scenario {future.name}: {exc.reason}"
                            ) from None


def scenario_instances(instance: Instance) -> dict[str, tuple[float, float, Instance]]:
    """name -> (probability, demand scale, the instance as that scenario sees it)."""
    return {f.name: (f.probability, f.demand_scale, future_instance(instance, f))
            for f in futures(instance)}


def total_demand(instance: Instance) -> float:
    """Average tokens per day summed over workloads and periods (orders scenarios)."""
    return float(sum(sum(series.values()) for series in instance.spec.demand.values()))


def demand_ratio(scenario: Instance, instance: Instance) -> float | None:
    """A scenario's total demand against the instance's own (1.0: the forecast)."""
    own = total_demand(instance)
    return total_demand(scenario) / own if own else None


def mean_future(instance: Instance,
                scenarios: Mapping[str, tuple[float, float, Instance]] | None = None) -> Future:
    """The mean-demand instance: each workload's demand in each period is the
    probability-weighted mean of the scenarios' (whether they scale demand or override it
    period by period); every other field is the instance's own."""
    scenarios = scenarios if scenarios is not None else scenario_instances(instance)
    mean: dict[str, dict[str, float]] = {}
    for probability, _, scenario in scenarios.values():
        for workload, series in scenario.spec.demand.items():
            target = mean.setdefault(workload, {})
            for period, tokens_per_day in series.items():
                target[period] = target.get(period, 0.0) + probability * tokens_per_day
    raw = copy.deepcopy(dict(instance.raw))
    raw.pop("scenarios", None)
    raw["demand"] = mean
    overrides = {k: v for k, v in future_overrides(instance).items() if k != DEMAND_SCALE
                 and not (k == "demand" or k.startswith("demand."))}
    return Future("mean", 1.0, 1.0, raw, overrides)


EXPECTED_KPIS = ("npv_total", "capex_total", "opex_total", "salvage_total",
                 "cost_per_million_tokens", "tokens_served_total", "cards_final_period",
                 "cards_bought_total", "domestic_share", "unmet_tokens_total",
                 "unmet_cost_total", "rental_cost_total", "emissions_total_t",
                 "carbon_cost_total", "water_total_m3")
"""KPIs a scenario plan reports as probability-weighted means over its scenarios."""


def expected_kpis(weighted: list[tuple[float, Mapping[str, Any]]]) -> dict[str, Any]:
    """The probability-weighted mean of each scenario KPI (those every scenario has)."""
    out: dict[str, Any] = {}
    for name in EXPECTED_KPIS:
        values = [(p, kpis.get(name)) for p, kpis in weighted]
        if values and all(isinstance(v, (int, float)) for _, v in values):
            out[name] = float(sum(p * v for p, v in values))
    return out
