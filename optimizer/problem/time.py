"""Time conventions of shared/design/model.md, written once.

Periods t = 0..n-1, each L = ``period_years`` long; period t starts y_t = t L years after the
horizon start and has H = 8760 L hours and 365 L days. Capex is discounted to the start of its
period, d_s(t) = (1+r)^-(y_t); opex to the middle, d_m(t) = (1+r)^-(y_t + L/2); salvage to the
horizon end, d_e = (1+r)^-(n L).
"""
from __future__ import annotations

from dataclasses import dataclass

from optimizer.instance.derived import periods_alive

HOURS_PER_YEAR = 8760.0
DAYS_PER_YEAR = 365.0
SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class Timeline:
    """The periods of a plan and their discount factors.

    Attributes:
        periods: labels, in order.
        years: L, the length of each period in years.
        rate: the discount rate per year.
    """

    periods: tuple[str, ...]
    years: float
    rate: float

    @property
    def n(self) -> int:
        return len(self.periods)

    @property
    def hours(self) -> float:
        """H: hours in one period."""
        return HOURS_PER_YEAR * self.years

    @property
    def days(self) -> float:
        """Days in one period."""
        return DAYS_PER_YEAR * self.years

    def start(self, t: int) -> float:
        """d_s(t): discount of money paid at the start of period t (capex)."""
        return (1 + self.rate) ** -(t * self.years)

    def middle(self, t: int) -> float:
        """d_m(t): discount of money paid through period t (opex)."""
        return (1 + self.rate) ** -(t * self.years + self.years / 2)

    @property
    def end(self) -> float:
        """d_e: discount of money at the horizon end (salvage)."""
        return (1 + self.rate) ** -(self.n * self.years)

    def life_periods(self, lifetime_years: float, age_years: float = 0.0) -> int:
        """Periods a card of ``age_years`` at its first period lives on: it is alive in its
        k-th period (k = 0, 1, ...) while age + k L < lifetime, i.e. ceil((lifetime - age) /
        L) periods. A tolerance keeps a lifetime of whole periods from being cut, or
        stretched, by rounding (0.7-year periods and a 2.1-year life: 3 periods)."""
        return periods_alive(lifetime_years, age_years, self.years)

    def alive(self, bought: int, lifetime_years: float, age_years: float = 0.0) -> range:
        """The periods a card arriving in ``bought`` with ``age_years`` (0 for a purchase or
        a card on order; its age at the horizon start for the installed fleet) is alive in,
        within the horizon. The one alive rule of every card: bought, existing, on order or
        re-planned."""
        return range(bought, min(self.n, bought + self.life_periods(lifetime_years, age_years)))

    def is_alive(self, age_years: float, lifetime_years: float) -> bool:
        """Whether a card of ``age_years`` at the start of a period serves in it."""
        return self.life_periods(lifetime_years, age_years) > 0

    def salvage_share(self, bought: int, lifetime_years: float) -> float:
        """Value left at the horizon end of what was bought in ``bought``, as a share of its
        price: max(0, 1 - age_end / lifetime) with age_end = (n - bought) L."""
        return max(0.0, 1 - (self.n - bought) * self.years / lifetime_years)

    def years_used(self, bought: int, t: int, lifetime_years: float) -> float:
        """Years of its life a purchase of ``bought`` spends in period t (straight-line
        depreciation)."""
        return min(self.years, max(0.0, lifetime_years - (t - bought) * self.years))
