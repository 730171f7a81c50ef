"""The scenarios of an instance: each as overrides or as an instance, their mean demand, and
probability-weighted KPIs."""
from __future__ import annotations

from typing import Any, Mapping

from optimizer.instance.loader import Instance, instance_from_raw
from optimizer.instance.overrides import DEMAND_SCALE


def scenario_overrides(instance: Instance) -> dict[str, tuple[float, float, dict[str, Any]]]:
    """name -> (probability, demand scale, the overrides that make the scenario)."""
    members = instance.spec.scenarios.members
    return {name: (s.probability, s.demand_scale,
                   {**instance.overrides, **s.overrides,
                    DEMAND_SCALE: instance.demand_scale * s.demand_scale})
            for name, s in members.items()}


def scenario_instances(instance: Instance) -> dict[str, tuple[float, float, Instance]]:
    """name -> (probability, demand scale, the instance as that scenario sees it)."""
    return {name: (p, scale, instance_from_raw(instance.raw, instance.path, overrides))
            for name, (p, scale, overrides) in scenario_overrides(instance).items()}


def total_demand(instance: Instance) -> float:
    """Average tokens per day summed over workloads and periods (orders scenarios)."""
    return float(sum(sum(series.values()) for series in instance.spec.demand.values()))


def demand_ratio(scenario: Instance, instance: Instance) -> float | None:
    """A scenario's total demand against the instance's own (1.0: the forecast)."""
    own = total_demand(instance)
    return total_demand(scenario) / own if own else None


def mean_overrides(instance: Instance,
                   scenarios: Mapping[str, tuple[float, float, Instance]] | None = None
                   ) -> dict[str, Any]:
    """Overrides that make the mean-demand instance: each workload's demand in each period is
    the probability-weighted mean of the scenarios' (whether they scale demand or override
    it period by period); every other field is the instance's own."""
    scenarios = scenarios if scenarios is not None else scenario_instances(instance)
    mean: dict[str, dict[str, float]] = {}
    for probability, _, scenario in scenarios.values():
        for workload, series in scenario.spec.demand.items():
            target = mean.setdefault(workload, {})
            for period, tokens_per_day in series.items():
                target[period] = target.get(period, 0.0) + probability * tokens_per_day
    overrides = {k: v for k, v in instance.overrides.items() if k != DEMAND_SCALE}
    overrides["demand"] = mean
    return overrides


EXPECTED_KPIS = ("npv_total", "capex_total", "opex_total", "salvage_total",
                 "cost_per_million_tokens", "tokens_served_total", "cards_final_period",
                 "cards_bought_total", "domestic_share", "unmet_tokens_total",
                 "unmet_cost_total")
"""KPIs a scenario plan reports as probability-weighted means over its scenarios."""


def expected_kpis(weighted: list[tuple[float, Mapping[str, Any]]]) -> dict[str, Any]:
    """The probability-weighted mean of each scenario KPI (those every scenario has)."""
    out: dict[str, Any] = {}
    for name in EXPECTED_KPIS:
        values = [(p, kpis.get(name)) for p, kpis in weighted]
        if values and all(isinstance(v, (int, float)) for _, v in values):
            out[name] = float(sum(p * v for p, v in values))
    return out
