"""Plain-data descriptions of an instance (what ``accelplan validate`` prints)."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from optimizer.instance.derived import banned_accelerators, memory_dropped_pairs, per_period
from optimizer.instance.warnings import instance_warnings
from optimizer.instance.loader import Instance


def describe_instance(instance: Instance) -> dict[str, Any]:
    """What the instance holds: periods, workloads with total tokens, accelerators by vendor,
    sites with MW and card caps. Plain JSON-ready data."""
    spec = instance.spec
    periods = spec.horizon.periods
    years = spec.horizon.period_years
    workloads = []
    for name, wl in spec.workloads.items():
        series = spec.demand.get(name, {})
        total_tokens = sum(v * 365 * years for v in series.values())
        workloads.append({"workload": name, "peak_to_average": wl.peak_to_average,
                          "regions": wl.regions or ["any"],
                          "total_tokens": total_tokens,
                          "tokens_per_day_last_period": series.get(periods[-1], 0.0)})
    vendors: dict[str, list[str]] = defaultdict(list)
    for name, acc in spec.accelerators.items():
        vendors[acc.vendor].append(name)
    sites = []
    for name, site in spec.sites.items():
        grid = per_period(site.grid_mw, periods)
        sites.append({"site": name, "region": site.region, "open": site.open,
                      "max_cards": site.max_cards, "grid_mw_min": min(grid),
                      "grid_mw_max": max(grid), "cooling": list(site.cooling),
                      "existing_it_mw": sum(m.existing_it_mw for m in site.cooling.values()),
                      "existing_cards": sum(e.cards for e in site.existing_fleet)})
    return {"procurement": describe_procurement(instance), "energy": describe_energy(instance),
            "name": spec.name, "file": str(instance.path), "currency": spec.currency,
            "periods": periods, "period_years": years,
            "discount_rate": spec.horizon.discount_rate, "workloads": workloads,
            "accelerators_by_vendor": dict(vendors), "sites": sites,
            "scenarios": list(spec.scenarios.members) if spec.scenarios else [],
            "warnings": instance_warnings(spec), "input_sha256": instance.input_sha256}


def describe_procurement(instance: Instance) -> dict[str, Any]:
    """What the procurement fields add: orders on the way, rentals, bans and tariffs in force,
    lead times and deposits, pairs dropped by memory fit (plain data; empty lists when none)."""
    spec = instance.spec
    accs = spec.accelerators
    periods = spec.horizon.periods
    on_order = [{"site": s, "accelerator": e.accelerator, "cooling": e.cooling,
                 "cards": e.cards, "arrives": e.arrives}
                for s, site in spec.sites.items() for e in site.on_order]
    rentals = [{"rental": r, "accelerator": x.accelerator, "region": x.region,
                "price_per_card_hour": x.price_per_card_hour, "max_cards": x.max_cards}
               for r, x in spec.rentals.items()]
    rules = []
    for rule in spec.policies.ban:
        rules.append({"rule": "ban", "accelerators": banned_accelerators(rule, accs),
                      "from": rule.from_period or periods[0], "installed": rule.installed})
    for rule in spec.policies.tariff:
        rules.append({"rule": "tariff", "accelerators": banned_accelerators(rule, accs),
                      "from": rule.from_period or periods[0], "rate": rule.rate})
    lead = [{"accelerator": k, "lead_time_periods": a.lead_time_periods,
             "deposit_fraction": a.deposit_fraction} for k, a in accs.items()
            if a.lead_time_periods or a.deposit_fraction < 1]
    dropped = [{"accelerator": k, "workload": w, "memory_gb": accs[k].memory_gb,
                "scale_up_cards": accs[k].scale_up_cards or accs[k].cards_per_unit,
                "model_memory_gb": spec.workloads[w].model_memory_gb}
               for k, w in memory_dropped_pairs(accs, spec.workloads)]
    return {"on_order": on_order, "rentals": rentals, "rules": rules, "lead_times": lead,
            "memory_dropped": dropped}


def describe_energy(instance: Instance) -> dict[str, Any]:
    """What the energy fields add: grid carbon, water and supply contracts per site, the
    carbon price and cap (plain data; empty lists when none)."""
    spec = instance.spec
    periods = spec.horizon.periods
    sites = []
    for name, site in spec.sites.items():
        carbon = per_period(site.grid_carbon_kg_per_mwh, periods)
        wue = {c: m.wue_l_per_kwh for c, m in site.cooling.items() if m.wue_l_per_kwh}
        if not (any(carbon) or wue or site.water_price_per_m3 or site.ppa
                or site.max_water_m3_per_year is not None):
            continue
        sites.append({"site": name, "grid_carbon_kg_per_mwh": [min(carbon), max(carbon)],
                      "wue_l_per_kwh": wue, "water_price_per_m3": site.water_price_per_m3,
                      "max_water_m3_per_year": site.max_water_m3_per_year,
                      "ppa": {p: {"max_mw": c.max_mw, "capacity_factor": c.capacity_factor,
                                  "price_per_mwh": c.price_per_mwh,
                                  "carbon_kg_per_mwh": c.carbon_kg_per_mwh}
                              for p, c in site.ppa.items()}})
    pol = spec.policies
    return {"sites": sites, "carbon_price_per_t": pol.carbon_price_per_t,
            "carbon_cap_t_per_year": pol.carbon_cap_t_per_year}
