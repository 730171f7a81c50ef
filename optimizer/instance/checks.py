"""Semantic rules of the instance format, checked after the schema.

Each rule raises :class:`InstanceError` naming the file and the dotted field path.
"""
from __future__ import annotations

import math

from pathlib import Path
from typing import Mapping

from optimizer.instance.derived import periods_alive, rack_fits, throughput_tokens_per_s
from optimizer.instance.magnitudes import check_magnitudes
from optimizer.errors import InstanceError
from optimizer.instance.schema import InstanceSpec

PROBABILITY_TOLERANCE = 1e-9
"""How far the scenarios' probabilities may sum from 1 (uncertainty.md: within 1e-9)."""

KNOWN_COOLING_MODES = frozenset({"air", "liquid", "immersion"})
"""Cooling modes an accelerator's ``cooling`` catalog may name even when no site of the
instance offers them (with every mode some site defines); any other name is a typo."""


def check_instance(spec: InstanceSpec, path: Path,
                   demand_sources: Mapping[str, Path] | None = None) -> None:
    """Run every semantic rule on ``spec`` (read from ``path``).

    Args:
        demand_sources: workload -> CSV file its demand came from, to name that file in errors.

    Raises:
        InstanceError: the first rule broken.
    """
    demand_sources = demand_sources or {}
    periods = spec.horizon.periods
    period_set = set(periods)

    def need_period(label: str | None, field: str, where: Path = path) -> None:
        if label is not None and label not in period_set:
            raise InstanceError(where, field, f"unknown period {label!r}; periods are "
                                f"{', '.join(periods)}")

    def check_period_map(value, field: str, complete: bool) -> None:
        if isinstance(value, Mapping):
            for label in value:
                need_period(label, f"{field}.{label}")
            missing = [p for p in periods if p not in value]
            if complete and missing:
                raise InstanceError(path, field, f"no value for period(s) {', '.join(missing)}; "
                                    "give every period or a single scalar")

    # demand -----------------------------------------------------------------------------------
    for workload, series in spec.demand.items():
        where = demand_sources.get(workload, path)
        if workload not in spec.workloads:
            raise InstanceError(where, f"demand.{workload}", f"unknown workload {workload!r}; "
                                f"workloads are {', '.join(spec.workloads)}")
        for label in series:
            need_period(label, f"demand.{workload}.{label}", where)

    # accelerators -----------------------------------------------------------------------------
    known_modes = KNOWN_COOLING_MODES | {c for site in spec.sites.values() for c in site.cooling}
    for name, acc in spec.accelerators.items():
        base = f"accelerators.{name}"
        check_period_map(acc.price_per_card, f"{base}.price_per_card", complete=True)
        check_period_map(acc.supply, f"{base}.supply", complete=False)
        need_period(acc.available_from, f"{base}.available_from")
        for i, mode in enumerate(acc.cooling):
            if mode not in known_modes:
                raise InstanceError(path, f"{base}.cooling.{i}", f"unknown cooling mode {mode!r}; "
                                    f"known modes are {', '.join(sorted(known_modes))}")
        for workload in acc.throughput:
            if workload not in spec.workloads:
                raise InstanceError(path, f"{base}.throughput.{workload}",
                                    f"unknown workload {workload!r}; workloads are "
                                    f"{', '.join(spec.workloads)}")

    # sites ------------------------------------------------------------------------------------
    for name, site in spec.sites.items():
        base = f"sites.{name}"
        check_period_map(site.grid_mw, f"{base}.grid_mw", complete=True)
        check_period_map(site.electricity_price_per_mwh, f"{base}.electricity_price_per_mwh",
                         complete=True)
        check_period_map(site.grid_carbon_kg_per_mwh, f"{base}.grid_carbon_kg_per_mwh",
                         complete=True)
        existing_modes = [c for c, m in site.cooling.items() if m.existing_it_mw > 0]
        if not site.open:
            if existing_modes:
                raise InstanceError(path, f"{base}.cooling.{existing_modes[0]}.existing_it_mw",
                                    "a site with open: false has no existing capacity; found "
                                    f"{site.cooling[existing_modes[0]].existing_it_mw} MW")
            if site.existing_fleet:
                raise InstanceError(path, f"{base}.existing_fleet",
                                    "a site with open: false has no existing fleet")
        if site.exclusive_cooling and len(existing_modes) > 1:
            raise InstanceError(path, f"{base}.exclusive_cooling", "the site has existing "
                                f"capacity in {', '.join(existing_modes)}; exclusive cooling "
                                "allows one mode")
        years = spec.horizon.period_years
        installed = [0] * len(periods)          # cards alive in each period, before buying
        for i, entry in enumerate(site.existing_fleet):
            acc = _installed_card(spec, path, name, entry, f"{base}.existing_fleet.{i}")
            for t in range(min(len(periods), periods_alive(acc.lifetime_years,
                                                           entry.age_years, years))):
                installed[t] += entry.cards
        if max(installed, default=0) > site.max_cards:
            raise InstanceError(path, f"{base}.existing_fleet", f"{installed[0]} existing cards "
                                f"exceed max_cards {site.max_cards}")
        for i, entry in enumerate(site.on_order):
            acc = _installed_card(spec, path, name, entry, f"{base}.on_order.{i}")
            need_period(entry.arrives, f"{base}.on_order.{i}.arrives")
            arrives = periods.index(entry.arrives)
            for t in range(arrives, min(len(periods), arrives + periods_alive(
                    acc.lifetime_years, 0.0, years))):
                installed[t] += entry.cards
                if installed[t] > site.max_cards:
                    raise InstanceError(path, f"{base}.on_order.{i}.cards", f"with the cards "
                                        f"installed and on order, {installed[t]:,} cards would "
                                        f"stand at {name} in {periods[t]}: above its max_cards "
                                        f"{site.max_cards:,}")

    # rentals ----------------------------------------------------------------------------------
    for name, rental in spec.rentals.items():
        base = f"rentals.{name}"
        if rental.accelerator not in spec.accelerators:
            raise InstanceError(path, f"{base}.accelerator", f"unknown accelerator "
                                f"{rental.accelerator!r}; accelerators are "
                                f"{', '.join(spec.accelerators)}")
        check_period_map(rental.price_per_card_hour, f"{base}.price_per_card_hour",
                         complete=True)
        check_period_map(rental.max_cards, f"{base}.max_cards", complete=False)

    # policies ---------------------------------------------------------------------------------
    pol = spec.policies
    check_period_map(pol.budget_per_period, "policies.budget_per_period", complete=False)
    for i, share in enumerate(pol.min_share):
        need_period(share.from_period, f"policies.min_share.{i}.from")
        if share.by == "tflops":
            lacking = [k for k, a in spec.accelerators.items() if a.peak_tflops is None]
            if lacking:
                raise InstanceError(path, f"policies.min_share.{i}.by", "by: tflops needs "
                                    f"peak_tflops on every accelerator; missing on "
                                    f"{', '.join(lacking)}")
    if pol.max_vendor_share is not None and not isinstance(pol.max_vendor_share, float):
        need_period(pol.max_vendor_share.from_period, "policies.max_vendor_share.from")
    check_period_map(pol.carbon_price_per_t, "policies.carbon_price_per_t", complete=True)
    check_period_map(pol.carbon_cap_t_per_year, "policies.carbon_cap_t_per_year",
                     complete=False)
    known_tags = {tag for acc in spec.accelerators.values() for tag in acc.tags}
    for family, rules in (("ban", pol.ban), ("tariff", pol.tariff)):
        for i, rule in enumerate(rules):
            base = f"policies.{family}.{i}"
            need_period(rule.from_period, f"{base}.from")
            for j, k in enumerate(rule.accelerators):
                if k not in spec.accelerators:
                    raise InstanceError(path, f"{base}.accelerators.{j}", f"unknown accelerator "
                                        f"{k!r}; accelerators are {', '.join(spec.accelerators)}")
            for j, tag in enumerate(rule.tags):
                if tag not in known_tags:
                    raise InstanceError(path, f"{base}.tags.{j}", f"no accelerator carries the "
                                        f"tag {tag!r}; tags are "
                                        f"{', '.join(sorted(known_tags)) or 'none'}")

    # scenarios --------------------------------------------------------------------------------
    if spec.scenarios is not None:
        block = spec.scenarios
        if block.members:
            total = sum(s.probability for s in block.members.values())
            if abs(total - 1.0) > PROBABILITY_TOLERANCE:
                raise InstanceError(path, "scenarios", f"probabilities sum to {total:g}; "
                                    "expected 1")
        if block.committed > len(periods):
            raise InstanceError(path, "scenarios.commit_periods", f"found "
                                f"{block.committed}; the horizon has {len(periods)} periods")
        if block.tree is not None:
            for j, label in enumerate(block.tree.stages):
                if label not in periods:
                    raise InstanceError(path, f"scenarios.tree.stages.{j}", f"unknown period "
                                        f"{label!r}; periods are {', '.join(periods)}")
            order = [periods.index(label) for label in block.tree.stages]
            if order != sorted(set(order)):
                raise InstanceError(path, "scenarios.tree.stages", "stages must be periods "
                                    "in their order, each once")
            if len(block.tree.branching) != len(block.tree.stages) - 1:
                raise InstanceError(path, "scenarios.tree.branching", f"found "
                                    f"{len(block.tree.branching)} branchings; a tree of "
                                    f"{len(block.tree.stages)} stages has one after each stage "
                                    f"but the last ({len(block.tree.stages) - 1})")
            if block.tree.stages[0] != periods[0]:
                raise InstanceError(path, "scenarios.tree.stages.0", f"found "
                                    f"{block.tree.stages[0]!r}; the first stage starts with "
                                    f"the first period ({periods[0]!r})")
            leaves = math.prod(block.tree.branching)
            if block.sample is not None and block.sample.count != leaves:
                raise InstanceError(path, "scenarios.sample.count", f"found "
                                    f"{block.sample.count}; a tree of branching "
                                    f"{list(block.tree.branching)} has {leaves} futures")
            if block.members and len(block.members) != leaves:
                raise InstanceError(path, "scenarios.tree.branching", f"a tree of branching "
                                    f"{list(block.tree.branching)} has {leaves} leaves; "
                                    f"{len(block.members)} scenarios are named (one per "
                                    "leaf, the first branch varying slowest)")

    _check_servable(spec, path, demand_sources)
    check_magnitudes(spec, path)


def _installed_card(spec: InstanceSpec, path: Path, name: str, entry, field: str):
    """An installed or ordered entry of site ``name``: a known accelerator in a cooling mode of
    the site that the accelerator runs in and whose racks it fits. Returns the accelerator."""
    site = spec.sites[name]
    acc = spec.accelerators.get(entry.accelerator)
    if acc is None:
        raise InstanceError(path, f"{field}.accelerator", f"unknown accelerator "
                            f"{entry.accelerator!r}; accelerators are "
                            f"{', '.join(spec.accelerators)}")
    mode = site.cooling.get(entry.cooling)
    if mode is None:
        raise InstanceError(path, f"{field}.cooling", f"unknown cooling mode "
                            f"{entry.cooling!r} at site {name}; it has {', '.join(site.cooling)}")
    if entry.cooling not in acc.cooling:
        raise InstanceError(path, f"{field}.cooling", f"{entry.accelerator} cannot run in "
                            f"{entry.cooling} cooling; it runs in {', '.join(acc.cooling)}")
    if not rack_fits(acc, mode):
        raise InstanceError(path, f"{field}.cooling", f"{entry.accelerator} racks "
                            f"({acc.rack_kw} kW) exceed max_rack_kw {mode.max_rack_kw} of "
                            f"{entry.cooling} at {name}")
    return acc


def _check_servable(spec: InstanceSpec, path: Path, demand_sources: Mapping[str, Path]) -> None:
    """Every workload with demand has an accelerator with throughput at an allowed site."""
    for workload, series in spec.demand.items():
        if not any(v > 0 for v in series.values()):
            continue
        wl = spec.workloads[workload]
        sites = [s for s, site in spec.sites.items()
                 if wl.regions is None or site.region in wl.regions]
        for acc in spec.accelerators.values():
            if throughput_tokens_per_s(acc, workload, wl) <= 0:
                continue
            if any(c in spec.sites[s].cooling and rack_fits(acc, spec.sites[s].cooling[c])
                   for s in sites for c in acc.cooling):
                break
        else:
            held = [(memory * (acc.scale_up_cards or acc.cards_per_unit), k)
                    for k, acc in spec.accelerators.items()
                    if (memory := acc.memory_gb) is not None]
            if wl.model_memory_gb is not None and held and all(
                    size < wl.model_memory_gb for size, _ in held):
                size, k = max(held)
                raise InstanceError(demand_sources.get(workload, path), f"demand.{workload}",
                                    f"workload {workload!r} needs {wl.model_memory_gb:g} GB a "
                                    f"replica (model_memory_gb) and no card holds it: the "
                                    f"closest, {k}, holds {size:g} GB (memory_gb x "
                                    "scale_up_cards)")
            raise InstanceError(demand_sources.get(workload, path), f"demand.{workload}",
                                f"workload {workload!r} has demand but no accelerator with a "
                                "throughput for it (given, or derived from peak_tflops and "
                                "flops_per_token) can run at any site of its regions "
                                f"({', '.join(wl.regions) if wl.regions else 'any'})")
