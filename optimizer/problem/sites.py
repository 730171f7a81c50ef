"""Step builder: sites and their cooling modes (regions, card slots, grid caps, PUE, existing
halls, build steps), and the (accelerator, site, mode) triples that can exist."""
from __future__ import annotations

from optimizer.instance.derived import per_period, rack_fits
from optimizer.problem.data import ProblemData


def add_sites(data: ProblemData, spec) -> None:
    """Per site s: region, max_cards, grid MW and electricity price by period, opening and
    fixed costs, whether it may open or uses one cooling mode; per mode (s,c): PUE, existing
    IT MW, the MW of one build unit (a whole ``build_step_mw``, or 1 MW when built
    continuously), its cost per MW and lifetime. KSC holds (k,s,c) where c is a mode
    of k and of s and k's racks fit the mode; SC the modes in use or with an existing hall."""
    periods = data.periods
    for s in data.SITES:
        site = spec.sites[s]
        data.region[s] = site.region
        data.max_cards[s] = site.max_cards
        for t, mw in enumerate(per_period(site.grid_mw, periods)):
            data.grid_mw[s, t] = mw
        for t, price in enumerate(per_period(site.electricity_price_per_mwh, periods)):
            data.electricity_price_per_mwh[s, t] = price
        data.open_cost[s] = site.open_cost
        data.fixed_cost_per_year[s] = site.fixed_cost_per_year
        if not site.open:
            data.OPENABLE.append(s)
        if site.exclusive_cooling:
            data.EXCLUSIVE.append(s)
        for c, mode in site.cooling.items():
            data.pue[s, c] = mode.pue
            data.existing_it_mw[s, c] = mode.existing_it_mw
            data.build_unit_mw[s, c] = mode.build_step_mw or 1.0
            data.build_cost_per_mw[s, c] = mode.build_cost_per_mw
            data.cooling_lifetime_years[s, c] = mode.lifetime_years
            if mode.build_step_mw:
                data.STEPPED.add((s, c))
    accs = spec.accelerators
    data.KSC = sorted((k, s, c) for k in data.ACCELERATORS for s in data.SITES
                      for c in accs[k].cooling if c in spec.sites[s].cooling
                      and rack_fits(accs[k], spec.sites[s].cooling[c]))
    used_modes = {(s, c) for _, s, c in data.KSC}
    data.SC = sorted({(s, c) for s in data.SITES for c, m in spec.sites[s].cooling.items()
                      if (s, c) in used_modes or m.existing_it_mw > 0})
