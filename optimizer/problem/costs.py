"""The cost model of shared/design/model.md, written once: what each unit of each decision
costs, in which period and of which kind. The objective's coefficients and ``costs.csv`` are
both sums of these entries (the objective discounted, the table not), so they cannot disagree.

Kinds and their discounting:

- capex (``capex_cards``, ``capex_cooling``, ``capex_sites``, ``on_order_balance`` (the
  balance cards on order still owe on arrival, a constant)): at the start of the period,
  d_s(t);
- opex (``energy``, ``maintenance``, ``fixed``, ``unmet``, ``rental``, ``carbon``,
  ``water``): through the period, d_m(t);
- ``salvage``: a credit at the horizon end, -d_e;
- ``depreciation``: reported only (straight-line capex over the life inside the horizon).

Money is in the instance currency per unit of the decision (a purchase unit, a card, a build
step, an opening, a token/s of unmet peak demand).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from optimizer.problem.time import SECONDS_PER_DAY, Timeline

CAPEX_KINDS = ("capex_cards", "capex_cooling", "capex_sites", "on_order_balance")
OPEX_KINDS = ("energy", "maintenance", "fixed", "unmet", "rental", "carbon", "water")
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
                 maintenance_rate: float, reported: bool = True, ordered: int | None = None,
                 deposit_fraction: float = 1.0, alive: range | None = None) -> list[Entry]:
        """One purchase unit delivered in ``bought`` for ``price_paid`` (procurement.md):
        the deposit (``deposit_fraction`` of the price) paid in the ``ordered`` period and the
        balance at delivery (capex), maintenance while alive (rate x L x price per period),
        salvage at the horizon end and straight-line depreciation, both with age counted from
        delivery.

        Args:
            ordered: the order period (default: the delivery period, no lead time).
            alive: the periods the cards serve (default: their life from delivery); when a
                ban retires them inside the horizon they have no salvage, and what is left of
                their value is written off (depreciation) in the period they leave.
        """
        line = self.timeline
        ordered = bought if ordered is None else ordered
        deposit = deposit_fraction * price_paid
        entries: list[Entry] = []
        if deposit:
            entries.append((ordered, "capex_cards", deposit))
        if price_paid - deposit:
            entries.append((bought, "capex_cards", price_paid - deposit))
        natural = line.alive(bought, lifetime_years)
        living = natural if alive is None else alive
        if maintenance_rate:
            per_period = maintenance_rate * line.years * price_paid
            entries += [(t, "maintenance", per_period) for t in living]
        retired_early = living.stop < natural.stop
        salvage = 0.0 if retired_early else line.salvage_share(bought, lifetime_years) * price_paid
        if salvage:
            entries.append((line.n - 1, "salvage", salvage))
        if reported:
            kept = [entry for entry in self._depreciation(bought, price_paid, lifetime_years)
                    if entry[0] in living]
            entries += kept
            if retired_early and living.stop < line.n:
                written = price_paid - sum(money for _, _, money in kept)
                if written > 0:
                    entries.append((living.stop, "depreciation", written))
        return entries

    def emissions(self, t: int, tonnes: float, price_per_t: float) -> list[Entry]:
        """``tonnes`` of CO2 emitted through period t at the period's carbon price."""
        money = tonnes * price_per_t
        return [(t, "carbon", money)] if money else []

    def water(self, t: int, m3: float, price_per_m3: float) -> list[Entry]:
        """``m3`` of water drawn through period t at the site's price."""
        money = m3 * price_per_m3
        return [(t, "water", money)] if money else []

    def rental(self, t: int, price_per_card_hour: float) -> list[Entry]:
        """One card rented through period t: price per card-hour x H (all-in: host, power,
        cooling)."""
        money = price_per_card_hour * self.timeline.hours
        return [(t, "rental", money)] if money else []

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
