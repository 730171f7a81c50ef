"""Problem data from a validated instance: sorted sparse index tuples and scaled parameters,
ready for :func:`formulations.build_model`, built step by step (time, scaling and workloads
here; accelerators, sites, fleet, cooling, policies in their modules; the costs last).

Scaling (so that coefficients stay within about 1e-3..1e4):

- money in ``money_unit`` (a power of ten near the median price of a card, so that both a
  384-card supernode and a card-quarter of idle power stay within the coefficient range);
- serving in ``token_unit`` tokens/s (a power of ten near the typical card throughput), so one
  unit of ``serve`` is roughly the output of one card.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from optimizer.errors import InstanceError
from optimizer.instance.derived import per_period, throughput_tokens_per_s
from optimizer.problem.accelerators import add_accelerators
from optimizer.problem.cooling import add_cooling
from optimizer.problem.costs import CostModel
from optimizer.problem.data import ProblemData
from optimizer.problem.energy import add_energy
from optimizer.problem.entries import objective_coefficients
from optimizer.problem.fleet import add_fleet
from optimizer.problem.policies import add_policies, add_site_costs
from optimizer.problem.procurement import add_procurement_rules, add_rentals
from optimizer.problem.sites import add_sites
from optimizer.problem.time import SECONDS_PER_DAY, Timeline

MAX_CARDS_OF_DEMAND = 1e12
"""Largest peak demand, in cards' worth of serving (``token_unit`` tokens/s), that is planned;
above it the solver's numbers lose meaning (HiGHS reads 1e20 as infinite)."""


def _power_of_ten(value: float) -> float:
    return 10.0 ** round(math.log10(value)) if value > 0 else 1.0


def build_problem_data(instance: Any) -> ProblemData:
    """Derive the sparse sets and scaled parameters of ``instance`` (a validated Instance).

    Raises:
        InstanceError: demand beyond what a plan can represent.
    """
    spec = instance.spec
    hz = spec.horizon
    timeline = Timeline(tuple(hz.periods), hz.period_years, hz.discount_rate)
    accs, workloads = spec.accelerators, spec.workloads
    A, S, W = sorted(accs), sorted(spec.sites), sorted(workloads)
    throughput = {(k, w): th for k in A for w in W
                  if (th := throughput_tokens_per_s(accs[k], w, workloads[w])) > 0}
    card_prices = [p for k in A for p in per_period(accs[k].price_per_card, hz.periods) if p]
    money_unit = _power_of_ten(float(np.median(card_prices)) if card_prices else 1.0)
    token_unit = _power_of_ten(math.exp(sum(map(math.log, throughput.values()))
                                        / len(throughput))) if throughput else 1.0
    data = ProblemData(instance=instance, timeline=timeline, money_unit=money_unit,
                       token_unit=token_unit, costs=CostModel(timeline), currency=spec.currency,
                       name=spec.name,
                       ACCELERATORS=A, SITES=S, WORKLOADS=W,
                       VENDORS=sorted({accs[k].vendor for k in A}))
    data.throughput = throughput
    add_workloads(data, spec, instance.path)
    add_accelerators(data, spec)
    add_procurement_rules(data, spec)
    add_sites(data, spec)
    add_fleet(data, spec)
    add_rentals(data, spec)
    add_cooling(data, spec)
    add_site_costs(data, spec)
    add_policies(data, spec)
    add_energy(data, spec)
    objective_coefficients(data)
    return data


def add_workloads(data: ProblemData, spec: Any, path: Any) -> None:
    """DEMAND: (w,t) with demand; demand_peak in token_unit tokens/s: D(w,t) P(w) / 86400."""
    workloads = spec.workloads
    data.peak_to_average = {w: workloads[w].peak_to_average for w in data.WORKLOADS}
    for w in data.WORKLOADS:
        series = spec.demand.get(w, {})
        for t, label in enumerate(data.periods):
            tokens_per_day = series.get(label, 0.0)
            if tokens_per_day <= 0:
                continue
            data.DEMAND.append((w, t))
            data.demand_peak[w, t] = (tokens_per_day * workloads[w].peak_to_average
                                      / SECONDS_PER_DAY / data.token_unit)
            if data.demand_peak[w, t] > MAX_CARDS_OF_DEMAND:
                raise InstanceError(path, f"demand.{w}.{label}", f"found {tokens_per_day:.3g} "
                                    f"tokens/day: more than {MAX_CARDS_OF_DEMAND:.0e} cards "
                                    "could serve, beyond what a plan can represent; check the "
                                    "units (average tokens per day)")
