"""Step builder: energy, carbon and water (shared/design/energy.md): grid carbon by site and
period, supply contracts (PPAs), the carbon price and cap, water use per cooling mode, its
price and its cap."""
from __future__ import annotations

from optimizer.instance.derived import per_period
from optimizer.problem.data import ProblemData


def add_energy(data: ProblemData, spec) -> None:
    """Per (s,t): grid carbon (kg CO2 per MWh); per (s,c): WUE (litres per kWh of IT energy);
    per s: water price (per m3) and cap (m3 per period: the yearly cap x L); per t: carbon
    price (per tonne) and the fleet-wide cap (tonnes per period: yearly cap x L). PPA: (s,p,t)
    for contracts that can deliver (max_mw x capacity_factor x H MWh a period, > 0) at sites
    with cards."""
    periods, years, hours = data.periods, data.period_years, data.timeline.hours
    with_cards = {s for (_, s, _, _) in data.FLEET}
    for s in data.SITES:
        site = spec.sites[s]
        for t, kg in enumerate(per_period(site.grid_carbon_kg_per_mwh, periods)):
            data.grid_carbon_kg_per_mwh[s, t] = kg
        data.water_price_per_m3[s] = site.water_price_per_m3
        if site.max_water_m3_per_year is not None:
            for t in range(data.n_periods):
                data.water_cap_m3[s, t] = site.max_water_m3_per_year * years
        for c, mode in site.cooling.items():
            data.wue_l_per_kwh[s, c] = mode.wue_l_per_kwh
        if s not in with_cards:
            continue
        for p in sorted(site.ppa):
            contract = site.ppa[p]
            mwh = contract.max_mw * contract.capacity_factor * hours
            if mwh <= 0:
                continue
            data.ppa_price_per_mwh[s, p] = contract.price_per_mwh
            data.ppa_carbon_kg_per_mwh[s, p] = contract.carbon_kg_per_mwh
            for t in range(data.n_periods):
                data.PPA.append((s, p, t))
                data.ppa_max_mwh[s, p, t] = mwh
    pol = spec.policies
    for t, price in enumerate(per_period(pol.carbon_price_per_t, periods, missing=0.0)):
        data.carbon_price_per_t[t] = price or 0.0
    for t, cap in enumerate(per_period(pol.carbon_cap_t_per_year, periods)):
        if cap is not None:
            data.carbon_cap_t[t] = cap * years
