"""The problem data: everything the formulation reads, indexed sparsely.

Index sets are sorted lists of tuples (UPPERCASE); parameters are dicts keyed by them, with the
unit in the name or the docstring. Period indices are ints 0..n-1. Scaling:

- money in ``money_unit`` (a power of ten near the median price of a card);
- serving in ``token_unit`` tokens/s (a power of ten near the typical card throughput);
- power in kW on card rows and MW on site rows; cards in cards.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from optimizer.problem.costs import CostModel
from optimizer.problem.time import Timeline

KSC = tuple[str, str, str]          # accelerator, site, cooling mode
KSCT = tuple[str, str, str, int]    # ... and period index


@dataclass(frozen=True)
class SharePolicy:
    """A share row family: ``min_share`` (tagged >= share) or ``max_vendor_share`` (vendor <=
    share), from period ``start`` on.

    Attributes:
        key: the policy's index in the rows (the min_share list position, or the vendor).
        share: the share as a fraction.
        start: first period index the rule holds in.
        weight: accelerator -> m_k (1 per card, or peak TFLOPS / the largest peak TFLOPS).
        members: the accelerators counted on the left side (tagged, or of the vendor).
        description: the rule as a planner states it (``domestic share >= 50 % from 2027``).
    """

    key: str
    share: float
    start: int
    weight: dict[str, float]
    members: frozenset[str]
    description: str


@dataclass
class ProblemData:
    """Everything the formulation needs, indexed sparsely (see the module docstring)."""

    instance: Any                      # the validated Instance (for reports, never formulas)
    timeline: Timeline
    money_unit: float
    token_unit: float
    costs: CostModel
    currency: str
    name: str
    ACCELERATORS: list[str]
    SITES: list[str]
    WORKLOADS: list[str]
    VENDORS: list[str]
    # sparse index sets (sorted)
    KSC: list[KSC] = field(default_factory=list)
    BUY: list[KSCT] = field(default_factory=list)
    FLEET: list[KSCT] = field(default_factory=list)
    BUSY: list[KSCT] = field(default_factory=list)
    SERVE: list[tuple[str, str, str, int]] = field(default_factory=list)   # w, k, s, t
    DEMAND: list[tuple[str, int]] = field(default_factory=list)            # w, t with D > 0
    SC: list[tuple[str, str]] = field(default_factory=list)                # site, mode
    BUILD: list[tuple[str, str, int]] = field(default_factory=list)
    OPENABLE: list[str] = field(default_factory=list)
    EXCLUSIVE: list[str] = field(default_factory=list)
    # accelerators
    vendor: dict[str, str] = field(default_factory=dict)
    tags: dict[str, frozenset[str]] = field(default_factory=dict)
    cards_per_unit: dict[str, int] = field(default_factory=dict)
    price_per_card: dict[tuple[str, int], float] = field(default_factory=dict)     # currency
    power_kw_per_card: dict[str, float] = field(default_factory=dict)
    availability: dict[str, float] = field(default_factory=dict)
    lifetime_years: dict[str, float] = field(default_factory=dict)
    maintenance_rate: dict[str, float] = field(default_factory=dict)       # share a year
    idle_power_fraction: dict[str, float] = field(default_factory=dict)
    throughput: dict[tuple[str, str], float] = field(default_factory=dict)    # tokens/s, (k, w)
    supply_cards: dict[tuple[str, int], float] = field(default_factory=dict)  # finite only
    buy_units_max: dict[KSCT, float] = field(default_factory=dict)
    # procurement (shared/design/procurement.md); purchases are indexed by delivery period
    lead_time_periods: dict[str, int] = field(default_factory=dict)   # order -> delivery
    deposit_fraction: dict[str, float] = field(default_factory=dict)  # paid at order
    tariff_rate: dict[tuple[str, int], float] = field(default_factory=dict)  # by order period
    banned_from: dict[str, int] = field(default_factory=dict)   # no delivery or rental from
    retired_from: dict[str, int] = field(default_factory=dict)  # owned cards out of service
    # rentals: cards rented by the card-hour, per (rental, period)
    RENT: list[tuple[str, int]] = field(default_factory=list)
    RENT_SERVE: list[tuple[str, str, int]] = field(default_factory=list)   # w, r, t
    rental_accelerator: dict[str, str] = field(default_factory=dict)
    rental_region: dict[str, str] = field(default_factory=dict)
    rental_price_per_card_hour: dict[tuple[str, int], float] = field(default_factory=dict)
    rental_max_cards: dict[tuple[str, int], float] = field(default_factory=dict)  # finite only
    # fleet
    fleet_retires: dict[KSCT, KSCT] = field(default_factory=dict)   # (k,s,c,t) -> buy ending
    fleet_first: dict[KSC, int] = field(default_factory=dict)       # first period with cards
    existing_cards: dict[KSCT, float] = field(default_factory=dict)
    # workloads
    demand_peak: dict[tuple[str, int], float] = field(default_factory=dict)   # token_unit
    peak_to_average: dict[str, float] = field(default_factory=dict)
    # sites and cooling
    region: dict[str, str] = field(default_factory=dict)
    max_cards: dict[str, int] = field(default_factory=dict)
    grid_mw: dict[tuple[str, int], float] = field(default_factory=dict)
    electricity_price_per_mwh: dict[tuple[str, int], float] = field(default_factory=dict)
    open_cost: dict[str, float] = field(default_factory=dict)
    fixed_cost_per_year: dict[str, float] = field(default_factory=dict)
    pue: dict[tuple[str, str], float] = field(default_factory=dict)
    existing_it_mw: dict[tuple[str, str], float] = field(default_factory=dict)
    build_unit_mw: dict[tuple[str, str], float] = field(default_factory=dict)   # MW per unit
    build_cost_per_mw: dict[tuple[str, str], float] = field(default_factory=dict)
    cooling_lifetime_years: dict[tuple[str, str], float] = field(default_factory=dict)
    STEPPED: set[tuple[str, str]] = field(default_factory=set)    # built in whole steps
    # energy, carbon and water (shared/design/energy.md)
    grid_carbon_kg_per_mwh: dict[tuple[str, int], float] = field(default_factory=dict)
    wue_l_per_kwh: dict[tuple[str, str], float] = field(default_factory=dict)
    water_price_per_m3: dict[str, float] = field(default_factory=dict)
    water_cap_m3: dict[tuple[str, int], float] = field(default_factory=dict)   # per period
    carbon_price_per_t: dict[int, float] = field(default_factory=dict)
    carbon_cap_t: dict[int, float] = field(default_factory=dict)               # per period
    PPA: list[tuple[str, str, int]] = field(default_factory=list)              # s, p, t
    ppa_max_mwh: dict[tuple[str, str, int], float] = field(default_factory=dict)
    ppa_price_per_mwh: dict[tuple[str, str], float] = field(default_factory=dict)
    ppa_carbon_kg_per_mwh: dict[tuple[str, str], float] = field(default_factory=dict)
    # policies
    budget: dict[int, float] = field(default_factory=dict)                      # money_unit
    min_share: list[SharePolicy] = field(default_factory=list)
    vendor_share: list[SharePolicy] = field(default_factory=list)
    unmet_price_per_million_tokens: float | None = None
    UNMET: list[tuple[str, int]] = field(default_factory=list)      # w, t when demand is soft
    # objective coefficients: the discounted cost entries of optimizer.problem.entries, per
    # decision variable (money_unit per unit of the decision), and the constant
    objective_cost: dict[str, dict[Any, float]] = field(default_factory=dict)
    cost_constant: float = 0.0

    @property
    def OPENING(self) -> list[tuple[str, int]]:
        """(s, t) for the sites that may open, every period (``site_open``)."""
        return [(s, t) for s in self.OPENABLE for t in range(self.n_periods)]

    @property
    def cost_buy(self) -> dict[KSCT, float]:
        """Objective coefficient of one purchase unit (money_unit, discounted)."""
        return self.objective_cost.get("units_bought", {})

    @property
    def cost_build(self) -> dict[tuple[str, str, int], float]:
        return self.objective_cost.get("build", {})

    @property
    def cost_fleet_idle(self) -> dict[KSCT, float]:
        return self.objective_cost.get("fleet", {})

    @property
    def cost_busy(self) -> dict[KSCT, float]:
        return self.objective_cost.get("busy", {})

    @property
    def cost_open(self) -> dict[tuple[str, int], float]:
        return self.objective_cost.get("site_open", {})

    @property
    def cost_unmet(self) -> dict[tuple[str, int], float]:
        return self.objective_cost.get("unmet", {})

    @property
    def cost_rent(self) -> dict[tuple[str, int], float]:
        return self.objective_cost.get("cards_rented", {})

    @property
    def periods(self) -> list[str]:
        return list(self.timeline.periods)

    @property
    def period_years(self) -> float:
        return self.timeline.years

    @property
    def n_periods(self) -> int:
        return self.timeline.n

    @property
    def discount_start(self) -> list[float]:
        return [self.timeline.start(t) for t in range(self.timeline.n)]

    @property
    def discount_mid(self) -> list[float]:
        return [self.timeline.middle(t) for t in range(self.timeline.n)]

    @property
    def discount_end(self) -> float:
        return self.timeline.end

    def it_mwh_per_card(self, k: str, share: float) -> float:
        """IT energy of one card drawing ``share`` of its power through a period (MWh)."""
        return self.timeline.hours * self.power_kw_per_card[k] / 1000.0 * share

    def draw_share(self, family: str, k: str) -> float:
        """The share of a card's power a unit of ``fleet`` (idle) or ``busy`` draws."""
        idle = self.idle_power_fraction[k]
        return idle if family == "fleet" else 1.0 - idle

    def order_period(self, k: str, delivered: int) -> int:
        """The period an order of k delivered in ``delivered`` is placed in (d - lead time)."""
        return delivered - self.lead_time_periods.get(k, 0)

    def price_paid_per_card(self, k: str, ordered: int) -> float:
        """Price of one card of k ordered in ``ordered``: the period's price times (1 + the
        tariffs in force then)."""
        return self.price_per_card[k, ordered] * (1 + self.tariff_rate.get((k, ordered), 0.0))

    def alive(self, k: str, delivered: int) -> range:
        """Periods cards of k delivered in ``delivered`` are alive in: their life from
        delivery, cut where a ban retires k."""
        life = self.timeline.alive(delivered, self.lifetime_years[k])
        end = self.retired_from.get(k)
        return life if end is None else range(life.start, max(life.start, min(life.stop, end)))

    @property
    def share_policies(self) -> list[SharePolicy]:
        """Every share rule (min_share first, then vendor caps)."""
        return self.min_share + self.vendor_share

    def fleet_groups(self) -> dict[str, dict[str, float]]:
        """Per-period fleet aggregates the share rows are written on: group -> accelerator ->
        weight. ``all`` and ``vendor:V`` for vendor caps; ``weighted:P`` and ``tagged:P`` for
        min_share policy P."""
        groups: dict[str, dict[str, float]] = {}
        # rented cards count with the owned fleet, by their accelerator (policy_fleet)
        if self.vendor_share:
            groups["all"] = {k: 1.0 for k in self.ACCELERATORS}
            for rule in self.vendor_share:
                groups[f"vendor:{rule.key}"] = {k: 1.0 for k in rule.members}
        for rule in self.min_share:
            groups[f"weighted:{rule.key}"] = dict(rule.weight)
            groups[f"tagged:{rule.key}"] = {k: w for k, w in rule.weight.items()
                                            if k in rule.members}
        return groups
