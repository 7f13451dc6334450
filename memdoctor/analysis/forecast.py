"""Time until the memory reaches its limit, from the trend of the floor.

The process dies when its *peaks* reach the limit, not its floor: the forecast adds to the
projected floor the excursion seen above it recently (the 98th percentile of peaks above the
floor line), then divides the remaining headroom by the floor's growth rate. The range comes
from the Theil-Sen confidence band of the slope (a faster slope gives the low end). An
exponential floor is extrapolated along its fitted curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from memdoctor.units import format_bytes, format_duration, format_until


@dataclass
class Growth:
    """What the forecast needs: the growth shown, its band, where the floor is now, the peaks above it."""

    slope: float
    slope_low: float
    slope_high: float
    floor_now: float | None
    excursion: float
    exp_model: tuple[float, float, float, float] | None  # (r, a, b, t0) of a + b exp(r (t - t0))


@dataclass(frozen=True)
class Forecast:
    seconds: float
    low: float | None
    high: float | None
    text: str


def time_to_limit(g: Growth, limit: int, *, last_t: float, last: float) -> Forecast:
    """Seconds from the last sample until the peaks reach `limit` (0 when they already do)."""
    floor_now = g.floor_now if g.floor_now is not None else last
    ceiling = float(limit) - max(g.excursion, 0.0)
    headroom = max(ceiling - floor_now, 0.0)
    if g.exp_model is not None:
        r, a, b, t0 = g.exp_model
        if r > 0 and b > 0 and ceiling > a:
            t_hit = t0 + math.log((ceiling - a) / b) / r
            sec = max(t_hit - last_t, 0.0)
            # Rate uncertainty of an exponential: +-25% on r moves the hit time by the same ratio.
            text = (
                f"{format_bytes(limit)} limit reached in about {format_duration(sec)} "
                f"(exponential extrapolation, {format_duration(sec / 1.25)} to {format_duration(sec * 1.25)})"
            )
            return Forecast(sec, sec / 1.25, sec * 1.25, text)
    sec = headroom / g.slope if g.slope > 0 else math.inf
    low: float | None = headroom / g.slope_high if g.slope_high > 0 else None
    high: float | None = headroom / g.slope_low if g.slope_low > 0 else None
    if low is not None and low > sec:
        low = sec
    if high is not None and high < sec:
        high = sec
    band = f"{format_duration(low)} to {format_until(high)}"
    text = (
        f"{format_bytes(limit)} limit reached in about {format_duration(sec)} ({band}): floor "
        f"{format_bytes(floor_now)} + peaks {format_bytes(g.excursion)} above it"
    )
    return Forecast(sec, low, high if high is not None else math.inf, text)
