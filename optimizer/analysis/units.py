"""Readable numbers: money, tokens and shares with their units (one place for every report)."""
from __future__ import annotations


def money(value: float | None, currency: str = "") -> str:
    """1234567 -> '1.23 M USD' (B, M, k; two decimals); None -> '-'."""
    if value is None:
        return "-"
    suffix = f" {currency}" if currency else ""
    for unit, label in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= unit:
            return f"{value / unit:,.2f} {label}{suffix}"
    return f"{value:,.2f}{suffix}"


def count(value: float | None) -> str:
    """A large count in readable units: 5.44e14 -> '544 trillion'."""
    if value is None:
        return "-"
    for unit, label in ((1e18, "quintillion"), (1e15, "quadrillion"), (1e12, "trillion"),
                        (1e9, "billion"), (1e6, "million")):
        if abs(value) >= unit:
            return f"{value / unit:,.3g} {label}"
    return f"{value:,.0f}"


def percent(share: float | None) -> str:
    """0.5 -> '50 %'."""
    return "-" if share is None else f"{share * 100:.4g} %"
