"""The judgement engines memdoctor had before issue 20's single engine, run beside it where they still exist.

Issue 20 merges three engines into one public `memdoctor.analysis.diagnose`. To show the
difference on the same traces in the same run, this module wraps whichever of the old ones can
still be imported, each as `(t, mem, limit, restart_times) -> EngineVerdict`:

- "old: classifier": `memdoctor.analysis.classify.diagnose`, only while it is a different
  function from the public `diagnose` (before the rewrite it *is* the public one, so its column
  would repeat memdoctor's).
- "old: gate floor test": `gate_trend.judge_floor(gate_trend.floor_trend(t, mem))`, what `gate`
  used beside the classifier: state "rising" is a leak; "flat" and "levelling-off" are not;
  "heap-sizing" and "cannot-judge" are inconclusive.
- "old: compare floor CI": `compare.floor_slope_ci`, the Theil-Sen floor slope with its 95 %
  interval that `compare` printed: a leak when the interval lies above zero, no leak when it
  reaches zero or below, inconclusive when it has no slope (< 3 window minima).

An engine that no longer imports, or no longer answers a plain rising series with these
arguments, is left out (its columns disappear); nothing here is a second
estimator in memdoctor itself: it only calls what memdoctor ships.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import memdoctor.analysis


@dataclass(frozen=True)
class EngineVerdict:
    verdict: str  # "leak", "no-leak", "inconclusive"
    pattern: str | None  # the engine's shape word, when it names one
    detail: str  # a few words: the state or the rate it measured


Engine = Callable[[np.ndarray, np.ndarray, "int | None", "np.ndarray | None"], EngineVerdict]


def _attr(module: str, name: str) -> object | None:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _mib_min(rate: float) -> str:
    return f"{rate * 60 / 1024**2:.2f} MiB/min"


def _old_classifier(fn: Callable) -> Engine:
    def run(t: np.ndarray, mem: np.ndarray, limit: int | None, restarts: np.ndarray | None) -> EngineVerdict:
        d = fn(t, mem, limit_bytes=limit, restart_times=restarts)
        return EngineVerdict(d.verdict, d.pattern, _mib_min(d.growth_bytes_per_s))
    return run


_GATE_STATES = {"rising": "leak", "flat": "no-leak", "levelling-off": "no-leak",
                "heap-sizing": "inconclusive", "cannot-judge": "inconclusive"}


def _gate_floor(floor_trend: Callable, judge_floor: Callable) -> Engine:
    def run(t: np.ndarray, mem: np.ndarray, limit: int | None, restarts: np.ndarray | None) -> EngineVerdict:
        j = judge_floor(floor_trend(np.asarray(t, float), np.asarray(mem, float)))
        ft = j.trend
        rate = f", {_mib_min(ft.slope)}" if ft is not None and math.isfinite(ft.slope) else ""
        return EngineVerdict(_GATE_STATES.get(j.state, "inconclusive"), None, j.state + rate)
    return run


def _compare_ci(floor_slope_ci: Callable) -> Engine:
    def run(t: np.ndarray, mem: np.ndarray, limit: int | None, restarts: np.ndarray | None) -> EngineVerdict:
        ci = floor_slope_ci(np.asarray(t, float), np.asarray(mem, float))
        if ci.get("slope_bytes_per_s") is None or ci.get("low") is None:
            return EngineVerdict("inconclusive", None, "no slope")
        verdict = "leak" if ci["low"] > 0 else "no-leak"
        return EngineVerdict(verdict, None, f"{_mib_min(ci['slope_bytes_per_s'])} "
                                            f"[{ci['low'] * 60 / 1024**2:.2f}, {ci['high'] * 60 / 1024**2:.2f}]")
    return run


def _answers(engine: Engine) -> bool:
    """An old engine whose function is still there but no longer takes these arguments (or fails on a
    plain rising series) is left out rather than stopping the benchmark."""
    t = np.arange(0.0, 120.0, 0.5)
    try:
        return engine(t, 50e6 + 1e5 * t, None, None).verdict in ("leak", "no-leak", "inconclusive")
    except Exception:  # any failure of a retired engine only drops its column
        return False


def _engines() -> dict[str, Engine]:
    out: dict[str, Engine] = {}
    classic = _attr("memdoctor.analysis.classify", "diagnose")
    if callable(classic) and classic is not memdoctor.analysis.diagnose:
        out["old: classifier"] = _old_classifier(classic)
    gate = "memdoctor.analysis.gate_trend"
    ft, jf = _attr(gate, "floor_trend"), _attr(gate, "judge_floor")
    if callable(ft) and callable(jf):
        out["old: gate floor test"] = _gate_floor(ft, jf)
    ci = _attr("memdoctor.analysis.compare", "floor_slope_ci")
    if callable(ci):
        out["old: compare floor CI"] = _compare_ci(ci)
    return {name: engine for name, engine in out.items() if _answers(engine)}


OLD_ENGINES: dict[str, Engine] = _engines()
