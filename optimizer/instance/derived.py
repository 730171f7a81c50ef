"""Small derivations from the instance shared by the checks and the problem data."""
from __future__ import annotations

from typing import Mapping, Sequence

from optimizer.instance.schema import Accelerator, CoolingMode, Workload


def throughput_tokens_per_s(accelerator: Accelerator, workload_name: str,
                            workload: Workload) -> float:
    """Tokens/s one card of ``accelerator`` serves of ``workload`` at the service target.

    A measured ``throughput`` wins; otherwise ``peak_tflops x 1e12 x mfu / flops_per_token``;
    0 when neither is known.
    """
    if workload_name in accelerator.throughput:
        return accelerator.throughput[workload_name]
    if accelerator.peak_tflops is not None and workload.flops_per_token is not None:
        return accelerator.peak_tflops * 1e12 * accelerator.mfu / workload.flops_per_token
    return 0.0


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
