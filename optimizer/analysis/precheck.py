"""Obvious reasons no plan can exist, found before the model is built."""
from __future__ import annotations

from collections import defaultdict

from optimizer.errors import Relaxation
from optimizer.problem import ProblemData


def precheck(data: ProblemData) -> list[Relaxation]:
    """Obvious reasons no plan can exist, found before building the model.

    - a workload has demand in a period where no accelerator can serve it (none bought yet,
      none with a throughput, none allowed at the sites of its regions);
    - demand above what every card slot of its regions could serve with the best accelerator;
    - and, once the slots fall short (so that no model is solved to explain it), demand above
      what the grid of its sites could power: per site, the most tokens/s per MW of any card
      it may install (throughput x availability / (kW per card x the site's lowest PUE /
      1000)) times its grid MW; and above the lesser of the two, site by site. Raising the
      slots alone would then not be enough, and the planner is told so. (Without a slot
      shortfall the grid is left to the elastic re-solve, which names each site's MW.)

    Soft demand (``unmet_demand_cost_per_million_tokens`` set) always has a plan: what cannot be
    served is unmet and priced, so nothing is reported.
    """
    found: list[Relaxation] = _existing_halls_above_grid(data) + _balances_above_budget(data)
    powered: list[Relaxation] = []       # the grid's shortfalls, told with the slots'
    slots_short = False
    if data.unmet_price_per_million_tokens is not None:
        return found
    serving = defaultdict(list)
    for (w, k, s, t) in data.SERVE:
        serving[w, t].append((k, s))
    rented = defaultdict(list)
    for (w, r, t) in data.RENT_SERVE:
        rented[w, t].append(r)
    pue_low: dict[str, float] = {}
    for (s, c), pue in data.pue.items():
        pue_low[s] = min(pue_low.get(s, pue), pue)
    for (w, t) in data.DEMAND:
        peak = data.demand_peak[w, t] * data.token_unit
        options = serving.get((w, t), [])
        rentals = rented.get((w, t), [])
        if not options and not rentals:
            found.append(Relaxation("demand", (w, data.periods[t]), peak, "tokens/s",
                                    f"{w} demand in {data.periods[t]}: {peak:,.0f} tokens/s "
                                    "(peak) cannot be served: no accelerator that serves it "
                                    "can be installed at a site of its regions by then"
                                    + _arrivals(data, w, t)))
            continue
        best: dict[str, float] = {}
        per_mw: dict[str, float] = {}          # tokens/s per MW of the site's grid
        for k, s in options:
            rate = data.throughput[k, w] * data.availability[k]
            best[s] = max(best.get(s, 0.0), rate)
            kw = data.power_kw_per_card.get(k, 0.0) * pue_low.get(s, 1.0)
            per_mw[s] = max(per_mw.get(s, 0.0), rate * 1000.0 / kw if kw > 0 else float("inf"))
        slots = {s: rate * data.max_cards[s] for s, rate in best.items()}
        grid = {s: float("inf") if per_mw[s] == float("inf") else      # cards drawing no power
                per_mw[s] * data.grid_mw.get((s, t), 0.0) for s in best}
        rented_ceiling = 0.0
        for r in rentals:
            k = data.rental_accelerator[r]
            rented_ceiling += (data.throughput[k, w] * data.availability[k]
                               * data.rental_max_cards.get((r, t), float("inf")))
        ceiling = sum(slots.values()) + rented_ceiling
        both = sum(min(slots[s], grid[s]) for s in best) + rented_ceiling
        label = f"{w} demand in {data.periods[t]}: {peak:,.0f} tokens/s (peak)"
        rental_words = " and every rental" if rentals else ""
        if peak > ceiling * (1 + 1e-9):
            slots_short = True
            found.append(Relaxation("demand", (w, data.periods[t]), peak - ceiling, "tokens/s",
                                    f"{label} but every card slot of its sites filled with the "
                                    f"fastest card{rental_words} serves {ceiling:,.0f}; "
                                    f"{peak - ceiling:,.0f} tokens/s cannot be served"))
        grid_ceiling = sum(grid.values()) + rented_ceiling
        if best and peak > grid_ceiling * (1 + 1e-9):
            grid_total = sum(data.grid_mw.get((s, t), 0.0) for s in best)
            efficient = max(per_mw.values())
            more_mw = (peak - grid_ceiling) / efficient if efficient > 0 else float("inf")
            powered.append(Relaxation("demand", (w, data.periods[t]), more_mw, "MW",
                                    f"{label} but the grid of its sites ({grid_total:,.1f} MW "
                                    f"in {data.periods[t]}) powers at most "
                                    f"{grid_ceiling - rented_ceiling:,.0f} tokens/s with the "
                                    f"most efficient card{rental_words and ' (plus rentals)'}; "
                                    f"about {more_mw:,.1f} MW more grid would be needed"))
        elif best and peak > both * (1 + 1e-9) and both < ceiling * (1 - 1e-9):
            powered.append(Relaxation("demand", (w, data.periods[t]), peak - both, "tokens/s",
                                    f"{label} but each site gives at most the lesser of its "
                                    f"card slots and what its grid powers{rental_words}: "
                                    f"{both:,.0f} tokens/s; {peak - both:,.0f} tokens/s cannot "
                                    "be served (raise the grid where the slots are, or the "
                                    "slots where the grid is)"))
    return found + (powered if slots_short else [])


def _arrivals(data: ProblemData, w: str, t: int) -> str:
    """Why nothing arrives by period t: the first delivery of each card that serves w when
    lead times or bans hold it back (empty otherwise)."""
    first: dict[str, int] = {}
    for (k, _, _, d) in data.BUY:
        if (k, w) in data.throughput:
            first[k] = min(d, first.get(k, d))
    late = [f"{k} first arrives {data.periods[d]}" + (
        f" (lead time {data.lead_time_periods[k]})" if data.lead_time_periods.get(k) else "")
        for k, d in sorted(first.items()) if d > t]
    return f" ({'; '.join(late)})" if late else ""


def _existing_halls_above_grid(data: ProblemData) -> list[Relaxation]:
    """Sites whose existing cooling halls alone draw more at the meter (PUE x existing IT MW)
    than the grid allows in some period: no plan can exist (capacity never shrinks)."""
    found = []
    for s in data.SITES:
        need = sum(data.pue[s, c] * mw for (site, c), mw in data.existing_it_mw.items()
                   if site == s)
        for t in range(data.n_periods):
            cap = data.grid_mw[s, t]
            if need > cap + 1e-9:
                period = data.periods[t]
                found.append(Relaxation("grid", (s, period), need - cap, "MW",
                                        f"site {s} grid: the existing halls need {need:.3f} MW "
                                        f"at the meter (PUE x existing IT MW), cap {cap:.3f} MW "
                                        f"in {period}"))
    return found


def _balances_above_budget(data: ProblemData) -> list[Relaxation]:
    """Periods whose budget is below the balance cards on order still owe on arrival then
    (a constant: no decision can lower it)."""
    due: dict[int, float] = defaultdict(float)
    for t, kind, money in data.costs.constant:
        if kind == "on_order_balance":
            due[t] += money
    found = []
    for t, money in sorted(due.items()):
        if t in data.budget and money > data.budget[t] * data.money_unit * (1 + 1e-9):
            cap = data.budget[t] * data.money_unit
            period = data.periods[t]
            found.append(Relaxation("budget", (period,), money - cap, data.currency,
                                    f"capex budget in {period}: cards on order owe "
                                    f"{money:,.0f} {data.currency} on arrival, above the "
                                    f"budget of {cap:,.0f}"))
    return found
