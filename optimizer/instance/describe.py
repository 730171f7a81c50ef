"""Plain-data descriptions of an instance (what ``accelplan validate`` prints)."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from optimizer.instance.derived import per_period
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
    return {"name": spec.name, "file": str(instance.path), "currency": spec.currency,
            "periods": periods, "period_years": years,
            "discount_rate": spec.horizon.discount_rate, "workloads": workloads,
            "accelerators_by_vendor": dict(vendors), "sites": sites,
            "scenarios": list(spec.scenarios.members) if spec.scenarios else [],
            "input_sha256": instance.input_sha256}
