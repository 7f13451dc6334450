"""The alert policy of watch/run --alert: when the verdict shown so far stops a recording.

Pure: it reads the online state (analysis/online.py: the one engine's verdict held against new
evidence) and says whether an alert rule holds. Only a held verdict raises an alert, never one
analysis, so an alert's confidence is the held verdict's.
"""

from __future__ import annotations

from dataclasses import dataclass

from memdoctor.analysis.engine import describe_growth
from memdoctor.analysis.online import OnlineState
from memdoctor.units import format_rate


@dataclass
class AlertRule:
    on_leak: bool = False
    max_growth_bytes_per_s: float | None = None
    min_time_s: float = 0.0  # judge nothing before this (a warm-up)


@dataclass
class Alert:
    reason: str
    detected_after_s: float
    confidence: float | None = None  # a leak alert's calibrated confidence; None for --max-growth (a measurement)


def check_alert(rule: AlertRule, st: OnlineState, elapsed: float) -> Alert | None:
    """The alert that `rule` raises on the online state after `elapsed` seconds, or None."""
    if elapsed < rule.min_time_s:
        return None
    d = st.diagnosis
    reason, confidence = None, None
    if rule.on_leak and st.shown == "leak" and st.confidence is not None:
        confidence = st.confidence
        reason = (f"leak established ({d.pattern}, floor {describe_growth(d)}), confidence {confidence:.2f} "
                  f"(of live leaks like this in memdoctor's labelled benchmark, {100 * confidence:.0f} in 100 were "
                  "leaks; the others were caches or warm-ups still filling)")
    elif (rule.max_growth_bytes_per_s is not None and not st.watching and d.verdict == st.shown
          and d.growth_bytes_per_s > rule.max_growth_bytes_per_s):
        reason = (f"floor growth {describe_growth(d)} is above "
                  f"--max-growth {format_rate(rule.max_growth_bytes_per_s)}")
    return Alert(reason=reason, detected_after_s=elapsed, confidence=confidence) if reason else None
