"""The cost model of shared/design/model.md, written once: what each unit of each decision
costs, in which period and of which kind. The objective's coefficients and ``costs.csv`` are
both sums of these entries (the objective discounted, the table not), so they cannot disagree.

Kinds and their discounting:

- capex (``capex_cards``, ``capex_cooling``, ``capex_sites``): at the start of the period,
  d_s(t);
- opex (``energy``, ``maintenance``, ``fixed``, ``unmet``): through the period, d_m(t);
- ``salvage``: a credit at the horizon end, -d_e;
- ``depreciation``: reported only (straight-line capex over the life inside the horizon).

Money is in the instance currency per unit of the decision (a purchase unit, a card, a build
step, an opening, a token/s of unmet peak demand).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from optimizer.problem.time import SECONDS_PER_DAY, Timeline

CAPEX_KINDS = ("capex_cards", "capex_cooling", "capex_sites")
OPEX_KINDS = ("energy", "maintenance", "fixed", "unmet")
CREDIT_KINDS = ("salvage",)
REPORTED_KINDS = ("depreciation",)
COST_KINDS = CAPEX_KINDS + OPEX_KINDS + CREDIT_KINDS + REPORTED_KINDS

Entry = tuple[int, str, float]
"""(period, kind, money per unit of the decision)."""


@dataclass
class CostModel:
    """The cost entries of every decision of a plan (built with the problem data).

    Attributes:
        timeline: periods and discounting.
        constant: entries no decision changes (fixed costs of operating sites, maintenance of
            the installed fleet), in money.
    """

    timeline: Timeline
    constant: list[Entry] = field(default_factory=list)

    def __post_init__(self) -> None:
        line, n = self.timeline, self.timeline.n
        start = [line.start(t) for t in range(n)]
        middle = [line.middle(t) for t in range(n)]
        self._factors = {kind: start for kind in CAPEX_KINDS}
        self._factors.update({kind: middle for kind in OPEX_KINDS})
        self._factors.update({kind: [-line.end] * n for kind in CREDIT_KINDS})
        self._factors.update({kind: [0.0] * n for kind in REPORTED_KINDS})

    # ---- discounting ---------------------------------------------------------------------

    def discount(self, kind: str, t: int) -> float:
        """The NPV factor of one unit of money of ``kind`` in period t (negative: a credit)."""
        return self._factors[kind][t]

    def npv(self, entries: list[Entry]) -> float:
        """The NPV of ``entries`` (money)."""
        factors = self._factors
        return sum(factors[kind][t] * money for t, kind, money in entries)

    # ---- decisions -------------------------------------------------------------------------

    def purchase(self, bought: int, price_paid: float, lifetime_years: float,
                 maintenance_rate: float, reported: bool = True) -> list[Entry]:
        """One purchase unit bought in ``bought`` for ``price_paid``: the price (capex), its
        maintenance while alive (rate x L x price per period), its salvage at the horizon end
        and its straight-line depreciation."""
        line = self.timeline
        entries: list[Entry] = [(bought, "capex_cards", price_paid)]
        if maintenance_rate:
            per_period = maintenance_rate * line.years * price_paid
            entries += [(t, "maintenance", per_period)
                        for t in line.alive(bought, lifetime_years)]
        salvage = line.salvage_share(bought, lifetime_years) * price_paid
        if salvage:
            entries.append((line.n - 1, "salvage", salvage))
        if reported:
            entries += self._depreciation(bought, price_paid, lifetime_years)
        return entries

    def _depreciation(self, bought: int, paid: float, lifetime_years: float) -> list[Entry]:
        line = self.timeline
        return [(t, "depreciation", paid * used / lifetime_years) for t in range(bought, line.n)
                if (used := line.years_used(bought, t, lifetime_years)) > 0]

    def build(self, built: int, cost: float, lifetime_years: float,
              reported: bool = True) -> list[Entry]:
        """One build step of cooling capacity built in ``built`` for ``cost``: capex, salvage
        and depreciation (as a purchase, without maintenance)."""
        line = self.timeline
        entries: list[Entry] = [(built, "capex_cooling", cost)]
        salvage = line.salvage_share(built, lifetime_years) * cost
        if salvage:
            entries.append((line.n - 1, "salvage", salvage))
        if reported:
            entries += self._depreciation(built, cost, lifetime_years)
        return entries

    def energy(self, t: int, price_per_mwh: float, pue: float, kw_per_card: float,
               share: float) -> list[Entry]:
        """One card (idle) or one busy card drawing ``share`` of its full power through period
        t: price x H x PUE x kW / 1000 x share."""
        money = price_per_mwh * self.timeline.hours * pue * kw_per_card / 1000.0 * share
        return [(t, "energy", money)] if money else []

    def opening(self, s_open: int, open_cost: float, fixed_per_year: float) -> list[Entry]:
        """open[s, t] = 1 for t = ``s_open``: the fixed cost of the period, and the opening
        cost written on open[t] - open[t-1] (paid in t, refunded in t+1 when it was already
        open: the difference of consecutive opens is the opening)."""
        line = self.timeline
        entries: list[Entry] = []
        if fixed_per_year:
            entries.append((s_open, "fixed", fixed_per_year * line.years))
        if open_cost:
            entries.append((s_open, "capex_sites", open_cost))
            if s_open + 1 < line.n:
                entries.append((s_open + 1, "capex_sites", -open_cost))
        return entries

    def unmet(self, t: int, tokens_per_unit: float, price_per_million: float) -> list[Entry]:
        """One unit of unmet peak demand in period t: the tokens it stands for over the period
        at the unmet-demand price."""
        return [(t, "unmet", tokens_per_unit / 1e6 * price_per_million)]

    def tokens_per_peak_unit(self, token_unit: float, peak_to_average: float) -> float:
        """Tokens over one period of one ``token_unit`` tokens/s of peak demand."""
        return token_unit / peak_to_average * SECONDS_PER_DAY * self.timeline.days
