"""Rounding the LP relaxation's purchases to whole units for the first plan.

Start from the floors; then round up, largest fraction first, wherever the site's card slots
(in every period the cards live) and the period's supply still allow it.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Mapping

from optimizer.problem import KSCT, ProblemData


def _step_ceil(mw: float, existing: float, step: float | None) -> float:
    """IT MW of a mode once ``mw`` of load is covered by whole build steps."""
    if mw <= existing + 1e-9:
        return existing
    if step is None:
        return mw
    return existing + step * math.ceil((mw - existing) / step - 1e-9)


def round_purchases(data: ProblemData, relaxed: Mapping[KSCT, float]) -> dict[KSCT, float]:
    """Whole purchase units near ``relaxed`` that respect max_cards, supply and the grid
    (with cooling built in whole steps)."""
    kw = data.power_kw_per_card
    rounded = {key: math.floor(value + 1e-6) for key, value in relaxed.items()}
    cards_at = defaultdict(float)          # (site, t) -> cards
    load_mw = defaultdict(float)           # (site, mode, t) -> IT MW of the cards
    for (k, s, c, t), cards in data.existing_cards.items():
        cards_at[s, t] += cards
        load_mw[s, c, t] += cards * kw[k] / 1000
    bought = defaultdict(float)            # (accelerator, t) -> cards
    for (k, s, c, tau), units in rounded.items():
        u = data.cards_per_unit[k]
        bought[k, tau] += units * u
        for t in data.alive(k, tau):
            cards_at[s, t] += units * u
            load_mw[s, c, t] += units * u * kw[k] / 1000
    modes = defaultdict(list)
    for (s, c) in data.SC:
        modes[s].append(c)

    def facility_mw(s: str, t: int, extra: tuple[str, float] = ("", 0.0)) -> float:
        total = 0.0
        for c in modes[s]:
            load = max(load_mw[s, c, tau] for tau in range(t + 1))  # capacity never shrinks
            if c == extra[0]:
                load = max(load, load_mw[s, c, t] + extra[1])
            step = data.build_unit_mw[s, c] if (s, c) in data.STEPPED else None
            total += data.pue[s, c] * _step_ceil(load, data.existing_it_mw[s, c], step)
        return total
    _fit_floors_to_grid(data, rounded, relaxed, cards_at, load_mw, bought, facility_mw)
    fractions = sorted(((value - rounded[key], key) for key, value in relaxed.items()
                        if value - rounded[key] > 1e-6), reverse=True)
    options = defaultdict(list)            # (accelerator, t) -> purchase keys
    for key in relaxed:
        options[key[0], key[3]].append(key)

    def add_unit(key: KSCT) -> bool:
        k, s, c, tau = key
        u = data.cards_per_unit[k]
        alive = data.alive(k, tau)
        added_mw = u * kw[k] / 1000
        if rounded[key] + 1 > data.buy_units_max[key] or any(
                cards_at[s, t] + u > data.max_cards[s]
                or facility_mw(s, t, (c, added_mw)) > data.grid_mw[s, t] + 1e-9 for t in alive):
            return False
        rounded[key] += 1
        bought[k, tau] += u
        for t in alive:
            cards_at[s, t] += u
            load_mw[s, c, t] += added_mw
        return True

    for _, key in fractions:
        k, s, c, tau = key
        supply = data.supply_cards.get((k, tau))
        if supply is not None and bought[k, tau] + data.cards_per_unit[k] > supply + 1e-9:
            continue
        if add_unit(key):
            continue
        # no room where the relaxation put it: place the unit at another site with room,
        # one of the same region first
        region = data.region[s]
        for other in sorted(options[k, tau], key=lambda o: data.region[o[1]] != region):
            if other != key and add_unit(other):
                break
    return rounded


def _fit_floors_to_grid(data: ProblemData, rounded: dict[KSCT, float],
                        relaxed: Mapping[KSCT, float], cards_at: dict, load_mw: dict,
                        bought: dict, facility_mw) -> None:
    """Take units off the floors where whole cooling steps would not fit the grid: the
    relaxation fills a grid with fractional steps (36.4 MW of liquid at PUE 1.14 beside
    air's 6.9 MW at 1.38 is 50.97 MW of a 51 MW connection; in 1 MW steps it is 51.7 MW).
    At each such site and period, the unit of the latest delivery there goes first, until
    the steps fit; the rest of the plan (other sites, rentals) covers the demand."""
    kw = data.power_kw_per_card
    by_site = defaultdict(list)
    for key in rounded:
        by_site[key[1]].append(key)
    for s in sorted(by_site):
        keys = sorted(by_site[s], key=lambda key: (-key[3], relaxed[key]))
        for t in range(data.n_periods):
            while facility_mw(s, t) > data.grid_mw[s, t] + 1e-9:
                alive = [key for key in keys if rounded[key] > 0 and t in data.alive(key[0],
                                                                                     key[3])]
                if not alive:
                    break
                k, _, c, tau = key = alive[0]
                u = data.cards_per_unit[k]
                rounded[key] -= 1
                bought[k, tau] -= u
                for when in data.alive(k, tau):
                    cards_at[s, when] -= u
                    load_mw[s, c, when] -= u * kw[k] / 1000


def round_rest(data: ProblemData, relaxed: Mapping[tuple[str, tuple], float]
               ) -> dict[tuple[str, tuple], float]:
    """Whole cooling build steps, openings and cooling modes once purchases are whole.

    Builds are rounded on their running total (capacity never shrinks), so that fractions in
    several periods do not each cost a whole step; openings round up; an exclusive-cooling
    site keeps the one mode the relaxation leaned to most.
    """
    rounded: dict[tuple[str, tuple], float] = {}
    running = defaultdict(float)
    steps_so_far = defaultdict(float)
    for (name, index), value in sorted(relaxed.items(), key=lambda item: (item[0][0], item[0][1][:-1], item[0][1][-1])
                                       if item[0][0] == "build" else (item[0][0], item[0][1], 0)):
        if name == "build":
            s, c, t = index
            running[s, c] += value
            total = math.ceil(running[s, c] - 1e-6)
            rounded[name, index] = max(total - steps_so_far[s, c], 0)
            steps_so_far[s, c] += rounded[name, index]
        elif name == "cooling_mode":
            s, c = index
            best = max((v, cc) for (n, (ss, cc)), v in relaxed.items()
                       if n == "cooling_mode" and ss == s)[1]
            rounded[name, index] = 1.0 if c == best and value > 1e-6 else 0.0
        else:
            rounded[name, index] = math.ceil(value - 1e-6)
    return rounded
