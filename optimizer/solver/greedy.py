"""A constructive first plan, built without any LP: period by period, each workload's demand
not yet covered is bought on the cheapest placement per token/s that every cap still allows
(card slots over the card's life, cooling it can build under the grid in every later period,
supply, the capex budget, opening a site, the share policies), with cooling built and sites
opened as the purchases need them. Its integer decisions, fixed, leave an LP over serving and
energy that the solver strategy solves to make the plan exact (or reports as no plan).

It is a heuristic: it looks at one purchase at a time and assumes each card serves the
workload it was bought for. It exists so that a plan is there within seconds whatever the
size, for the branch and bound to improve.

With a first stage fixed (a stochastic plan's candidate evaluated in one future, a re-plan),
the fixed decisions are taken as they are, their cards serve whatever demand they can, and
the greedy fills the rest with the decisions left free: otherwise its own first stage, which
the fix overrides, leaves its later periods short or over the slots and the LP has no plan.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Mapping

from optimizer.problem import KSCT, ProblemData
from optimizer.problem.costs import CAPEX_KINDS
from optimizer.problem.entries import decision_entries

TOLERANCE = 1e-9


@dataclass
class GreedyPlan:
    """Integer decisions of a constructive plan.

    Attributes:
        units: purchase key (k,s,c,t) -> units bought.
        builds: (s,c,t) -> build units (of ``build_unit_mw``).
        opened: site -> first period it is open.
        modes: exclusive-cooling site -> the mode it uses.
        unserved: (w,t) -> peak demand left unserved (token_unit; soft demand only).
        rented: (rental, t) -> cards rented.
        failed: why no plan was made (empty when one was).
    """

    units: dict[KSCT, int] = field(default_factory=dict)
    builds: dict[tuple[str, str, int], float] = field(default_factory=dict)
    opened: dict[str, int] = field(default_factory=dict)
    unserved: dict[tuple[str, int], float] = field(default_factory=dict)
    modes: dict[str, str] = field(default_factory=dict)
    rented: dict[tuple[str, int], int] = field(default_factory=dict)
    failed: str = ""

    def value(self, variable: str, index: Any) -> float:
        """The plan's value of the integer column ``variable[index]`` (a model's variable
        name and index: units_bought, build, site_open, cooling_mode, cards_rented; 0 for
        any other)."""
        if variable == "units_bought":
            return float(self.units.get(index, 0))
        if variable == "build":
            return float(self.builds.get(index, 0.0))
        if variable == "site_open":
            site, t = index
            return 1.0 if site in self.opened and t >= self.opened[site] else 0.0
        if variable == "cooling_mode":
            site, mode = index
            return 1.0 if self.modes.get(site) == mode else 0.0
        if variable == "cards_rented":
            return float(self.rented.get(index, 0))
        return 0.0


class _State:
    """What the plan holds so far, period by period."""

    def __init__(self, data: ProblemData) -> None:
        self.data = data
        n = data.n_periods
        self.cards = defaultdict(float)              # (s, t) -> cards
        self.load = defaultdict(float)               # (s, c, t) -> IT MW of the cards
        self.capacity = {key: [data.existing_it_mw[key]] * n for key in data.SC}
        self.supplied = defaultdict(float)           # (k, t) -> cards delivered
        self.capex = defaultdict(float)              # t -> capex (currency)
        self.fleet = defaultdict(float)              # (k, t) -> cards of k alive
        self.serving = defaultdict(float)            # (w, t) -> peak tokens/s covered (units)
        self.last_key: KSCT | None = None            # the purchase _place made last
        self.opened: dict[str, int] = {}
        self.mode: dict[str, str] = {}               # exclusive-cooling site -> its mode
        for (s, c), mw in data.existing_it_mw.items():
            if mw > 0 and s in data.EXCLUSIVE:
                self.mode[s] = c
        for (k, s, c, t), cards in data.existing_cards.items():
            self.cards[s, t] += cards
            self.load[s, c, t] += cards * data.power_kw_per_card[k] / 1000
            self.fleet[k, t] += cards

    def open_from(self, s: str) -> int | None:
        if s not in self.data.OPENABLE:
            return 0
        return self.opened.get(s)


def _alive(data: ProblemData, key: KSCT) -> range:
    k, _, _, tau = key
    return data.alive(k, tau)


def _capex_per_unit(data: ProblemData, key: KSCT) -> dict[int, float]:
    """Undiscounted capex of one purchase unit by period (deposit at order, balance at
    delivery), in currency."""
    spend: dict[int, float] = defaultdict(float)
    for t, kind, money in decision_entries(data, "units_bought", key, reported=False):
        if kind in CAPEX_KINDS:
            spend[t] += money
    return spend


def _rent(data: ProblemData, state: _State, plan: GreedyPlan, ranked: list, w: str, t: int,
          deficit: float) -> float:
    """Rent the cheapest rental that still has cards for ``deficit`` of w in t; what it
    covers (peak demand), 0 when none can."""
    for _, r in ranked:
        k = data.rental_accelerator[r]
        rate = data.throughput[k, w] * data.availability[k] / data.token_unit
        wanted = _needs_tagged(data, state, t, 1.0)
        if wanted is not None and k not in wanted:
            continue
        cards = math.ceil(deficit / rate - TOLERANCE)
        cap = data.rental_max_cards.get((r, t))
        if cap is not None:
            cards = int(min(cards, cap - plan.rented.get((r, t), 0)))
        if cards <= 0:
            continue
        plan.rented[r, t] = plan.rented.get((r, t), 0) + cards
        state.fleet[k, t] += cards
        state.serving[w, t] += cards * rate
        return cards * rate
    return 0.0


def _needs_tagged(data: ProblemData, state: _State, t: int, cards: float) -> set[str] | None:
    """The accelerators the next ``cards`` must come from for every min_share rule to hold in
    t (None: any)."""
    wanted = None
    for rule in data.min_share:
        if t < rule.start:
            continue
        total = sum(rule.weight[k] * state.fleet[k, t] for k in data.ACCELERATORS)
        tagged = sum(rule.weight[k] * state.fleet[k, t] for k in rule.members)
        top = max(rule.weight.values()) or 1.0
        if tagged + TOLERANCE < rule.share * (total + cards * top):
            wanted = set(rule.members) if wanted is None else wanted & set(rule.members)
    return wanted


def _cooling_needed(data: ProblemData, state: _State, s: str, c: str, alive: range,
                    added_mw: float) -> tuple[dict[int, float], bool]:
    """Build units to add per period so that ``added_mw`` more IT load fits in ``alive``
    (capacity never shrinks), and whether the grid allows it in every later period."""
    cap = list(state.capacity[s, c])
    builds: dict[int, float] = {}
    unit = data.build_unit_mw[s, c]
    stepped = (s, c) in data.STEPPED
    for t in alive:
        need = state.load[s, c, t] + added_mw
        if need <= cap[t] + TOLERANCE:
            continue
        if (s, c, t) not in data.cost_build:
            return {}, False
        more = (need - cap[t]) / unit
        more = math.ceil(more - TOLERANCE) if stepped else more
        builds[t] = builds.get(t, 0.0) + more
        for later in range(t, data.n_periods):
            cap[later] += more * unit
    for t in range(data.n_periods):
        facility = sum(data.pue[ss, cc] * (cap[t] if cc == c else state.capacity[ss, cc][t])
                       for (ss, cc) in data.SC if ss == s)
        if facility > data.grid_mw[s, t] + 1e-7 and builds:
            return {}, False
    return builds, True


def greedy_plan(data: ProblemData,
                fixed: Mapping[str, Mapping[Any, float]] | None = None) -> GreedyPlan:
    """A constructive plan (see the module docstring); ``fixed``: variable -> key -> value of
    the decisions fixed before the solve (:func:`optimizer.pipeline.first_stage_values`),
    which the plan keeps and does not add to."""
    plan = GreedyPlan()
    state = _State(data)
    fixed = fixed or {}
    frozen_units = set(fixed.get("units_bought", {}))
    frozen_rentals = set(fixed.get("cards_rented", {}))
    options = defaultdict(list)                  # (w, t) -> (cost per token/s unit, key)
    buys = set(data.BUY) - frozen_units
    serve = set(data.SERVE)
    life_cost = {}
    for key in data.BUY:
        k, s, c, tau = key
        per_card = data.cost_buy[key] / data.cards_per_unit[k]
        energy = sum(data.cost_fleet_idle.get((k, s, c, t), 0.0)
                     + data.cost_busy.get((k, s, c, t), 0.0) for t in _alive(data, key))
        build = 0.0
        if (s, c, tau) in data.cost_build:
            build = data.cost_build[s, c, tau] / data.build_unit_mw[s, c] \
                * data.power_kw_per_card[k] / 1000
        opening = data.cost_open.get((s, tau), 0.0) / max(data.max_cards[s], 1)
        life_cost[key] = per_card + energy + build + opening
    by_kst = defaultdict(list)
    for key in data.BUY:
        if key in buys:
            by_kst[key[0], key[1], key[3]].append(key)
    for (w, k, s, t) in data.SERVE:
        for key in by_kst.get((k, s, t), []):
            per_token = life_cost[key] / (data.throughput[k, w] * data.availability[k]
                                          / data.token_unit)
            options[w, t].append((per_token, key))
    for values in options.values():
        values.sort()
    rentals = defaultdict(list)                  # (w, t) -> (cost per token/s unit, rental)
    for (w, r, t) in data.RENT_SERVE:
        if (r, t) in frozen_rentals:
            continue
        k = data.rental_accelerator[r]
        rentals[w, t].append((data.cost_rent[r, t] / (data.throughput[k, w] * data.availability[k]
                                                      / data.token_unit), r))
    for values in rentals.values():
        values.sort()
    per_period = {}                              # a purchase's cost per token/s per period
    for (w, t), values in options.items():
        for cost, key in values:
            per_period[w, key] = cost / max(len(_alive(data, key)), 1)
    cheapest = defaultdict(list)                 # t -> (cost per card, key): for share rules
    for key, cost in life_cost.items():
        if key in buys:
            cheapest[key[3]].append((cost, key))
    for values in cheapest.values():
        values.sort()
    # what the installed fleet and the fixed decisions cover, workload by workload
    for (k, s, c, t), cards in data.existing_cards.items():
        _cover(data, state, serve, k, s, t, cards)
    _take_fixed(data, state, plan, fixed, serve)
    for t in range(data.n_periods):
        for w in sorted(data.WORKLOADS, key=lambda w: -data.demand_peak.get((w, t), 0.0)):
            deficit = data.demand_peak.get((w, t), 0.0) - state.serving[w, t]
            while deficit > 1e-7:
                ranked = options.get((w, t), [])
                renting = rentals.get((w, t), [])
                placed = 0.0
                if renting and (not ranked or renting[0][0] < per_period[w, ranked[0][1]]):
                    placed = _rent(data, state, plan, renting, w, t, deficit)
                if placed <= 0:
                    placed = _place(data, state, plan, ranked, w, t, deficit, buys)
                if placed <= 0 and renting:
                    placed = _rent(data, state, plan, renting, w, t, deficit)
                if placed <= 0:
                    if (w, t) in data.cost_unmet:
                        plan.unserved[w, t] = deficit
                        break
                    plan.failed = (f"no placement left for {w} in {data.periods[t]} "
                                   f"({deficit * data.token_unit:,.0f} tokens/s short)")
                    return plan
                deficit -= placed
        failed = _repair_shares(data, state, plan, t, cheapest.get(t, []), buys, serve)
        if failed:
            plan.failed = failed
            return plan
    plan.opened = dict(state.opened)
    plan.modes = dict(state.mode)
    return plan


def _cover(data: ProblemData, state: _State, serve: set, k: str, s: str, t: int,
           cards: float) -> None:
    """Let ``cards`` of k at s in t serve the demand still uncovered, workload by workload."""
    left = cards
    for w in data.WORKLOADS:
        if left <= 0 or (w, k, s, t) not in serve:
            continue
        rate = data.throughput[k, w] * data.availability[k] / data.token_unit
        need = data.demand_peak.get((w, t), 0.0) - state.serving[w, t]
        used = min(left, max(need, 0.0) / rate) if rate else 0.0
        state.serving[w, t] += used * rate
        left -= used


def _take_fixed(data: ProblemData, state: _State, plan: GreedyPlan,
                fixed: Mapping[str, Mapping[Any, float]], serve: set) -> None:
    """Put the fixed decisions into the plan and the state: their cards, load, supply and
    capex, the cooling they built, the sites they opened; their cards serve what they can."""
    for (s, c, t), amount in fixed.get("build", {}).items():
        if amount > TOLERANCE:
            _add_builds(data, state, plan, s, c, {t: amount}, capex=True)
            if s in data.EXCLUSIVE:
                state.mode[s] = c
    for (s, t), is_open in fixed.get("site_open", {}).items():
        if is_open > 0.5 and t < state.opened.get(s, data.n_periods):
            state.opened[s] = t
    for key, units in fixed.get("units_bought", {}).items():
        if units <= TOLERANCE:
            continue
        k, s, c, tau = key
        plan.units[key] = int(round(units))
        cards = units * data.cards_per_unit[k]
        # cards ordered now and delivered later need cooling then, which is not fixed
        builds, fits = _cooling_needed(data, state, s, c, _alive(data, key),
                                       cards * data.power_kw_per_card[k] / 1000)
        if fits:
            _add_builds(data, state, plan, s, c, builds, capex=True)
        for t in _alive(data, key):
            state.cards[s, t] += cards
            state.load[s, c, t] += cards * data.power_kw_per_card[k] / 1000
            state.fleet[k, t] += cards
            _cover(data, state, serve, k, s, t, cards)
        state.supplied[k, tau] += cards
        for t, money in _capex_per_unit(data, key).items():
            state.capex[t] += units * money / data.money_unit
        if s in data.OPENABLE:
            state.opened[s] = min(tau, state.opened.get(s, tau))
        if s in data.EXCLUSIVE:
            state.mode[s] = c
    rent_serve = set(data.RENT_SERVE)
    for (r, t), cards in fixed.get("cards_rented", {}).items():
        if cards <= TOLERANCE:
            continue
        k = data.rental_accelerator[r]
        plan.rented[r, t] = int(round(cards))
        state.fleet[k, t] += cards
        for w in data.WORKLOADS:
            if (w, r, t) in rent_serve and cards > 0:
                rate = data.throughput[k, w] * data.availability[k] / data.token_unit
                need = max(data.demand_peak.get((w, t), 0.0) - state.serving[w, t], 0.0)
                used = min(cards, need / rate) if rate else 0.0
                state.serving[w, t] += used * rate
                cards -= used


def _add_builds(data: ProblemData, state: _State, plan: GreedyPlan, s: str, c: str,
                builds: Mapping[int, float], capex: bool = False) -> None:
    """Build ``builds`` (period -> build units) of cooling c at s: the capacity from then on,
    and (``capex``) their capex in the state's budget."""
    unit = data.build_unit_mw[s, c]
    for t, amount in builds.items():
        plan.builds[s, c, t] = plan.builds.get((s, c, t), 0.0) + amount
        for later in range(t, data.n_periods):
            state.capacity[s, c][later] += amount * unit
        if capex:
            state.capex[t] += amount * unit * data.build_cost_per_mw[s, c] / data.money_unit


def _place(data: ProblemData, state: _State, plan: GreedyPlan, ranked: list, w: str | None,
           t: int, deficit: float, buys: set, allowed: set[str] | None = None) -> float:
    """Buy the cheapest placement that fits for ``deficit`` of w in t (``w`` None: cards,
    for a share rule, of the accelerators ``allowed``); what it covers (peak demand, or
    cards), 0 when nothing fits."""
    for _, key in ranked:
        k, s, c, tau = key
        if s in state.mode and state.mode[s] != c:
            continue                             # an exclusive site keeps its one mode
        if allowed is not None and k not in allowed:
            continue
        u = data.cards_per_unit[k]
        rate = (data.throughput[k, w] * data.availability[k] / data.token_unit
                if w is not None else 1.0)         # per card
        units = math.ceil(deficit / (rate * u) - TOLERANCE)
        alive = _alive(data, key)
        wanted = _needs_tagged(data, state, t, units * u) if w is not None else None
        if wanted is not None and k not in wanted:
            continue
        room = min(data.max_cards[s] - state.cards[s, tt] for tt in alive) // u
        supply = data.supply_cards.get((k, tau))
        if supply is not None:
            room = min(room, (supply - state.supplied[k, tau]) // u)
        units = int(min(units, room, data.buy_units_max[key] - plan.units.get(key, 0)))
        if units <= 0:
            continue
        opening = data.open_cost[s] if s in data.OPENABLE and s not in state.opened else 0.0
        builds, fits = _cooling_needed(data, state, s, c, alive,
                                       units * u * data.power_kw_per_card[k] / 1000)
        if not fits:
            # fewer units may fit under the grid
            while units > 1 and not fits:
                units //= 2
                builds, fits = _cooling_needed(data, state, s, c, alive,
                                               units * u * data.power_kw_per_card[k] / 1000)
            if not fits:
                continue
        spend = defaultdict(float)
        for tt, money in _capex_per_unit(data, key).items():
            spend[tt] += units * money
        spend[tau] += opening
        for bt, amount in builds.items():
            spend[bt] += amount * data.build_unit_mw[s, c] * data.build_cost_per_mw[s, c]
        if any(tt in data.budget and state.capex[tt] + money / data.money_unit
               > data.budget[tt] + TOLERANCE for tt, money in spend.items()):
            continue
        # commit
        state.last_key = key
        plan.units[key] = plan.units.get(key, 0) + units
        for tt in alive:
            state.cards[s, tt] += units * u
            state.load[s, c, tt] += units * u * data.power_kw_per_card[k] / 1000
            state.fleet[k, tt] += units * u
            if w is not None:
                state.serving[w, tt] += units * u * rate
        state.supplied[k, tau] += units * u
        _add_builds(data, state, plan, s, c, builds)
        for tt, money in spend.items():
            state.capex[tt] += money / data.money_unit
        if opening or (s in data.OPENABLE and s not in state.opened):
            state.opened[s] = min(tau, state.opened.get(s, tau))
        if s in data.EXCLUSIVE:
            state.mode[s] = c
        return units * u * rate
    return 0.0


SHARE_REPAIR_ROUNDS = 50
"""Rounds of :func:`_repair_shares` before it gives up. Each round's purchases can break
another rule a little (one vendor cap's other cards raise another vendor's share, or lower a
minimum share), so rounds converge geometrically: the benchmark's xxl size with procurement
and energy (a 20 % domestic minimum beside 70 % vendor caps), seeds 2 and 3, and the small
size's seed 35 (vendor caps alone) were not repaired in 6."""


def _repair_shares(data: ProblemData, state: _State, plan: GreedyPlan, t: int, ranked: list,
                   buys: set, serve: set, rounds: int = SHARE_REPAIR_ROUNDS) -> str:
    """Buy the cards that bring every share rule of period t back within its bounds: tagged
    cards for a minimum share, other vendors' cards for a vendor cap; each preferring cards
    that break no other rule of period t (a minimum share's tagged cards of vendors below
    their cap; a vendor cap's other cards of vendors below theirs, tagged for every minimum
    share), so that the repairs do not pull against each other. The cards bought serve the
    later periods' demand they can (:func:`_cover`), so that those periods do not buy it
    again. Returns why it could not (empty when it could)."""
    in_force_min = [rule for rule in data.min_share if t >= rule.start and rule.share < 1]
    in_force_caps = [rule for rule in data.vendor_share if t >= rule.start and rule.share > 0]

    def place(wanted: float, *tiers: set[str]) -> float:
        """Cards of the first of ``tiers`` (sets of accelerators) that has room for them."""
        for tier in tiers:
            if tier:
                placed = _place(data, state, plan, ranked, None, t, wanted, buys,
                                allowed=tier)
                if placed > 0:
                    k, s, _, _ = state.last_key
                    for tt in _alive(data, state.last_key):
                        _cover(data, state, serve, k, s, tt, placed)
                    return placed
        return 0.0

    def capped() -> set[str]:
        """Accelerators of the vendors at their cap in t."""
        total = sum(state.fleet[k, t] for k in data.ACCELERATORS)
        return set().union(*(cap.members for cap in in_force_caps if sum(
            state.fleet[k, t] for k in cap.members) >= cap.share * total - TOLERANCE))

    for _ in range(rounds):
        broken = False
        for rule in in_force_min:
            total = sum(rule.weight[k] * state.fleet[k, t] for k in data.ACCELERATORS)
            tagged = sum(rule.weight[k] * state.fleet[k, t] for k in rule.members)
            missing = (rule.share * total - tagged) / (1 - rule.share)
            if missing > TOLERANCE:
                broken = True
                top = max(rule.weight[k] for k in rule.members) if rule.members else 1.0
                members = set(rule.members)
                if place(missing / top, members - capped(), members) <= 0:
                    return f"cannot reach {rule.description} in {data.periods[t]}"
        for rule in in_force_caps:
            total = sum(state.fleet[k, t] for k in data.ACCELERATORS)
            vendor = sum(state.fleet[k, t] for k in rule.members)
            missing = vendor / rule.share - total
            if missing > TOLERANCE:
                broken = True
                others = set(data.ACCELERATORS) - set(rule.members)
                tagged = others.intersection(*(minimum.members for minimum in in_force_min))
                free = others - capped()
                if place(missing, tagged & free, free, others) <= 0:
                    return f"cannot keep {rule.description} in {data.periods[t]}"
        if not broken:
            return ""
    return f"share rules in {data.periods[t]} pull against each other"
