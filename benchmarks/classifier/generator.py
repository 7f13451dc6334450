"""Seeded generator of labelled memory traces for the classifier benchmark.

Each family imitates a shape seen in real services (see docs/benchmarks.md): a process-tree RSS
sampled every 1-60 s for 5 minutes to 24 hours, with AR(1) noise, jittered sampling, gaps, and
sometimes a deploy restart. Every trace carries its label (verdict and pattern), the floor
growth over the observed window (for the "detectable" subset), and, for leaks, the true time
until the limit, found by simulating the same process past the end of the observation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter

MiB = 1024**2
LIMITS = (256 * MiB, 512 * MiB, 1024 * MiB, 2048 * MiB)


@dataclass
class Trace:
    name: str
    family: str
    verdict: str  # leak / no-leak
    pattern: str
    t: np.ndarray
    mem: np.ndarray
    limit_bytes: int | None
    restart_times: np.ndarray | None = None
    floor_growth: float = 0.0  # bytes the floor grew over the observed window (true model)
    floor_start: float = 1.0
    noise_sd: float = 0.0
    true_ttl_s: float | None = None  # from the last observed sample until the first sample >= limit
    rate_pct_h: float | None = None  # leak rate, % of the limit per hour
    meta: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return float(self.t[-1] - self.t[0]) if len(self.t) > 1 else 0.0

    @property
    def detectable(self) -> bool:
        """The target subset: floor grows >= 3% of its start and >= 4x the noise over >= 30 min."""
        return (
            self.verdict == "leak"
            and self.duration >= 1800
            and self.floor_growth >= 0.03 * self.floor_start
            and self.floor_growth >= 4 * self.noise_sd
        )

    @property
    def visible(self) -> bool:
        """A leak that left any mark in the data: >= 1% of the floor and >= 2x the noise."""
        return self.floor_growth >= 0.01 * self.floor_start and self.floor_growth >= 2 * self.noise_sd


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _grid(rng: np.random.Generator, duration: float, dt: float | None = None) -> np.ndarray:
    """Jittered sampling times over [0, duration]."""
    if dt is None:
        target = _loguniform(rng, 300, 5000)
        dt = float(np.clip(duration / target, 1.0, 60.0))
        if duration / dt < 25:
            dt = duration / 25
    n = int(duration / dt) + 1
    t = np.arange(n) * dt + rng.normal(0, 0.05 * dt, n)
    t[0] = 0.0
    return np.sort(t)


def _ar1(rng: np.random.Generator, n: int, sd: float, phi: float) -> np.ndarray:
    """Stationary AR(1) noise with marginal standard deviation `sd`."""
    e = rng.normal(0, sd * math.sqrt(1 - phi * phi), n)
    x0 = rng.normal(0, sd)
    out, _ = lfilter([1.0], [1.0, -phi], e, zi=[phi * x0])
    return out


def _gaps(rng: np.random.Generator, t: np.ndarray, mem: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if rng.random() >= 0.3 or len(t) < 200:
        return t, mem
    keep = np.ones(len(t), dtype=bool)
    dur = t[-1]
    for _ in range(int(rng.integers(1, 4))):
        g0 = rng.uniform(0.05, 0.9) * dur
        keep &= ~((t >= g0) & (t < g0 + rng.uniform(0.01, 0.05) * dur))
    return t[keep], mem[keep]


def _sawtooth(rng: np.random.Generator, t: np.ndarray, period: float, amp: float, arena: bool) -> np.ndarray:
    """GC garbage on top of the floor: ramps (V8-like) or arena steps (CPython-like), then a drop."""
    out = np.zeros(len(t))
    start = -rng.uniform(0, period)
    end_t = t[-1] + period
    while start < end_t:
        length = period * rng.uniform(0.7, 1.3)
        a = amp * rng.uniform(0.85, 1.0)
        sel = (t >= start) & (t < start + length)
        frac = (t[sel] - start) / length
        if arena:
            k = int(rng.integers(3, 9))
            frac = np.floor(frac * k) / k
        out[sel] = a * frac
        start += length
    return out


def _first_hit(t: np.ndarray, mem: np.ndarray, limit: float, t_obs: float) -> float | None:
    idx = np.flatnonzero((mem >= limit) & (t > t_obs))
    return float(t[idx[0]] - t_obs) if len(idx) else None


def _common(rng: np.random.Generator) -> dict:
    limit = int(LIMITS[int(rng.integers(0, len(LIMITS)))])
    return {
        "limit": limit,
        "duration": _loguniform(rng, 300, 86400),
        "base": limit * rng.uniform(0.15, 0.45),
        "sd_frac": _loguniform(rng, 0.002, 0.02),
        "phi": rng.uniform(0.5, 0.98),
        "known_limit": rng.random() < 0.7,
    }


def _finish(
    rng: np.random.Generator,
    name: str,
    family: str,
    verdict: str,
    pattern: str,
    c: dict,
    model,
    *,
    floor_fn,
    rate_pct_h: float | None = None,
    extend: bool = False,
    restart: bool = False,
) -> Trace:
    """Sample the model on a grid, add noise and gaps; for leaks, find the true time to the limit."""
    duration = c["duration"]
    sd = c["sd_frac"] * c["base"]
    if not extend:
        t_full = _grid(rng, duration)
    else:
        # The same grid spacing as an unextended trace would have, continued past the end.
        dt = float(np.clip(duration / _loguniform(rng, 300, 5000), 1.0, 60.0))
        if duration / dt < 25:
            dt = duration / 25
        horizon = duration * 8.0
        n = int(horizon / dt) + 1
        if n > 400_000:
            n = 400_000
        t_full = np.sort(np.arange(n) * dt + rng.normal(0, 0.05 * dt, n))
        t_full[0] = 0.0
    mem_full = model(t_full) + _ar1(rng, len(t_full), sd, c["phi"])
    mem_full = np.maximum(mem_full, 1 * MiB)
    obs = t_full <= duration
    true_ttl = _first_hit(t_full, mem_full, c["limit"], float(t_full[obs][-1])) if extend else None
    restart_times = None
    if restart and rng.random() < 0.12:
        # A deploy: the process restarts, recorded in the trace, and comes back the same.
        t_r = rng.uniform(0.2, 0.8) * duration
        startup = rng.uniform(5, 60)
        after = t_full >= t_r
        age = t_full[after] - t_r
        mem_full[after] = model(age) * np.minimum(0.3 + 0.7 * age / startup, 1.0) + _ar1(
            rng, int(after.sum()), sd, c["phi"]
        )
        restart_times = np.array([t_r])
    t, mem = _gaps(rng, t_full[obs], mem_full[obs])
    f0, f1 = floor_fn(0.0), floor_fn(float(t[-1]))
    return Trace(
        name=name,
        family=family,
        verdict=verdict,
        pattern=pattern,
        t=t,
        mem=np.round(mem),
        limit_bytes=c["limit"] if c["known_limit"] else None,
        restart_times=restart_times,
        floor_growth=float(f1 - f0),
        floor_start=float(f0),
        noise_sd=sd,
        true_ttl_s=true_ttl,
        rate_pct_h=rate_pct_h,
        meta={"duration": duration},
    )


def _leak_rate(rng: np.random.Generator, c: dict, lo: float = 0.5, hi: float = 50.0) -> tuple[float, float]:
    pct = _loguniform(rng, lo, hi)
    return pct, pct / 100.0 * c["limit"] / 3600.0


def _cap_duration(c: dict, start_level: float, slope: float, extra: float = 0.0) -> None:
    """A leak trace ends before its peaks reach the limit (that is the OOM family's job)."""
    if slope > 0:
        t_hit = (0.97 * c["limit"] - start_level - extra) / slope
        c["duration"] = float(max(min(c["duration"], 0.9 * t_hit), 300.0))


def make_trace(family: str, seed: int, index: int) -> Trace:
    rng = np.random.default_rng([seed, index, FAMILIES.index(family)])
    c = _common(rng)
    name = f"{family}-{index:04d}"
    base, limit = c["base"], c["limit"]
    if family == "stable":
        return _finish(
            rng,
            name,
            family,
            "no-leak",
            "stable",
            c,
            lambda t: np.full(len(t), base),
            floor_fn=lambda _t: base,
            restart=True,
        )
    if family in ("sawtooth_v8", "sawtooth_arena"):
        amp = min(base * rng.uniform(0.2, 1.0), 0.8 * limit - base)
        period = _loguniform(rng, 10, 300)
        arena = family == "sawtooth_arena"
        grid_seed = int(rng.integers(1 << 30))

        def model(t: np.ndarray) -> np.ndarray:
            return base + _sawtooth(np.random.default_rng(grid_seed), t, period, amp, arena)

        return _finish(rng, name, family, "no-leak", "sawtooth", c, model, floor_fn=lambda _t: base, restart=True)
    if family == "periodic_batch":
        period = float(np.clip(_loguniform(rng, 600, 7200), c["duration"] / 12, c["duration"] / 3))
        jump = min(base * rng.uniform(0.3, 1.0), 0.8 * limit - base)
        busy = rng.uniform(0.2, 0.5)
        ramp = rng.uniform(0.1, 0.3)
        sudden = rng.random() < 0.5

        def model(t: np.ndarray) -> np.ndarray:
            ph = (t % period) / period
            up = np.clip(ph / (busy * ramp), 0, 1)
            down = 1.0 if sudden else np.clip((busy * 1.15 - ph) / (0.15 * busy), 0, 1)
            inside = ph < (busy if sudden else busy * 1.15)
            return base + jump * np.where(inside, np.minimum(up, down), 0.0)

        return _finish(rng, name, family, "no-leak", "sawtooth", c, model, floor_fn=lambda _t: base, restart=True)
    if family in ("cache_fill", "warmup_flat"):
        frac = rng.uniform(0.15, 0.6) if family == "cache_fill" else rng.uniform(0.04, 0.2)
        fill = limit * rng.uniform(0.1, 0.4) if family == "cache_fill" else base * rng.uniform(0.1, 0.6)
        fill = min(fill, 0.85 * limit - base)
        t_full = frac * c["duration"]
        if rng.random() < 0.5:

            def model(t: np.ndarray) -> np.ndarray:
                return base + fill * (1 - np.exp(-4.0 * t / t_full))
        else:

            def model(t: np.ndarray) -> np.ndarray:
                return base + fill * np.clip(t / t_full, 0, 1)

        return _finish(rng, name, family, "no-leak", "plateau", c, model, floor_fn=lambda _t: base)
    if family == "sawtooth_fill":
        # A cache or a V8 heap filling to its working size under a GC sawtooth, then level (a Node LRU cache's
        # long fill, rw_node_lru_long_fill; a server's start-up): the troughs climb like a leak's until the fill
        # ends. The fill as cache_fill's, the garbage as sawtooth_v8's, both kept under the limit.
        amp = base * rng.uniform(0.2, 1.0)
        period = _loguniform(rng, 10, 300)
        fill = max(min(limit * rng.uniform(0.1, 0.4), 0.85 * limit - base - amp), 0.05 * base)
        t_full = rng.uniform(0.15, 0.6) * c["duration"]
        exponential = rng.random() < 0.5
        grid_seed = int(rng.integers(1 << 30))

        def model(t: np.ndarray) -> np.ndarray:
            filled = (1 - np.exp(-4.0 * t / t_full)) if exponential else np.clip(t / t_full, 0, 1)
            return base + fill * filled + _sawtooth(np.random.default_rng(grid_seed), t, period, amp, False)

        # A fill smaller than the collector's swing, or over fewer than two of its cycles, is lost inside the
        # sawtooth on a plot: the honest label is sawtooth (as a step under 4 noise sigmas is labelled linear).
        pattern = "plateau" if fill >= amp and t_full >= 2 * period else "sawtooth"
        return _finish(rng, name, family, "no-leak", pattern, c, model, floor_fn=lambda _t: base)
    if family in ("linear_leak", "sawtooth_leak", "step_leak"):
        pct, slope = _leak_rate(rng, c)
        amp = 0.0
        period = _loguniform(rng, 10, 300)
        warm = family == "linear_leak" and rng.random() < 0.3
        warm_fill = base * rng.uniform(0.1, 0.4) if warm else 0.0
        warm_tau = rng.uniform(0.01, 0.06) * c["duration"]
        if family == "sawtooth_leak":
            amp = base * rng.uniform(0.2, 0.8)
        _cap_duration(c, base + warm_fill, slope, amp + 3 * c["sd_frac"] * base)
        grid_seed = int(rng.integers(1 << 30))
        if family == "step_leak":
            n_jobs = int(rng.integers(4, 41))
            gap = c["duration"] / n_jobs
            step = slope * gap
            transient = step * rng.uniform(0.2, 1.0) if rng.random() < 0.5 else 0.0
            job_len = gap * rng.uniform(0.02, 0.1)
            phase = rng.uniform(0.1, 0.9) * gap

            def model(t: np.ndarray) -> np.ndarray:
                k = np.floor((t - phase) / gap) + 1
                done = np.maximum(k, 0)
                in_job = ((t - phase) % gap < job_len) & (t >= phase)
                return base + step * done + transient * in_job

            def floor_fn(t: float) -> float:
                return base + step * max(math.floor((t - phase) / gap) + 1, 0)

            # Steps smaller than 4 noise sigmas cannot be seen as steps: the honest label is linear.
            pattern = "step" if step >= 4 * c["sd_frac"] * base else "linear"
            return _finish(rng, name, family, "leak", pattern, c, model, floor_fn=floor_fn, rate_pct_h=pct, extend=True)

        def model(t: np.ndarray) -> np.ndarray:
            m = base + slope * t + warm_fill * (1 - np.exp(-t / warm_tau))
            if amp:
                m = m + _sawtooth(np.random.default_rng(grid_seed), t, period, amp, False)
            return m

        def floor_fn(t: float) -> float:
            return base + slope * t + warm_fill * (1 - math.exp(-t / warm_tau))

        pattern = "sawtooth" if family == "sawtooth_leak" else "linear"
        tr = _finish(rng, name, family, "leak", pattern, c, model, floor_fn=floor_fn, rate_pct_h=pct, extend=True)
        if warm:
            # The label's growth is the leak's, not the warm-up's.
            tr.floor_growth = slope * tr.duration
            tr.floor_start = base + warm_fill
        return tr
    if family == "exponential":
        excess = limit * rng.uniform(0.1, 0.45)
        rd = rng.uniform(1.5, 4.0)
        r = rd / c["duration"]
        b = excess / (math.exp(rd) - 1)

        def model(t: np.ndarray) -> np.ndarray:
            return base + b * (np.exp(np.minimum(r * t, 50)) - 1)

        tr = _finish(
            rng,
            name,
            family,
            "leak",
            "exponential",
            c,
            model,
            floor_fn=lambda t: base + b * (math.exp(r * t) - 1),
            extend=True,
        )
        tr.rate_pct_h = 100.0 * b * r * math.exp(rd) / limit * 3600
        return tr
    if family == "oom_restart":
        return _oom(rng, name, c)
    raise ValueError(family)


def _oom(rng: np.random.Generator, name: str, c: dict) -> Trace:
    """Climb to the limit, get killed, restart from the start-up level, again and again."""
    limit, base = c["limit"], c["base"]
    c["duration"] = max(c["duration"], 1800.0)
    lifetime = rng.uniform(c["duration"] / 12, c["duration"] / 2.5)
    slope = (limit - base) / lifetime
    mode = ("restart_times", "limit", "none")[int(rng.integers(0, 3))]
    gc_amp = base * rng.uniform(0.05, 0.3) if rng.random() < 0.5 else 0.0
    period = _loguniform(rng, 10, 120)
    startup = rng.uniform(5, 60)
    sd = c["sd_frac"] * base
    t = _grid(rng, c["duration"])
    mem = np.empty(len(t))
    restarts = []
    life_start = -rng.uniform(0, 0.5) * lifetime
    saw = _sawtooth(rng, t, period, gc_amp, False) if gc_amp else np.zeros(len(t))
    noise = _ar1(rng, len(t), sd, c["phi"])
    i = 0
    while i < len(t):
        age = t[i] - life_start
        level = base * min(0.3 + 0.7 * age / startup, 1.0) + slope * age + saw[i] + noise[i]
        if level >= limit:
            mem[i] = limit * rng.uniform(0.97, 1.0)
            delay = rng.uniform(1, 30)
            life_start = t[i] + delay
            restarts.append(t[i] + delay)
            i += 1
            while i < len(t) and t[i] < life_start:
                mem[i] = np.nan  # the process is gone: no sample
                i += 1
            continue
        mem[i] = level
        i += 1
    ok = np.isfinite(mem)
    t, mem = t[ok], mem[ok]
    rts = np.asarray(restarts) if mode == "restart_times" else None
    tr = Trace(
        name=name,
        family="oom_restart",
        verdict="leak",
        pattern="linear",
        t=t,
        mem=np.round(mem),
        limit_bytes=limit if mode == "limit" or (mode == "restart_times" and c["known_limit"]) else None,
        restart_times=rts,
        floor_growth=limit - base,
        floor_start=base,
        noise_sd=sd,
        rate_pct_h=100.0 * slope / limit * 3600,
        meta={"mode": mode, "restarts": len(restarts)},
    )
    return tr


def online_trace(seed: int, index: int, rate_pct_h: float, duration: float) -> Trace:
    """A leak at a known rate for the detection-delay experiment (30 s sampling, 512 MiB limit)."""
    rng = np.random.default_rng([seed, index, int(rate_pct_h * 1000), 7])
    limit = 512 * MiB
    base = limit * rng.uniform(0.2, 0.4)
    slope = rate_pct_h / 100.0 * limit / 3600.0
    sd = base * _loguniform(rng, 0.002, 0.01)
    amp = base * rng.uniform(0.2, 0.6) if rng.random() < 0.5 else 0.0
    period = _loguniform(rng, 15, 120)
    t = _grid(rng, duration, dt=30.0)
    m = base + slope * t + _ar1(rng, len(t), sd, rng.uniform(0.5, 0.95))
    if amp:
        m += _sawtooth(rng, t, period, amp, False)
    return Trace(
        name=f"online-{rate_pct_h}-{index}",
        family="online",
        verdict="leak",
        pattern="linear",
        t=t,
        mem=np.round(m),
        limit_bytes=limit,
        floor_growth=slope * duration,
        floor_start=base,
        noise_sd=sd,
        rate_pct_h=rate_pct_h,
    )


FAMILIES = (
    "stable",
    "sawtooth_v8",
    "sawtooth_arena",
    "periodic_batch",
    "cache_fill",
    "warmup_flat",
    "linear_leak",
    "sawtooth_leak",
    "step_leak",
    "exponential",
    "oom_restart",
    "sawtooth_fill",  # last: the families before it keep their seeds (make_trace seeds by the family's index)
)
HEALTHY = ("stable", "sawtooth_v8", "sawtooth_arena", "periodic_batch", "cache_fill", "warmup_flat", "sawtooth_fill")
