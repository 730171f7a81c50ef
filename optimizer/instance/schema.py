"""The instance format (version 1) as frozen pydantic models.

Every model forbids unknown keys (they are almost always typos) and is immutable. Numbers are
strict (no strings, no booleans) and finite. Units are in the field names; money is in the
instance's ``currency``. Defaults are those of ``shared/design/instance-format.md``.

Cross-references (periods, workloads, cooling modes ...) are checked afterwards by
:mod:`optimizer.instance.checks`; this module checks types, ranges and shapes only.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator,
)


def _label(value: Any) -> Any:
    """Accept integer labels (``2026``) where a text label is expected: YAML reads them as ints."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


Label = Annotated[str, BeforeValidator(_label), Field(min_length=1)]
"""A name: a period, workload, accelerator, site, cooling mode, vendor or tag."""

NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
PositiveFraction = Annotated[float, Field(gt=0, le=1)]

PeriodNonNegative = Union[NonNegative, dict[Label, NonNegative]]
"""A period-indexed value: a scalar for every period, or a mapping period -> value."""


class Frozen(BaseModel):
    """Base of every schema model: immutable, strict, finite, no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False,
                              populate_by_name=True)


class Horizon(Frozen):
    """Planning periods and discounting."""

    periods: list[Label] = Field(min_length=1)
    period_years: Positive = 1.0
    discount_rate: Annotated[float, Field(ge=0, le=1)] = 0.0

    @field_validator("periods")
    @classmethod
    def _unique(cls, periods: list[str]) -> list[str]:
        seen = set()
        for label in periods:
            if label in seen:
                raise ValueError(f"period {label!r} is listed twice; labels must be unique")
            seen.add(label)
        return periods


class Workload(Frozen):
    """A class of token demand."""

    peak_to_average: Annotated[float, Field(ge=1)] = 1.0
    flops_per_token: Positive | None = None
    regions: list[Label] | None = Field(default=None, min_length=1)
    model_memory_gb: Positive | None = None
    """Memory one replica needs (weights + KV cache at the service target), GB."""


DemandSeries = Union[dict[Label, NonNegative], str]
"""Average tokens per day by period, or the path of a CSV with columns period,tokens_per_day."""


class Accelerator(Frozen):
    """One accelerator SKU (a card is one GPU or NPU package)."""

    vendor: Label
    tags: list[Label] = []
    cards_per_unit: Annotated[int, Field(ge=1)] = 1
    price_per_card: PeriodNonNegative
    power_kw_per_card: NonNegative
    idle_power_fraction: Fraction = 0.3
    rack_kw: NonNegative | None = None
    cooling: list[Label] = Field(min_length=1)
    lifetime_years: Positive
    maintenance_rate: Fraction = 0.0
    availability: PositiveFraction = 1.0
    peak_tflops: Positive | None = None
    mfu: PositiveFraction = 0.35
    throughput: dict[Label, NonNegative] = {}
    supply: PeriodNonNegative | None = None
    available_from: Label | None = None
    memory_gb: Positive | None = None
    """HBM per card, GB."""
    scale_up_cards: Annotated[int, Field(ge=1)] | None = None
    """Cards one replica may span (NVLink / HCCS domain); default ``cards_per_unit``."""
    lead_time_periods: Annotated[int, Field(ge=0)] = 0
    """Whole periods from order to delivery."""
    deposit_fraction: Fraction = 1.0
    """Share of the price paid at order; the rest at delivery."""


class CoolingMode(Frozen):
    """One cooling mode of a site (air, liquid, ...); capacities in MW of IT load."""

    pue: Annotated[float, Field(ge=1)]
    max_rack_kw: NonNegative | None = None
    existing_it_mw: NonNegative = 0.0
    build_cost_per_mw: NonNegative = 0.0
    build_step_mw: Positive | None = None
    lifetime_years: Positive = 15.0
    wue_l_per_kwh: NonNegative = 0.0
    """Water per kWh of IT energy (litres), energy.md."""


class FleetEntry(Frozen):
    """Cards already installed at a site at the horizon start."""

    accelerator: Label
    cooling: Label
    cards: Annotated[int, Field(ge=0)]
    age_years: NonNegative = 0.0
    price_paid_per_card: NonNegative | None = None
    """What each card cost (maintenance is a share of it); default the first period's price."""


class OnOrder(Frozen):
    """Cards ordered before the horizon, installed on arrival; ``balance_per_card`` is still
    due then (procurement.md)."""

    accelerator: Label
    cooling: Label
    cards: Annotated[int, Field(gt=0)]
    arrives: Label
    balance_per_card: NonNegative = 0.0
    """Money still due on arrival per card (default 0: fully paid)."""
    price_paid_per_card: NonNegative | None = None
    """What each card cost (maintenance is a share of it); default the first period's price."""


class Ppa(Frozen):
    """A power purchase agreement (wind, solar, hydro) of a site, energy.md."""

    max_mw: NonNegative
    capacity_factor: Fraction
    price_per_mwh: NonNegative
    carbon_kg_per_mwh: NonNegative = 0.0


class Site(Frozen):
    """A data-centre site with its grid connection and cooling halls."""

    region: Label
    max_cards: Annotated[int, Field(ge=0)]
    grid_mw: PeriodNonNegative
    electricity_price_per_mwh: PeriodNonNegative
    open: bool = True
    open_cost: NonNegative = 0.0
    fixed_cost_per_year: NonNegative = 0.0
    exclusive_cooling: bool = False
    cooling: dict[Label, CoolingMode] = Field(min_length=1)
    existing_fleet: list[FleetEntry] = []
    on_order: list[OnOrder] = []
    grid_carbon_kg_per_mwh: PeriodNonNegative = 0.0
    water_price_per_m3: NonNegative = 0.0
    max_water_m3_per_year: NonNegative | None = None
    ppa: dict[Label, Ppa] = {}


class Rental(Frozen):
    """Capacity rented by the card-hour (public cloud, colocation)."""

    accelerator: Label
    region: Label
    price_per_card_hour: PeriodNonNegative
    max_cards: Union[Annotated[int, Field(ge=0)], dict[Label, Annotated[int, Field(ge=0)]],
                     None] = None


class CardRule(Frozen):
    """A rule on accelerators named (``accelerators``) or tagged (``tags``), from a period."""

    tags: list[Label] = []
    accelerators: list[Label] = []
    from_period: Label | None = Field(default=None, alias="from")

    @model_validator(mode="after")
    def _names_something(self) -> "CardRule":
        if not self.tags and not self.accelerators:
            raise ValueError(f"a {type(self).__name__.lower()} names tags or accelerators "
                             "(at least one)")
        return self


class Ban(CardRule):
    """No delivery or rental of the named accelerators (or those with any of ``tags``) from
    ``from`` on; ``installed: retire`` also takes owned cards out of service then."""

    installed: Literal["keep", "retire"] = "keep"


class Tariff(CardRule):
    """Orders of the named accelerators (or those with any of ``tags``) placed from ``from``
    on pay price x (1 + rate)."""

    rate: NonNegative


class MinShare(Frozen):
    """At least ``share`` of installed cards (or TFLOPS) carry one of ``tags``."""

    tags: list[Label] = Field(min_length=1)
    share: Fraction
    by: Literal["cards", "tflops"] = "cards"
    from_period: Label | None = Field(default=None, alias="from")


class VendorShare(Frozen):
    """No vendor above ``share`` of installed cards, from ``from`` on."""

    share: Fraction
    from_period: Label | None = Field(default=None, alias="from")


class Policies(Frozen):
    """Budget and portfolio policies."""

    budget_per_period: PeriodNonNegative | None = None
    min_share: list[MinShare] = []
    max_vendor_share: Union[Fraction, VendorShare, None] = None
    unmet_demand_cost_per_million_tokens: NonNegative | None = None
    ban: list[Ban] = []
    tariff: list[Tariff] = []
    carbon_price_per_t: PeriodNonNegative | None = None
    carbon_cap_t_per_year: PeriodNonNegative | None = None


class Scenario(Frozen):
    """One demand future of a stochastic instance: its probability, a factor on all demand
    and a fragment merged over the instance (mappings key by key at every depth)."""

    probability: Fraction
    demand_scale: NonNegative = 1.0
    overrides: dict[str, Any] = {}


class Risk(Frozen):
    """A risk-averse objective (uncertainty.md): minimise (1 - w) E[NPV] + w CVaR_alpha(NPV)."""

    cvar_alpha: Annotated[float, Field(ge=0, lt=1)] = 0.9
    cvar_weight: Fraction = 0.0


class DemandGrowth(Frozen):
    """The growth model sampled futures multiply demand by (uncertainty.md)."""

    sigma: NonNegative = 0.25
    drift: float = 0.0
    correlation: Fraction = 0.8


class Sample(Frozen):
    """``count`` futures drawn from ``demand_growth`` with ``seed``, each of probability
    1/count."""

    count: Annotated[int, Field(ge=1)]
    seed: Annotated[int, Field(ge=0)] = 0
    demand_growth: DemandGrowth = DemandGrowth()


class Tree(Frozen):
    """A multi-stage scenario tree: decisions shared per node."""

    stages: list[Label] = Field(min_length=1)
    branching: list[Annotated[int, Field(ge=1)]] = []


RESERVED_SCENARIO_KEYS = ("commit_periods", "risk", "sample", "tree")
"""Keys of the scenarios block that are never scenario names."""


def _gathered(data: dict[str, Any]) -> bool:
    """Whether a scenarios mapping is already in the model's shape (named scenarios under
    ``members``), not as in a file, where a scenario may itself be named "members"."""
    members = data.get("members")
    return (isinstance(members, dict) and "probability" not in members
            and all(key in RESERVED_SCENARIO_KEYS or key == "members" for key in data))


class Scenarios(Frozen):
    """The scenarios block: named scenarios beside the reserved keys ``commit_periods``,
    ``risk``, ``sample`` and ``tree`` (uncertainty.md).

    In the file the scenarios sit beside the reserved keys in one mapping; they are gathered
    into ``members`` here.
    """

    commit_periods: Annotated[int, Field(ge=0)] | None = None
    members: dict[Label, Scenario] = {}
    risk: Risk | None = None
    sample: Sample | None = None
    tree: Tree | None = None

    @model_validator(mode="before")
    @classmethod
    def _gather(cls, data: Any) -> Any:
        if isinstance(data, dict) and not _gathered(data):
            gathered: dict[str, Any] = {key: data[key] for key in RESERVED_SCENARIO_KEYS
                                        if key in data}
            gathered["members"] = {k: v for k, v in data.items()
                                   if k not in RESERVED_SCENARIO_KEYS}
            return gathered
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> "Scenarios":
        if self.sample is not None and self.members:
            raise ValueError("named scenarios and sample are exclusive: give one or the other")
        if self.sample is None and not self.members:
            raise ValueError("no scenarios: name at least one (with its probability) or give "
                             "sample")
        if self.tree is not None and self.commit_periods is not None:
            raise ValueError("tree and commit_periods are exclusive: a tree's stages say what "
                             "is committed when")
        return self

    @property
    def committed(self) -> int:
        """Periods whose decisions every scenario shares (default 1)."""
        return 1 if self.commit_periods is None else self.commit_periods


class InstanceSpec(Frozen):
    """A whole instance file, as written (CSV tables already read in)."""

    format: Literal[1]
    name: str = ""
    currency: Label = "USD"
    horizon: Horizon
    workloads: dict[Label, Workload] = Field(min_length=1)
    demand: dict[Label, dict[Label, NonNegative]]
    accelerators: dict[Label, Accelerator] = Field(min_length=1)
    sites: dict[Label, Site] = Field(min_length=1)
    rentals: dict[Label, Rental] = {}
    policies: Policies = Policies()
    scenarios: Scenarios | None = None
