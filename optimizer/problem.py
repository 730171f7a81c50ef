"""Problem data: the validated instance turned into sorted sparse index tuples and scaled
parameters, ready for :func:`formulations.build_model`.

Scaling (so that coefficients stay within about 1e-3..1e4):

- money in ``money_unit`` (a power of ten near the median price of a card, so that both a
  384-card supernode and a card-quarter of idle power stay within the coefficient range);
- serving in ``token_unit`` tokens/s (a power of ten near the typical card throughput), so one
  unit of ``serve`` is roughly the output of one card;
- power in kW on card rows and MW on site rows; cards in cards.

Time conventions are those of shared/design/model.md: period t starts y_t = t*L years in; capex
is discounted to the start, opex to the middle, salvage to the horizon end.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from optimizer.derived import per_period, rack_fits, throughput_tokens_per_s
from optimizer.errors import InstanceError
from optimizer.loader import Instance

HOURS_PER_YEAR = 8760.0
DAYS_PER_YEAR = 365.0
SECONDS_PER_DAY = 86400.0

MAX_CARDS_OF_DEMAND = 1e12
"""Largest peak demand, in cards' worth of serving (``token_unit`` tokens/s), that is planned;
above it the solver's numbers lose meaning (HiGHS reads 1e20 as infinite)."""

KSC = tuple[str, str, str]          # accelerator, site, cooling mode
KSCT = tuple[str, str, str, int]    # ... and period index


def _power_of_ten(value: float) -> float:
    return 10.0 ** round(math.log10(value)) if value > 0 else 1.0


@dataclass
class ProblemData:
    """Everything the formulation needs, indexed sparsely. Period indices are ints 0..n-1."""

    instance: Instance
    periods: list[str]
    period_years: float
    money_unit: float
    token_unit: float
    discount_start: list[float]
    discount_mid: list[float]
    discount_end: float
    ACCELERATORS: list[str]
    SITES: list[str]
    WORKLOADS: list[str]
    VENDORS: list[str]
    # sparse index sets (sorted)
    KSC: list[KSC] = field(default_factory=list)
    BUY: list[KSCT] = field(default_factory=list)
    FLEET: list[KSCT] = field(default_factory=list)
    BUSY: list[KSCT] = field(default_factory=list)
    SERVE: list[tuple[str, str, str, int]] = field(default_factory=list)   # w, k, s, t
    DEMAND: list[tuple[str, int]] = field(default_factory=list)            # w, t with D > 0
    SC: list[tuple[str, str]] = field(default_factory=list)                # site, mode
    BUILD: list[tuple[str, str, int]] = field(default_factory=list)
    OPENABLE: list[str] = field(default_factory=list)
    EXCLUSIVE: list[str] = field(default_factory=list)
    # parameters
    cards_per_unit: dict[str, int] = field(default_factory=dict)
    price_per_card: dict[tuple[str, int], float] = field(default_factory=dict)     # currency
    fleet_retires: dict[KSCT, KSCT] = field(default_factory=dict)     # (k,s,c,t) -> buy ending
    fleet_first: dict[KSC, int] = field(default_factory=dict)         # first period with cards
    existing_cards: dict[KSCT, float] = field(default_factory=dict)
    throughput: dict[tuple[str, str], float] = field(default_factory=dict)         # tokens/s
    demand_peak: dict[tuple[str, int], float] = field(default_factory=dict)        # token_unit
    peak_to_average: dict[str, float] = field(default_factory=dict)
    grid_mw: dict[tuple[str, int], float] = field(default_factory=dict)
    supply_cards: dict[tuple[str, int], float] = field(default_factory=dict)       # finite only
    budget: dict[int, float] = field(default_factory=dict)                         # money_unit
    build_unit_mw: dict[tuple[str, str], float] = field(default_factory=dict)      # MW per unit
    buy_units_max: dict[KSCT, float] = field(default_factory=dict)
    # objective coefficients (money_unit, discounted)
    cost_buy: dict[KSCT, float] = field(default_factory=dict)
    cost_build: dict[tuple[str, str, int], float] = field(default_factory=dict)
    cost_fleet_idle: dict[KSCT, float] = field(default_factory=dict)
    cost_busy: dict[KSCT, float] = field(default_factory=dict)
    cost_open: dict[tuple[str, int], float] = field(default_factory=dict)   # on open[s,t]
    cost_unmet: dict[tuple[str, int], float] = field(default_factory=dict)
    cost_constant: float = 0.0
    # policies: (name, t, coefficient per accelerator, sense)
    min_share_rows: list[tuple[str, int, dict[str, float]]] = field(default_factory=list)
    vendor_share_rows: list[tuple[str, int, dict[str, float]]] = field(default_factory=list)

    @property
    def n_periods(self) -> int:
        return len(self.periods)


def build_problem_data(instance: Instance) -> ProblemData:
    """Derive the sparse sets and scaled parameters of ``instance``."""
    spec = instance.spec
    hz = spec.horizon
    periods = list(hz.periods)
    n, years, rate = len(periods), hz.period_years, hz.discount_rate
    T = range(n)
    d_s = [(1 + rate) ** -(t * years) for t in T]
    d_m = [(1 + rate) ** -(t * years + years / 2) for t in T]
    d_e = (1 + rate) ** -(n * years)
    hours = HOURS_PER_YEAR * years

    accs = spec.accelerators
    sites = spec.sites
    workloads = spec.workloads
    A, S, W = sorted(accs), sorted(sites), sorted(workloads)

    throughput = {(k, w): th for k in A for w in W
                  if (th := throughput_tokens_per_s(accs[k], w, workloads[w])) > 0}
    card_prices = [p for k in A for p in per_period(accs[k].price_per_card, periods) if p]
    money_unit = _power_of_ten(float(np.median(card_prices)) if card_prices else 1.0)
    token_unit = _power_of_ten(math.exp(sum(map(math.log, throughput.values())) / len(throughput))
                               ) if throughput else 1.0

    data = ProblemData(instance=instance, periods=periods, period_years=years,
                       money_unit=money_unit, token_unit=token_unit, discount_start=d_s,
                       discount_mid=d_m, discount_end=d_e, ACCELERATORS=A, SITES=S, WORKLOADS=W,
                       VENDORS=sorted({accs[k].vendor for k in A}))
    data.throughput = throughput
    data.peak_to_average = {w: workloads[w].peak_to_average for w in W}
    for w in W:
        series = spec.demand.get(w, {})
        for t, label in enumerate(periods):
            tokens_per_day = series.get(label, 0.0)
            if tokens_per_day > 0:
                data.DEMAND.append((w, t))
                data.demand_peak[(w, t)] = (tokens_per_day * workloads[w].peak_to_average
                                            / SECONDS_PER_DAY / token_unit)
                if data.demand_peak[w, t] > MAX_CARDS_OF_DEMAND:
                    raise InstanceError(instance.path, f"demand.{w}.{label}", f"found "
                                        f"{tokens_per_day:.3g} tokens/day: more than "
                                        f"{MAX_CARDS_OF_DEMAND:.0e} cards could serve, beyond "
                                        "what a plan can represent; check the units (average "
                                        "tokens per day)")

    # accelerators ------------------------------------------------------------------------
    price = {k: per_period(accs[k].price_per_card, periods) for k in A}
    supply = {k: per_period(accs[k].supply, periods) for k in A}
    first_buy = {k: periods.index(accs[k].available_from) if accs[k].available_from else 0
                 for k in A}
    for k in A:
        data.cards_per_unit[k] = accs[k].cards_per_unit
        for t in T:
            data.price_per_card[(k, t)] = price[k][t]
            if supply[k][t] is not None:
                data.supply_cards[(k, t)] = supply[k][t]

    # sites, cooling modes ------------------------------------------------------------------
    grid = {s: per_period(sites[s].grid_mw, periods) for s in S}
    elec = {s: per_period(sites[s].electricity_price_per_mwh, periods) for s in S}
    for s in S:
        for t in T:
            data.grid_mw[(s, t)] = grid[s][t]
        if not sites[s].open:
            data.OPENABLE.append(s)
        if sites[s].exclusive_cooling:
            data.EXCLUSIVE.append(s)
    data.KSC = sorted((k, s, c) for k in A for s in S for c in accs[k].cooling
                      if c in sites[s].cooling and rack_fits(accs[k], sites[s].cooling[c]))
    used_modes = {(s, c) for _, s, c in data.KSC}
    data.SC = sorted({(s, c) for s in S for c, m in sites[s].cooling.items()
                      if (s, c) in used_modes or m.existing_it_mw > 0})

    # existing fleet alive per period
    for s in S:
        for entry in sites[s].existing_fleet:
            k = entry.accelerator
            for t in T:
                if entry.age_years + t * years < accs[k].lifetime_years and entry.cards > 0:
                    key = (k, s, entry.cooling, t)
                    data.existing_cards[key] = data.existing_cards.get(key, 0.0) + entry.cards
                    data.cost_constant += (d_m[t] * accs[k].maintenance_rate * years
                                           * price[k][0] * entry.cards / money_unit)

    # purchases and the fleet they make
    fleet_keys: set[KSCT] = set(data.existing_cards)
    for (k, s, c) in data.KSC:
        acc = accs[k]
        u = acc.cards_per_unit
        life_periods = math.ceil(acc.lifetime_years / years - 1e-9)  # periods a purchase lives
        for tau in T:
            if tau < first_buy[k] or (supply[k][tau] is not None and supply[k][tau] < u):
                continue
            # supply stays in its own row (not in this bound) so that its shadow price and
            # its relaxation (when no plan exists) can be read there
            units_max = math.floor(sites[s].max_cards / u)
            if units_max < 1:
                continue
            key = (k, s, c, tau)
            data.BUY.append(key)
            data.buy_units_max[key] = units_max
            alive = range(tau, min(n, tau + life_periods))
            fleet_keys.update((k, s, c, t) for t in alive)
            if tau + life_periods < n:
                data.fleet_retires[(k, s, c, tau + life_periods)] = key
            paid = price[k][tau] * u
            age_end = (n - tau) * years
            salvage_share = max(0.0, 1 - age_end / acc.lifetime_years)
            maintenance = sum(d_m[t] * acc.maintenance_rate * years for t in alive) * paid
            data.cost_buy[key] = (d_s[tau] * paid + maintenance
                                  - d_e * salvage_share * paid) / money_unit
    # the fleet of (k, s, c) exists from its first living card to the horizon end, so that it
    # can be written as a state recursion (fleet_definition)
    first_alive: dict[KSC, int] = {}
    for (k, s, c, t) in fleet_keys:
        first_alive[k, s, c] = min(t, first_alive.get((k, s, c), n))
    data.FLEET = sorted((k, s, c, t) for (k, s, c), t0 in first_alive.items() for t in range(t0, n))
    data.fleet_first = first_alive

    # serving: (w, k, s, t) where k serves w, s is in w's regions, k has cards at s in t
    regions_ok = {(w, s) for w in W for s in S
                  if workloads[w].regions is None or sites[s].region in workloads[w].regions}
    fleet_ks_t = {(k, s, t) for (k, s, _, t) in data.FLEET}
    demand_set = set(data.DEMAND)
    data.SERVE = sorted((w, k, s, t) for (k, s, t) in fleet_ks_t for w in W
                        if (k, w) in throughput and (w, s) in regions_ok and (w, t) in demand_set)
    serving_ks_t = {(k, s, t) for (_, k, s, t) in data.SERVE}
    data.BUSY = [key for key in data.FLEET if (key[0], key[1], key[3]) in serving_ks_t]

    # energy coefficients (money_unit per card)
    for (k, s, c, t) in data.FLEET:
        acc = accs[k]
        per_card_full = (d_m[t] * elec[s][t] * hours * sites[s].cooling[c].pue
                         * acc.power_kw_per_card / 1000.0 / money_unit)
        data.cost_fleet_idle[(k, s, c, t)] = per_card_full * acc.idle_power_fraction
        data.cost_busy[(k, s, c, t)] = per_card_full * (1 - acc.idle_power_fraction)

    # cooling builds
    for (s, c) in data.SC:
        mode = sites[s].cooling[c]
        data.build_unit_mw[(s, c)] = mode.build_step_mw or 1.0
        if (s, c) not in used_modes:
            continue
        for tau in T:
            data.BUILD.append((s, c, tau))
            salvage_share = max(0.0, 1 - (n - tau) * years / mode.lifetime_years)
            data.cost_build[(s, c, tau)] = ((d_s[tau] - d_e * salvage_share)
                                            * mode.build_cost_per_mw * data.build_unit_mw[(s, c)]
                                            / money_unit)

    # sites: fixed costs and openings
    for s in S:
        fixed = sites[s].fixed_cost_per_year * years
        for t in T:
            if sites[s].open:
                data.cost_constant += d_m[t] * fixed / money_unit
            else:
                # open_cost * (open[t] - open[t-1]) discounted at d_s(t) rearranged onto open[t]
                nxt = d_s[t + 1] if t + 1 < n else 0.0
                data.cost_open[(s, t)] = (d_m[t] * fixed + sites[s].open_cost * (d_s[t] - nxt)
                                          ) / money_unit

    # policies ------------------------------------------------------------------------------
    pol = spec.policies
    budget = per_period(pol.budget_per_period, periods)
    data.budget = {t: b / money_unit for t, b in enumerate(budget) if b is not None}
    for i, rule in enumerate(pol.min_share):
        start = periods.index(rule.from_period) if rule.from_period else 0
        weight = {k: (accs[k].peak_tflops if rule.by == "tflops" else 1.0) for k in A}
        top = max(weight.values())
        coef = {k: weight[k] / top * ((1.0 if set(accs[k].tags) & set(rule.tags) else 0.0)
                                      - rule.share) for k in A}
        for t in range(start, n):
            data.min_share_rows.append((str(i), t, coef))
    vendor_rule = pol.max_vendor_share
    if vendor_rule is not None:
        share = vendor_rule if isinstance(vendor_rule, float) else vendor_rule.share
        start_label = None if isinstance(vendor_rule, float) else vendor_rule.from_period
        start = periods.index(start_label) if start_label else 0
        for v in data.VENDORS:
            coef = {k: (1.0 if accs[k].vendor == v else 0.0) - share for k in A}
            for t in range(start, n):
                data.vendor_share_rows.append((v, t, coef))

    if pol.unmet_demand_cost_per_million_tokens is not None:
        for (w, t) in data.DEMAND:
            tokens_per_unit = (token_unit / workloads[w].peak_to_average * SECONDS_PER_DAY
                               * DAYS_PER_YEAR * years)
            data.cost_unmet[(w, t)] = (d_m[t] * tokens_per_unit / 1e6
                                       * pol.unmet_demand_cost_per_million_tokens / money_unit)
    return data
