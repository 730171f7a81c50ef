"""Warnings about an instance that is valid but likely not what its author meant: the command
prints them, ``validate`` lists them, the summary records them."""
from __future__ import annotations

from typing import Any


def instance_warnings(spec: Any) -> list[str]:
    """What looks like a slip in ``spec`` (a validated instance): a tariff rate above 1 (25
    for 25 %), a rental in a region no workload is served in, memory fit that cannot be
    checked, no carbon data behind a carbon price or cap."""
    found: list[str] = []
    for i, rule in enumerate(spec.policies.tariff):
        if rule.rate > 1:
            found.append(f"policies.tariff.{i}.rate is {rule.rate:g}: a rate is a fraction of "
                         f"the price (0.25 for 25 %); {rule.rate:g} multiplies prices by "
                         f"{1 + rule.rate:g}")
    regions = set()
    for name, workload in spec.workloads.items():
        if workload.regions is None:
            regions = None
            break
        regions.update(workload.regions)
    if regions is not None:
        for name, rental in spec.rentals.items():
            if rental.region not in regions:
                found.append(f"rentals.{name}: region {rental.region} is not one any workload "
                             f"is served in ({', '.join(sorted(regions))}): it serves nothing")
    sized = [w for w, workload in spec.workloads.items() if workload.model_memory_gb is not None]
    if sized and not any(acc.memory_gb is not None for acc in spec.accelerators.values()):
        found.append(f"workloads {', '.join(sized)} give model_memory_gb but no accelerator "
                     "gives memory_gb: the memory fit was not checked")
    carbon = [site.grid_carbon_kg_per_mwh for site in spec.sites.values()]
    has_carbon = any((max(c.values(), default=0) if isinstance(c, dict) else c) > 0
                     for c in carbon) or any(p.carbon_kg_per_mwh > 0 for site in
                                             spec.sites.values() for p in site.ppa.values())
    if not has_carbon and (spec.policies.carbon_price_per_t is not None
                           or spec.policies.carbon_cap_t_per_year is not None):
        found.append("a carbon price or cap is set but no site gives grid_carbon_kg_per_mwh: "
                     "nothing emits, so it changes nothing")
    return found
