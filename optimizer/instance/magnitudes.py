"""Magnitudes a plan can represent: every figure of an instance, and the figures derived from
them (a price with its tariffs), within the range the solver computes with reliably.

HiGHS reads values of 1e20 and more as infinite and loses precision long before: a price of
1e308 (or a tariff that makes one) gave coefficients of inf, and the solve then ran on
without end, deaf to its time limit and to signals. ``validate`` refuses such instances, naming
the field and the figure.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator

from optimizer.errors import InstanceError

MONEY_MAX = 1e13
"""Largest money figure per unit (a card, a MW, a MWh, a card-hour, a period's budget)."""

LIMITS: dict[str, float] = {
    "price_per_card": MONEY_MAX, "electricity_price_per_mwh": MONEY_MAX,
    "open_cost": MONEY_MAX, "fixed_cost_per_year": MONEY_MAX, "build_cost_per_mw": MONEY_MAX,
    "price_per_card_hour": MONEY_MAX, "budget_per_period": 1e16,
    "unmet_demand_cost_per_million_tokens": MONEY_MAX, "price_per_mwh": MONEY_MAX,
    "carbon_price_per_t": MONEY_MAX, "water_price_per_m3": MONEY_MAX,
    "balance_per_card": MONEY_MAX, "price_paid_per_card": MONEY_MAX,
    "grid_mw": 1e7, "max_mw": 1e7, "existing_it_mw": 1e7, "build_step_mw": 1e7,
    "max_cards": 1e10, "cards": 1e10, "supply": 1e10, "cards_per_unit": 1e6,
    "scale_up_cards": 1e6, "power_kw_per_card": 1e4, "rack_kw": 1e6, "max_rack_kw": 1e6,
    "peak_tflops": 1e9, "throughput": 1e10, "memory_gb": 1e8, "model_memory_gb": 1e8,
    "flops_per_token": 1e20, "lifetime_years": 1e3, "age_years": 1e3, "period_years": 100,
    "peak_to_average": 1e6, "pue": 100, "wue_l_per_kwh": 1e4,
    "grid_carbon_kg_per_mwh": 1e6, "carbon_kg_per_mwh": 1e6,
    "max_water_m3_per_year": 1e15, "carbon_cap_t_per_year": 1e15, "demand_scale": 1e6,
    "lead_time_periods": 1e3,
}
"""Field name (the last part of its path) -> the largest value it may hold; for a field by
period, each period's value."""


def _numbers(value: Any, path: str) -> Iterator[tuple[str, float]]:
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield path, float(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{path}.{i}")


def _limit(path: str) -> float | None:
    parts = path.split(".")
    for part in reversed(parts):
        if part in LIMITS:
            return LIMITS[part]
    return None


def check_magnitudes(spec: Any, path: Path) -> None:
    """Every figure within its limit (``LIMITS``), and every price with the tariffs in force
    (price x (1 + sum of rates)) within ``MONEY_MAX``.

    Raises:
        InstanceError: naming the field (the tariff's rate for a derived price) and the figure.
    """
    data = spec.model_dump(by_alias=True, exclude_none=True)
    data.pop("demand", None)            # demand has its own check (cards' worth of serving)
    data.pop("scenarios", None)         # a scenario's fragment is checked as its instance
    for field, number in _numbers(data, ""):
        limit = _limit(field)
        if limit is not None and abs(number) > limit:
            raise InstanceError(path, field, f"found {number:.4g}; above {limit:.0e}, beyond "
                                "what a plan can compute with (check the units)")
    periods = list(spec.horizon.periods)
    for k, acc in spec.accelerators.items():
        prices = acc.price_per_card
        for t, period in enumerate(periods):
            price = prices.get(period, 0.0) if isinstance(prices, dict) else prices
            rates = [(i, rule.rate) for i, rule in enumerate(spec.policies.tariff)
                     if (k in rule.accelerators or set(acc.tags) & set(rule.tags))
                     and t >= (periods.index(rule.from_period) if rule.from_period else 0)]
            paid = price * (1 + sum(rate for _, rate in rates))
            if rates and (not math.isfinite(paid) or paid > MONEY_MAX):
                worst = max(rates, key=lambda item: item[1])[0]
                raise InstanceError(path, f"policies.tariff.{worst}.rate", f"{k} would cost "
                                    f"{paid:.4g} a card ordered in {period} (price {price:.4g} "
                                    f"x (1 + {sum(r for _, r in rates):.4g})); above "
                                    f"{MONEY_MAX:.0e}: a rate is a fraction (0.25 for 25 %)")
    _check_futures(spec, path)


FUTURE_CELLS_MAX = 5e7
"""Most demand figures the sampled futures may hold (futures x workloads x periods): 400 MB
of growth factors, and far more futures than any solve here could plan against."""

FUTURES_MAX = 100_000
"""Most futures a sample (or a tree's leaves) may hold."""


def _check_futures(spec: Any, path: Path) -> None:
    """A sample or a tree small enough to draw: its futures (``sample.count``, or a tree's
    leaves) within ``FUTURES_MAX`` and their demand figures within ``FUTURE_CELLS_MAX``.

    Raises:
        InstanceError: naming ``scenarios.sample.count`` or ``scenarios.tree.branching``.
    """
    block = spec.scenarios
    if block is None:
        return
    field, count = None, 0
    if block.tree is not None:
        count = math.prod(block.tree.branching)
        field = "scenarios.tree.branching"
    elif block.sample is not None:
        count, field = block.sample.count, "scenarios.sample.count"
    if field is None:
        return
    cells = count * max(len(spec.demand), 1) * len(spec.horizon.periods)
    if count > FUTURES_MAX or cells > FUTURE_CELLS_MAX:
        raise InstanceError(path, field, f"{count:,} futures ({cells:,.0f} demand figures); "
                            f"at most {FUTURES_MAX:,} futures and {FUTURE_CELLS_MAX:,.0f} "
                            "figures can be drawn (a few hundred futures settle a first "
                            "stage: benchmarks/how_many_futures.py)")
