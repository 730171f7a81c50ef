"""Obvious reasons no plan can exist, found before the model is built."""
from __future__ import annotations

from collections import defaultdict

from optimizer.errors import Relaxation
from optimizer.problem import ProblemData


def precheck(data: ProblemData) -> list[Relaxation]:
    """Obvious reasons no plan can exist, found before building the model.

    - a workload has demand in a period where no accelerator can serve it (none bought yet,
      none with a throughput, none allowed at the sites of its regions);
    - demand above what every card slot of its regions could serve with the best accelerator.

    Soft demand (``unmet_demand_cost_per_million_tokens`` set) always has a plan: what cannot be
    served is unmet and priced, so nothing is reported.
    """
    found: list[Relaxation] = _existing_halls_above_grid(data) + _balances_above_budget(data)
    if data.unmet_price_per_million_tokens is not None:
        return found
    serving = defaultdict(list)
    for (w, k, s, t) in data.SERVE:
        serving[w, t].append((k, s))
    rented = defaultdict(list)
    for (w, r, t) in data.RENT_SERVE:
        rented[w, t].append(r)
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
        best = {}
        for k, s in options:
            rate = data.throughput[k, w] * data.availability[k]
            best[s] = max(best.get(s, 0.0), rate)
        ceiling = sum(rate * data.max_cards[s] for s, rate in best.items())
        for r in rentals:
            k = data.rental_accelerator[r]
            ceiling += (data.throughput[k, w] * data.availability[k]
                        * data.rental_max_cards.get((r, t), float("inf")))
        if peak > ceiling * (1 + 1e-9):
            found.append(Relaxation("demand", (w, data.periods[t]), peak - ceiling, "tokens/s",
                                    f"{w} demand in {data.periods[t]}: {peak:,.0f} tokens/s "
                                    f"(peak) but every card slot of its sites filled with the "
                                    f"fastest card{' and every rental' if rentals else ''} "
                                    f"serves {ceiling:,.0f}; "
                                    f"{peak - ceiling:,.0f} tokens/s cannot be served"))
    return found


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
