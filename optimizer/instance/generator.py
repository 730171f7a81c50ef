"""Synthetic instances of a given size, for benchmarks and tests, that always have a plan.

Accelerator figures are drawn around the sourced reference figures of shared/data/
(accelerators.csv, throughput.csv, sites_energy.csv); sites get grid caps, card caps, air and
liquid halls; policies a domestic share and a vendor cap; demand grows period by period and
is sized to well under what the sites could serve, so that a plan always exists.
"""
from __future__ import annotations

from typing import Any

import numpy as np

# name, vendor, origin, kW per card (incl. server share), bf16 TFLOPS, price per card (USD),
# cooling, cards per unit, rack kW.  From shared/data/accelerators.csv (TDP + server share,
# mid-range price) and sites_energy.csv (DGX server powers).
BASE_ACCELERATORS: list[tuple[str, str, str, float, float, float, tuple[str, ...], int, float]] = [
    ("H100-SXM", "NVIDIA", "US", 1.275, 989, 27500, ("air", "liquid"), 8, 41),
    ("H200-SXM", "NVIDIA", "US", 1.275, 989, 31000, ("air", "liquid"), 8, 41),
    ("B200-HGX", "NVIDIA", "US", 1.79, 2250, 35000, ("air", "liquid"), 8, 57),
    ("GB200-NVL72", "NVIDIA", "US", 2.0, 2500, 42500, ("liquid",), 72, 132),
    ("MI300X", "AMD", "US", 1.2, 1307, 12500, ("air", "liquid"), 8, 38),
    ("MI325X", "AMD", "US", 1.6, 1307, 17500, ("air", "liquid"), 8, 52),
    ("MI355X", "AMD", "US", 2.1, 2500, 25000, ("liquid",), 8, 68),
    ("Gaudi3-OAM", "Intel", "US", 1.4, 1835, 15600, ("air", "liquid"), 8, 45),
    ("Ascend-910B", "Huawei", "CN", 0.6, 320, 14500, ("air", "liquid"), 8, 20),
    ("Ascend-910C", "Huawei", "CN", 1.46, 780, 21000, ("liquid",), 384, 120),
    ("Cambricon-MLU590", "Cambricon", "CN", 0.6, 350, 10000, ("air", "liquid"), 8, 20),
    ("Kunlunxin-P800", "Kunlunxin", "CN", 0.55, 345, 9000, ("air", "liquid"), 8, 18),
    ("Hygon-K100-AI", "Hygon", "CN", 0.6, 190, 6000, ("air",), 8, 20),
]

HBM_GB = {"H100-SXM": 80, "H200-SXM": 141, "B200-HGX": 192, "GB200-NVL72": 192, "MI300X": 192,
          "MI325X": 256, "MI355X": 288, "Gaudi3-OAM": 128, "Ascend-910B": 64,
          "Ascend-910C": 128, "Cambricon-MLU590": 96, "Kunlunxin-P800": 96, "Hygon-K100-AI": 64}
"""HBM per card (shared/data/accelerators.csv: hbm_gb)."""

WORKLOAD_FLOPS_PER_TOKEN = [1.4e11, 7.4e10, 2.0e10, 8.1e11, 3.0e11, 1.2e11, 5.0e10, 2.4e11]
"""2 x active parameters: Llama2-70B, DeepSeek-R1 (37B active), small, 405B, ... (demand.csv)."""


def generate_instance(sites: int, accelerators: int, periods: int, workloads: int,
                      seed: int = 0, procurement: bool = False,
                      energy: bool = False) -> dict[str, Any]:
    """A realistic synthetic instance as a plain mapping (dump it with YAML).

    Periods are years up to 6 periods, quarters beyond. Every workload can be served in
    every region; demand in the last period needs about 45 % of the card slots of all sites
    filled with mid-range cards, and no more than 35 % of the grid.

    ``procurement`` adds the fields of shared/design/procurement.md at realistic rates (see
    :func:`add_procurement`) and ``energy`` those of shared/design/energy.md (see
    :func:`add_energy`); the rest of the instance is the same as without.
    """
    if min(sites, accelerators, periods, workloads) < 1:
        raise ValueError("every size must be at least 1")
    rng = np.random.default_rng(seed)
    years = 1.0 if periods <= 6 else 0.25
    labels = ([str(2026 + t) for t in range(periods)] if years == 1.0 else
              [f"{2026 + t // 4}Q{t % 4 + 1}" for t in range(periods)])

    accs: dict[str, Any] = {}
    for i in range(accelerators):
        name, vendor, origin, kw, tflops, price, cooling, unit, rack = \
            BASE_ACCELERATORS[i % len(BASE_ACCELERATORS)]
        generation = i // len(BASE_ACCELERATORS)
        if generation:
            name = f"{name}-g{generation + 1}"
        factor = 1.0 + 0.35 * generation
        start_price = price * rng.uniform(0.9, 1.1) * factor
        decline = rng.uniform(0.0, 0.12) * years           # price falls per period
        accs[name] = {
            "vendor": vendor,
            "tags": ["domestic" if origin == "CN" else "imported"],
            "cards_per_unit": unit,
            "price_per_card": {p: round(start_price * (1 - decline) ** t, 2)
                               for t, p in enumerate(labels)},
            "power_kw_per_card": round(kw * rng.uniform(0.95, 1.05) * (1 + 0.1 * generation), 4),
            "idle_power_fraction": round(float(rng.uniform(0.25, 0.35)), 3),
            "rack_kw": rack,
            "cooling": list(cooling),
            "lifetime_years": float(rng.choice([4.0, 5.0, 6.0])),
            "maintenance_rate": round(float(rng.uniform(0.02, 0.05)), 3),
            "availability": round(float(rng.uniform(0.9, 0.97)), 3),
            "peak_tflops": round(tflops * rng.uniform(0.95, 1.05) * factor, 1),
            "mfu": round(float(rng.uniform(0.16, 0.32)), 3),   # demand.csv: MLPerf 16-31 %
            "available_from": labels[min(int(rng.integers(0, max(1, periods // 3))), periods - 1)]
            if generation or rng.random() < 0.2 else labels[0],
        }
        if origin != "CN" and rng.random() < 0.5 and accelerators >= 3:
            # an export quota on some imported cards (cards per period); with fewer than
            # three kinds of card a quota could leave demand no card to meet it
            accs[name]["supply"] = int(rng.integers(2000, 20000) * years) + unit

    regions = ["CN", "US"] if sites > 1 else ["CN"]
    site_map: dict[str, Any] = {}
    total_slots = 0
    for j in range(sites):
        region = regions[j % len(regions)]
        max_cards = int(rng.choice([2000, 5000, 10000, 20000, 30000]))
        total_slots += max_cards
        grid = round(max_cards * rng.uniform(1.8, 2.6) / 1000.0 * 1.3, 1)  # room for 1.8-2.6 kW/card
        closed = j > 0 and rng.random() < 0.3
        air_existing = 0.0 if closed else round(float(rng.uniform(0.0, 0.25)) * grid / 1.4, 1)
        site_map[f"site{j + 1:02d}-{region.lower()}"] = {
            "region": region,
            "max_cards": max_cards,
            "grid_mw": grid,
            "electricity_price_per_mwh": round(float(rng.uniform(36, 90)), 1),  # sites_energy.csv
            "open": not closed,
            "open_cost": round(float(rng.uniform(2e6, 2e7)), -3) if closed else 0.0,
            "fixed_cost_per_year": round(float(rng.uniform(2e5, 3e6)), -3),
            "cooling": {
                "air": {"pue": round(float(rng.uniform(1.3, 1.5)), 2), "max_rack_kw": 30,
                        "existing_it_mw": air_existing,
                        "build_cost_per_mw": round(float(rng.uniform(9.3e6, 1.2e7)), -3),
                        "build_step_mw": float(rng.choice([1.0, 2.5]))},
                "liquid": {"pue": round(float(rng.uniform(1.08, 1.2)), 2), "max_rack_kw": 140,
                           "build_cost_per_mw": round(float(rng.uniform(1.1e7, 1.4e7)), -3),
                           "build_step_mw": float(rng.choice([1.0, 2.5]))},
            },
        }

    # demand: the last period needs about 45 % of all slots at a mid-range throughput
    names = list(accs)
    work: dict[str, Any] = {}
    demand: dict[str, Any] = {}
    typical_tflops = float(np.median([accs[k]["peak_tflops"] * accs[k]["mfu"] for k in names]))
    share = rng.dirichlet(np.ones(workloads))
    for w in range(workloads):
        name = f"w{w + 1}"
        flops = WORKLOAD_FLOPS_PER_TOKEN[w % len(WORKLOAD_FLOPS_PER_TOKEN)] * rng.uniform(0.9, 1.1)
        peak = round(float(rng.uniform(1.3, 2.0)), 2)
        work[name] = {"peak_to_average": peak, "flops_per_token": float(f"{flops:.4g}")}
        per_card = typical_tflops * 1e12 / flops                      # tokens/s per card
        final = 0.45 * total_slots * share[w] * per_card / peak * 86400
        growth = rng.uniform(1.3, 2.5) ** years                       # per period
        demand[name] = {p: float(f"{final / growth ** (periods - 1 - t):.4g}")
                        for t, p in enumerate(labels)}

    instance = {
        "format": 1,
        "name": f"synthetic-s{sites}-a{accelerators}-p{periods}-w{workloads}-seed{seed}",
        "currency": "USD",
        "horizon": {"periods": labels, "period_years": years, "discount_rate": 0.08},
        "workloads": work,
        "demand": demand,
        "accelerators": accs,
        "sites": site_map,
        "policies": {
            "min_share": [{"tags": ["domestic"], "share": 0.2, "by": "cards",
                           "from": labels[min(1, periods - 1)]}],
            "max_vendor_share": {"share": 0.7, "from": labels[min(1, periods - 1)]},
        },
    }
    if not any("domestic" in a["tags"] for a in accs.values()):
        del instance["policies"]["min_share"]
    if len({a["vendor"] for a in accs.values()}) < 2:
        del instance["policies"]["max_vendor_share"]
    if procurement:
        add_procurement(instance, np.random.default_rng(seed + 7919), years)
    if energy:
        add_energy(instance, np.random.default_rng(seed + 104729))
    return instance


def add_energy(instance: dict[str, Any], rng: np.random.Generator) -> None:
    """Energy fields at realistic rates (instances/data/energy_reference.csv): grid carbon of
    140-720 kg a MWh falling 2.5 % a period, WUE 1.8 L/kWh for air and 0.2 for liquid, water
    at 0.5-1 a m3, a wind or solar contract at a third of the sites (a quarter of the grid
    connection, capacity factor 0.15-0.3, 33-45 a MWh), a carbon price rising from 12 a
    tonne, and a fleet-wide carbon cap loose enough to keep a plan possible (twice what the
    demand would emit on the dirtiest grid)."""
    labels = instance["horizon"]["periods"]
    years = instance["horizon"]["period_years"]
    for i, site in enumerate(instance["sites"].values()):
        kg = float(rng.uniform(140, 720))
        site["grid_carbon_kg_per_mwh"] = {p: round(kg * 0.975 ** t, 1)
                                          for t, p in enumerate(labels)}
        site["water_price_per_m3"] = round(float(rng.uniform(0.5, 1.0)), 2)
        site["cooling"]["air"]["wue_l_per_kwh"] = 1.8
        site["cooling"]["liquid"]["wue_l_per_kwh"] = 0.2
        if i % 3 == 0:
            site["ppa"] = {"wind": {"max_mw": round(site["grid_mw"] / 4, 1),
                                    "capacity_factor": round(float(rng.uniform(0.15, 0.3)), 2),
                                    "price_per_mwh": round(float(rng.uniform(33, 45)), 1),
                                    "carbon_kg_per_mwh": 0.0}}
    instance["policies"]["carbon_price_per_t"] = {p: round(12 * (1 + 0.15 * t * years), 2)
                                                  for t, p in enumerate(labels)}
    total_mw = sum(site["grid_mw"] for site in instance["sites"].values())
    instance["policies"]["carbon_cap_t_per_year"] = round(total_mw * 0.35 * 8760 * 0.72 * 2, -2)


def _base_name(name: str) -> str:
    return name.split("-g")[0] if "-g" in name and name.rsplit("-g", 1)[1].isdigit() else name


def add_procurement(instance: dict[str, Any], rng: np.random.Generator, years: float) -> None:
    """Procurement fields at realistic rates, keeping a plan possible:

    - lead times: imported servers 3-9 months, domestic 0-6 months (whole periods, rounded);
      deposits 20-50 % of the price;
    - memory: HBM per card from accelerators.csv, one server (or supernode) a scale-up
      domain; each model needs 2 bytes a parameter (parameters = flops_per_token / 2) plus
      30 % for its KV cache, capped at what the largest domain holds so that every workload
      stays servable;
    - one cloud rental per region of the accelerator with the most memory, 2-3 USD a card-hour
      and no cap (so that the periods before the first deliveries are served);
    - cards on order at a third of the open sites, arriving in the second period;
    - a 10 % tariff on imported orders from the second period, and a ban (installed cards kept)
      on one imported accelerator from two thirds of the horizon;
    - the share policies start once every vendor's first cards can be delivered.
    """
    accs, labels = instance["accelerators"], instance["horizon"]["periods"]
    periods = len(labels)
    domain_gb = {}
    for name, acc in accs.items():
        imported = "imported" in acc["tags"]
        months = rng.uniform(3, 9) if imported else rng.uniform(0, 6)
        acc["lead_time_periods"] = int(round(months / (12 * years)))
        acc["deposit_fraction"] = round(float(rng.uniform(0.2, 0.5)), 2)
        acc["memory_gb"] = float(HBM_GB.get(_base_name(name), 96))
        acc["scale_up_cards"] = acc["cards_per_unit"]
        domain_gb[name] = acc["memory_gb"] * acc["cards_per_unit"]
    largest = max(domain_gb.values())
    for work in instance["workloads"].values():
        need = work["flops_per_token"] / 2 / 1e9 * 2 * 1.3
        work["model_memory_gb"] = round(min(need, largest), 1)
    roomiest = max(accs, key=lambda k: (domain_gb[k], k))
    regions = sorted({site["region"] for site in instance["sites"].values()})
    instance["rentals"] = {
        f"cloud-{region.lower()}": {"accelerator": roomiest, "region": region,
                                    "price_per_card_hour": round(float(rng.uniform(2.0, 3.0)),
                                                                 2)}
        for region in regions}
    imported = [k for k, a in accs.items() if "imported" in a["tags"] and k != roomiest]
    policies = instance["policies"]
    if imported and periods > 1:
        policies["tariff"] = [{"tags": ["imported"], "rate": 0.1, "from": labels[1]}]
    if imported and periods > 2:
        policies["ban"] = [{"accelerators": [imported[0]], "from": labels[2 * periods // 3],
                            "installed": "keep"}]
    _share_rules_after_deliveries(instance)
    air_ok = [k for k, a in accs.items() if "air" in a["cooling"] and a["rack_kw"] <= 30
              and a.get("available_from", labels[0]) == labels[0]]
    if periods > 1 and air_ok:
        for site in list(instance["sites"].values())[::3]:
            if not site["open"] or not site["cooling"]["air"]["existing_it_mw"]:
                continue
            k = air_ok[int(rng.integers(0, len(air_ok)))]
            cards = accs[k]["cards_per_unit"] * int(rng.integers(4, 32))
            room = site["cooling"]["air"]["existing_it_mw"] * 1000 / accs[k]["power_kw_per_card"]
            cards = min(cards, int(room * 0.5), site["max_cards"] // 4)
            if cards > 0:
                site["on_order"] = [{"accelerator": k, "cooling": "air", "cards": cards,
                                     "arrives": labels[1]}]


def _share_rules_after_deliveries(instance: dict[str, Any]) -> None:
    """Start the share policies no earlier than the period in which every vendor's first
    cards can be delivered (order in the first period plus the lead time, or the card's
    ``available_from``): before it, only the vendors with short lead times can install, and
    a vendor cap (or a domestic floor) would leave no plan."""
    labels = instance["horizon"]["periods"]
    accs, policies = instance["accelerators"], instance["policies"]
    first: dict[str, int] = {}
    for acc in accs.values():
        delivered = max(labels.index(acc.get("available_from", labels[0])),
                        acc.get("lead_time_periods", 0))
        first[acc["vendor"]] = min(first.get(acc["vendor"], len(labels)), delivered)
    every_vendor = min(max(first.values()), len(labels) - 1)
    cap = policies.get("max_vendor_share")
    if cap is not None:
        cap["from"] = labels[max(labels.index(cap["from"]), every_vendor)]
    for rule in policies.get("min_share", []):
        tagged = [max(labels.index(a.get("available_from", labels[0])),
                      a.get("lead_time_periods", 0))
                  for a in accs.values() if set(rule["tags"]) & set(a["tags"])]
        if tagged:
            rule["from"] = labels[max(labels.index(rule["from"]),
                                      min(min(tagged), len(labels) - 1), every_vendor)]


def instance_yaml(instance: dict[str, Any]) -> str:
    """The instance as YAML text, with a header saying how it was made."""
    import yaml
    header = (f"# {instance['name']}: generated by accelplan generate; accelerator figures "
              "drawn around shared/data/accelerators.csv\n")
    return header + yaml.safe_dump(instance, sort_keys=False, width=100)
