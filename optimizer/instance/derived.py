"""Small derivations from the instance shared by the checks and the problem data."""
from __future__ import annotations

import math
from typing import Mapping, Sequence

from optimizer.instance.schema import Accelerator, CoolingMode, Workload


LIFETIME_TOLERANCE = 1e-9
"""Slack in "age < lifetime" so that a lifetime of whole periods is not cut, or stretched,
by rounding (0.7-year periods and a 2.1-year life: 3 periods)."""


def periods_alive(lifetime_years: float, age_years: float, period_years: float) -> int:
    """Periods a card of ``age_years`` at its first period lives on: alive in its k-th period
    (k = 0, 1, ...) while age + k L < lifetime, i.e. ceil((lifetime - age) / L) periods. The
    one alive rule of every card (:meth:`optimizer.problem.time.Timeline.alive` uses it)."""
    return max(0, math.ceil((lifetime_years - age_years) / period_years - LIFETIME_TOLERANCE))


def throughput_tokens_per_s(accelerator: Accelerator, workload_name: str,
                            workload: Workload) -> float:
    """Tokens/s one card of ``accelerator`` serves of ``workload`` at the service target.

    A measured ``throughput`` wins; otherwise ``peak_tflops x 1e12 x mfu / flops_per_token``;
    0 when neither is known, and 0 when a replica of the workload's model does not fit in the
    memory of the cards it may span (:func:`memory_fits`).
    """
    if not memory_fits(accelerator, workload):
        return 0.0
    if workload_name in accelerator.throughput:
        return accelerator.throughput[workload_name]
    if accelerator.peak_tflops is not None and workload.flops_per_token is not None:
        return accelerator.peak_tflops * 1e12 * accelerator.mfu / workload.flops_per_token
    return 0.0


def memory_fits(accelerator: Accelerator, workload: Workload) -> bool:
    """Whether one replica of the workload's model fits: memory_gb x scale_up_cards >=
    model_memory_gb (true when either memory is unknown). ``scale_up_cards`` defaults to
    ``cards_per_unit``."""
    if accelerator.memory_gb is None or workload.model_memory_gb is None:
        return True
    span = accelerator.scale_up_cards or accelerator.cards_per_unit
    return accelerator.memory_gb * span >= workload.model_memory_gb


def memory_dropped_pairs(accelerators: Mapping[str, Accelerator],
                         workloads: Mapping[str, Workload]) -> list[tuple[str, str]]:
    """(accelerator, workload) pairs that would serve but whose model does not fit."""
    return [(k, w) for k, acc in sorted(accelerators.items())
            for w, wl in sorted(workloads.items())
            if not memory_fits(acc, wl) and (w in acc.throughput or (
                acc.peak_tflops is not None and wl.flops_per_token is not None))]


def banned_accelerators(rule, accelerators: Mapping[str, Accelerator]) -> list[str]:
    """The accelerators a ban or tariff rule names: by name, or carrying any of its tags."""
    tags = set(rule.tags)
    return sorted(k for k, acc in accelerators.items()
                  if k in rule.accelerators or tags & set(acc.tags))


def per_period(value: float | Mapping[str, float] | None, periods: Sequence[str],
               missing: float | None = None) -> list[float | None]:
    """Expand a period-indexed field into one value per period (``missing`` where unset)."""
    if value is None:
        return [missing] * len(periods)
    if isinstance(value, Mapping):
        return [value.get(p, missing) for p in periods]
    return [float(value)] * len(periods)


def rack_fits(accelerator: Accelerator, mode: CoolingMode) -> bool:
    """Whether racks of ``accelerator`` can be cooled by ``mode`` (rack_kw <= max_rack_kw)."""
    return (accelerator.rack_kw is None or mode.max_rack_kw is None
            or accelerator.rack_kw <= mode.max_rack_kw)
