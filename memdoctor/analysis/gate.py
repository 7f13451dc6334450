"""The CI memory gate's judgement: pure functions from measurements to pass/fail checks.

A gate run produces one Check per rule (the command itself, the verdict, each threshold, the
baseline comparison); the gate passes when every check passes. Rules judge the memory
*floor* trend from the classifier, not raw peaks, so a healthy GC sawtooth passes.

Baselines: a stored result of the main branch (growth rate with its noise, the 95th
percentile of memory). A regression must exceed both the allowed share (--max-regression)
and the run-to-run noise of the two runs, so that flakes do not fail builds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from memdoctor.analysis import Diagnosis
from memdoctor.analysis.engine import describe_growth, growth_standard_error
from memdoctor.units import format_bytes, format_duration, format_rate

BASELINE_VERSION = 1
# Below this the floor growth is too small to speak of a regression (a few KiB/min).
MIN_GROWTH_ALLOWANCE = 16 * 1024 / 60
NOISE_SIGMAS = 3.0


@dataclass(frozen=True)
class Thresholds:
    max_growth_bytes_per_s: float | None = None
    max_rss_bytes: int | None = None
    min_time_to_limit_s: float | None = None  # --max-time-to-limit: fail if the limit comes sooner
    fail_on: frozenset[str] = frozenset({"leak"})
    max_regression: float | None = None  # share, e.g. 0.10, with a baseline


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    message: str
    value: float | str | None = None
    threshold: float | str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CommandStatus:
    """How the command under test fared; None of these for --trace."""

    description: str  # "exited with code 0", "stopped by memdoctor at the end, ..."
    failed: bool  # could not start, crashed, or exited non-zero
    reason: str | None = None


@dataclass(frozen=True)
class Measurements:
    """What the gate judges, computed from the (post-warm-up) trace."""

    diagnosis: Diagnosis
    peak_bytes: float
    p95_bytes: float
    growth_noise_bytes_per_s: float
    p95_noise_bytes: float
    judged_from_s: float = 0.0  # the warm-up cut

    def to_baseline(self, source: str) -> dict[str, Any]:
        return {
            "memdoctor_gate_baseline": BASELINE_VERSION,
            "source": source,
            "growth_bytes_per_s": self.diagnosis.growth_bytes_per_s,
            "growth_noise_bytes_per_s": self.growth_noise_bytes_per_s,
            "p95_bytes": self.p95_bytes,
            "p95_noise_bytes": self.p95_noise_bytes,
            "peak_bytes": self.peak_bytes,
            "verdict": self.diagnosis.verdict,
            "samples": self.diagnosis.samples,
            "duration_s": self.diagnosis.duration_s,
        }


@dataclass(frozen=True)
class Baseline:
    growth_bytes_per_s: float
    growth_noise_bytes_per_s: float
    p95_bytes: float
    p95_noise_bytes: float
    source: str

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str) -> Baseline:
        try:
            return cls(
                growth_bytes_per_s=float(data["growth_bytes_per_s"]),
                growth_noise_bytes_per_s=float(data.get("growth_noise_bytes_per_s", 0.0)),
                p95_bytes=float(data["p95_bytes"]),
                p95_noise_bytes=float(data.get("p95_noise_bytes", 0.0)),
                source=source,
            )
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{source} is not a memdoctor gate baseline (need growth_bytes_per_s and p95_bytes); "
                             "write one with --update-baseline") from None


@dataclass
class GateResult:
    passed: bool
    checks: list[Check]
    measurements: Measurements | None
    notes: list[str] = field(default_factory=list)
    # `gate --diagnose` on a failing gate: the ranked leak report written beside the trace
    # ({"html": path, "json": path, "suspects": [{"key", "bytes_per_min"}...]}).
    report: dict[str, Any] | None = None

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        m = self.measurements
        return {
            "passed": self.passed,
            "checks": [c.to_dict() for c in self.checks],
            "failures": [c.name for c in self.failures],
            "peak_bytes": m.peak_bytes if m else None,
            "p95_bytes": m.p95_bytes if m else None,
            "judged_from_s": m.judged_from_s if m else None,
            "diagnosis": m.diagnosis.to_dict() if m else None,
            "floor_test": m.diagnosis.extras.get("floor_test") if m else None,
            "notes": self.notes,
            "report": self.report,
        }


def measure(t: np.ndarray, mem: np.ndarray, diagnosis: Diagnosis, judged_from_s: float = 0.0,
            windows: int = 12) -> Measurements:
    """Peak and p95 of the judged window, and the run-to-run noise of the growth (from the diagnosis'
    own interval) and of p95."""
    t = np.asarray(t, dtype=float)
    mem = np.asarray(mem, dtype=float)
    p95_noise = 0.0
    if len(t) >= 2 * windows and t[-1] > t[0]:
        edges = np.linspace(t[0], t[-1], windows + 1)
        idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, windows - 1)
        tops = np.asarray([float(np.percentile(mem[idx == w], 95)) for w in range(windows) if (idx == w).any()])
        if len(tops) >= 4:
            # Spread of the per-window p95 around its median, as a standard error.
            mad = float(np.median(np.abs(tops - np.median(tops))))
            p95_noise = 1.4826 * mad / math.sqrt(len(tops))
    return Measurements(
        diagnosis=diagnosis,
        peak_bytes=float(mem.max()) if len(mem) else 0.0,
        p95_bytes=float(np.percentile(mem, 95)) if len(mem) else 0.0,
        growth_noise_bytes_per_s=growth_standard_error(diagnosis) or 0.0,
        p95_noise_bytes=p95_noise,
        judged_from_s=judged_from_s,
    )


def judge(m: Measurements | None, thresholds: Thresholds, *, command: CommandStatus | None = None,
          baseline: Baseline | None = None, oom_kill_times: list[float] | None = None,
          nothing_judged: str = "no memory sample was recorded: nothing to judge") -> GateResult:
    """Every check of the gate, and whether it passes.

    `oom_kill_times`: when the target was OOM-killed (seconds since the start; from the trace's
    {"event": "oom_kill"} lines or the recording). A process killed at its memory limit fails
    the gate whatever its trend looked like: the kill is the fact the gate exists to catch."""
    checks: list[Check] = []
    notes: list[str] = []
    if command is not None:
        checks.append(Check("command", not command.failed,
                            f"the command {command.description}" + (f": {command.reason}" if command.reason else ""),
                            value=command.description))
    if oom_kill_times:
        first = min(oom_kill_times)
        times = "once" if len(oom_kill_times) == 1 else f"{len(oom_kill_times)} times"
        checks.append(Check("oom-kill", False,
                            f"the target was OOM-killed {times} (first at {format_duration(first)}): killed at its "
                            "memory limit, whatever the trend before", value=len(oom_kill_times), threshold=0))
    if m is None:
        checks.append(Check("samples", False, nothing_judged))
        return GateResult(False, checks, None, notes)
    d = m.diagnosis
    # The diagnosis' verdict, as analyze prints it: the gate computes none of its own.
    fail_on = thresholds.fail_on | {"leak"}  # --fail-on adds verdicts that fail; a leak always does
    verdict_fails = d.verdict in fail_on
    message = f"verdict {d.verdict} ({d.pattern}), floor growth {describe_growth(d)}"
    floor = d.extras.get("floor_test") or {}
    if floor.get("message") and (d.verdict != "no-leak" or floor.get("state") in ("heap-sizing", "levelling-off")):
        message += f"; {floor['message']}"
    if d.verdict == "inconclusive" and d.watch_more_s is not None:
        message += f"; run the gate >= {format_duration(d.watch_more_s)} longer to decide"
    if verdict_fails:
        message += f"; fails on {', '.join(sorted(fail_on))}"
    checks.append(Check("verdict", not verdict_fails, message, value=d.verdict, threshold=",".join(sorted(fail_on))))
    if thresholds.max_growth_bytes_per_s is not None:
        growth = d.growth_bytes_per_s
        ok = growth <= thresholds.max_growth_bytes_per_s
        message = (f"floor growth {describe_growth(d)} {'<=' if ok else '>'} "
                   f"{format_rate(thresholds.max_growth_bytes_per_s)}")
        if ok and d.verdict == "inconclusive" and d.watch_more_s is not None and d.pattern != "plateau":
            # The diagnosis could not decide the floor trend (too few GC or batch cycles, or too weak a
            # trend): a budget is not met by a growth nobody could measure. A plateau is the other case
            # (a warm-up or cache fill still levelling off), which --warmup is for.
            ok = False
            message = (f"cannot judge the floor growth ({describe_growth(d)} measured, budget "
                       f"{format_rate(thresholds.max_growth_bytes_per_s)}): the diagnosis is undecided; "
                       f"run the gate >= {format_duration(d.watch_more_s)} longer (--duration)")
        elif not ok and d.verdict == "inconclusive" and d.watch_more_s is not None:
            # Over budget while undecided: still a failure (the budget is not shown to hold), but say
            # that the rate is rough so nobody chases a leak that a longer run would clear.
            message += f" (undecided: run the gate >= {format_duration(d.watch_more_s)} longer to measure it)"
        elif not ok and d.growth_low_bytes_per_s is not None and \
                d.growth_low_bytes_per_s <= thresholds.max_growth_bytes_per_s:
            # Over budget, but the measured interval still reaches below it: a failure (the budget is
            # not shown to hold), with the remedy, since a longer run narrows the interval.
            message += " (its interval reaches below the budget: a longer run measures it more precisely)"
        checks.append(Check("max-growth", ok, message, value=growth, threshold=thresholds.max_growth_bytes_per_s))
    if thresholds.max_rss_bytes is not None:
        ok = m.peak_bytes <= thresholds.max_rss_bytes
        checks.append(Check(
            "max-rss", ok,
            f"peak memory {format_bytes(m.peak_bytes)} {'<=' if ok else '>'} {format_bytes(thresholds.max_rss_bytes)}",
            value=m.peak_bytes, threshold=thresholds.max_rss_bytes,
        ))
    if thresholds.min_time_to_limit_s is not None:
        ttl = d.time_to_limit_s
        if d.limit_bytes is None:
            checks.append(Check("time-to-limit", False, "no memory limit is known: give --limit",
                                threshold=thresholds.min_time_to_limit_s))
        else:
            ok = ttl is None or ttl >= thresholds.min_time_to_limit_s
            limit = format_bytes(d.limit_bytes)
            # One sentence per case: "the 10.0 MiB limit is reached in already", "... is reached in no forecast".
            if ttl is not None and ttl <= 0:
                said = f"memory is already at the {limit} limit"
            elif ttl is not None:
                said = f"the {limit} limit is reached in {format_duration(ttl)}"
            elif d.growth_bytes_per_s > 0 and (d.growth_low_bytes_per_s or 0.0) > 0:
                # The diagnosis forecasts a reading that is not a leak over the gate's horizon (engine.diagnose's
                # forecast_within_s): none means even the fast end of the growth's interval stays below the limit.
                said = (f"the {limit} limit is not reached within {format_duration(thresholds.min_time_to_limit_s)} "
                        f"even at the fast end of the floor growth {describe_growth(d)}")
            elif d.growth_bytes_per_s > 0:
                said = f"no forecast of the {limit} limit (verdict {d.verdict}, floor growth {describe_growth(d)})"
            else:
                said = f"the {limit} limit is never reached (the floor does not grow)"
            checks.append(Check(
                "time-to-limit", ok,
                f"{said}; the gate asks for at least {format_duration(thresholds.min_time_to_limit_s)}",
                value=ttl, threshold=thresholds.min_time_to_limit_s,
            ))
    if baseline is not None:
        checks.extend(_baseline_checks(m, baseline, thresholds.max_regression or 0.0, notes))
    return GateResult(all(c.passed for c in checks), checks, m, notes)


def _baseline_checks(m: Measurements, base: Baseline, share: float, notes: list[str]) -> list[Check]:
    growth = m.diagnosis.growth_bytes_per_s
    noise = NOISE_SIGMAS * math.hypot(m.growth_noise_bytes_per_s, base.growth_noise_bytes_per_s)
    allowed = max(base.growth_bytes_per_s, 0.0) * (1 + share) + max(noise, MIN_GROWTH_ALLOWANCE)
    growth_ok = growth <= allowed
    p95_noise = NOISE_SIGMAS * math.hypot(m.p95_noise_bytes, base.p95_noise_bytes)
    p95_allowed = base.p95_bytes * (1 + share) + p95_noise
    p95_ok = m.p95_bytes <= p95_allowed
    notes.append(f"baseline {base.source}: floor {format_rate(base.growth_bytes_per_s)}, "
                 f"p95 {format_bytes(base.p95_bytes)}; run-to-run noise allowance {format_rate(noise)} and "
                 f"{format_bytes(p95_noise)}")
    return [
        Check("baseline-growth", growth_ok,
              f"floor growth {format_rate(growth)} vs baseline {format_rate(base.growth_bytes_per_s)}: "
              f"allowed up to {format_rate(allowed)} (+{share:.0%} and noise)",
              value=growth, threshold=allowed),
        Check("baseline-memory", p95_ok,
              f"p95 memory {format_bytes(m.p95_bytes)} vs baseline {format_bytes(base.p95_bytes)}: "
              f"allowed up to {format_bytes(p95_allowed)} (+{share:.0%} and noise)",
              value=m.p95_bytes, threshold=p95_allowed),
    ]


def parse_share(text: str) -> float:
    """"10%" or "0.1" -> 0.1."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ValueError(f"cannot read {text!r}: use a share such as 10% or 0.1") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} must be a share of at least 0%")
    return value
