"""Labelled benchmark of the growth classifier against published baselines, in one run.

    python -m benchmarks.classifier            # full run (~100 traces per family)
    python -m benchmarks.classifier --quick    # ~25 per family, fewer online runs
    python -m benchmarks.classifier --only real   # just the hand-labelled real recordings
    python -m benchmarks.classifier --calibrate   # the live leak confidence (thresholds.ALERT_RIGHT_SHARE)

Prints Markdown tables (pasted into docs/benchmarks.md). The engines in the tables: memdoctor's
public `diagnose`, the engines it replaces where they still exist (labelled "old: ..."), and the
published baselines of baselines.py.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import multiprocessing
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from benchmarks.classifier.baselines import BASELINES
from benchmarks.classifier.generator import FAMILIES, HEALTHY, Trace, make_trace, online_trace
from benchmarks.classifier.old_engines import OLD_ENGINES
from memdoctor.analysis import diagnose
from memdoctor.analysis.online import OnlineJudge, alert_kind

ROOT = Path(__file__).resolve().parents[2]
DEV_DIRS = (ROOT / "tests" / "data" / "dev_traces", ROOT.parent / "shared" / "dev_traces")
MD = "memdoctor"
HELD = "memdoctor live (held verdict)"  # the live view and --alert: analysis.online.OnlineJudge over the same diagnoses


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def _run_all(tr: Trace) -> dict:
    out: dict = {}
    t0 = time.perf_counter()
    d = diagnose(tr.t, tr.mem, limit_bytes=tr.limit_bytes, restart_times=tr.restart_times)
    out[MD] = (d.verdict == "leak", d.time_to_limit_s, d.verdict, d.pattern, time.perf_counter() - t0)
    for name, fn in BASELINES.items():
        leak, ttl = fn(tr.t, tr.mem, tr.limit_bytes)
        out[name] = (leak, ttl, "leak" if leak else "no-leak", None, 0.0)
    for name, engine in OLD_ENGINES.items():
        v = engine(tr.t, tr.mem, tr.limit_bytes, tr.restart_times)
        out[name] = (v.verdict == "leak", None, v.verdict, v.pattern, 0.0)
    return out


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _one(job: tuple[str, int, int]) -> tuple[Trace, dict]:
    fam, seed, i = job
    tr = make_trace(fam, seed, i)
    return tr, _run_all(tr)


def _map(fn: Callable[[Any], Any], jobs: list[Any], workers: int, chunksize: int = 1) -> list[Any]:
    """fn over jobs, in a pool of `workers` processes when more than one."""
    if workers > 1:
        with multiprocessing.Pool(workers) as pool:
            return pool.map(fn, jobs, chunksize=chunksize)
    return [fn(j) for j in jobs]


def synthetic(per_family: int, seed: int, workers: int) -> tuple[list[Trace], list[dict]]:
    jobs = [(fam, seed, i) for fam in FAMILIES for i in range(per_family)]
    pairs = _map(_one, jobs, workers, chunksize=4)
    return [p[0] for p in pairs], [p[1] for p in pairs]


def report_detection(traces: list[Trace], results: list[dict]) -> str:
    methods = [MD, *OLD_ENGINES, *BASELINES]
    rows = []
    healthy = [k for k, tr in enumerate(traces) if tr.verdict == "no-leak"]
    for mth in methods:
        flags = [r[mth][0] for r in results]
        tp = sum(1 for k, tr in enumerate(traces) if tr.verdict == "leak" and flags[k])
        fn = sum(1 for k, tr in enumerate(traces) if tr.verdict == "leak" and not flags[k])
        fp = sum(1 for k in healthy if flags[k])
        p, r, f = _prf(tp, fp, fn)
        vis = [k for k, tr in enumerate(traces) if tr.verdict == "no-leak" or tr.visible]
        tpv = sum(1 for k in vis if traces[k].verdict == "leak" and flags[k])
        fnv = sum(1 for k in vis if traces[k].verdict == "leak" and not flags[k])
        _, _, fv = _prf(tpv, fp, fnv)
        det = [k for k, tr in enumerate(traces) if tr.detectable]
        rdet = sum(flags[k] for k in det) / len(det) if det else 0.0
        fa = fp / len(healthy) if healthy else 0.0
        worst = max(
            (
                sum(flags[k] for k in healthy if traces[k].family == fam)
                / max(1, sum(1 for k in healthy if traces[k].family == fam)),
                fam,
            )
            for fam in HEALTHY
        )
        rows.append(
            [
                mth,
                f"{p:.3f}",
                f"{r:.3f}",
                f"**{f:.3f}**",
                f"{fv:.3f}",
                _pct(rdet),
                _pct(fa),
                f"{_pct(worst[0])} ({worst[1]})",
            ]
        )
    n_leak = sum(tr.verdict == "leak" for tr in traces)
    n_vis = sum(tr.verdict == "leak" and tr.visible for tr in traces)
    n_det = sum(tr.detectable for tr in traces)
    head = (
        f"{len(traces)} synthetic traces: {n_leak} leaks ({n_vis} visible: floor grew >= 1% and >= 2x noise; "
        f"{n_det} in the target subset: >= 3%, >= 4x noise, >= 30 min), {len(traces) - n_leak} healthy.\n\n"
    )
    return head + _table(
        [
            "method",
            "precision",
            "recall",
            "F1 (all)",
            "F1 (visible leaks)",
            "recall (target subset)",
            "false alarms (healthy)",
            "worst healthy family",
        ],
        rows,
    )


def report_families(traces: list[Trace], results: list[dict]) -> str:
    three_way = [MD, *OLD_ENGINES]  # engines that can say "inconclusive"
    rows = []
    for fam in FAMILIES:
        ks = [k for k, tr in enumerate(traces) if tr.family == fam]
        if not ks:
            continue
        row = [fam, traces[ks[0]].verdict, str(len(ks))]
        for mth in three_way:
            c = Counter(results[k][mth][2] for k in ks)
            row.append(f"{c['leak']}/{c['no-leak']}/{c['inconclusive']}")
        for mth in BASELINES:
            row.append(_pct(sum(results[k][mth][0] for k in ks) / len(ks)))
        rows.append(row)
    return _table(["family", "truth", "n", *[f"{m} leak/no-leak/inconcl." for m in three_way],
                   *[f"{m} flags" for m in BASELINES]], rows)


def report_patterns(traces: list[Trace], results: list[dict]) -> str:
    pats = ["stable", "plateau", "sawtooth", "linear", "step", "exponential"]
    conf: dict[str, Counter] = defaultdict(Counter)
    for tr, r in zip(traces, results, strict=True):
        conf[tr.pattern][r[MD][3]] += 1
    rows = []
    for p in pats:
        if not conf[p]:
            continue
        tot = sum(conf[p].values())
        rows.append([p, str(tot), *[str(conf[p][q]) for q in pats], _pct(conf[p][p] / tot)])
    return _table(["true \\ predicted", "n", *pats, "pattern recall"], rows)


def report_ttl(traces: list[Trace], results: list[dict]) -> str:
    rows = []
    for mth in [MD, *BASELINES]:
        errs = []
        for tr, r in zip(traces, results, strict=True):
            if tr.verdict != "leak" or tr.limit_bytes is None or tr.true_ttl_s is None or tr.true_ttl_s <= 0:
                continue
            if tr.family not in ("linear_leak", "sawtooth_leak", "step_leak", "exponential"):
                continue
            leak, ttl = r[mth][0], r[mth][1]
            if leak and ttl is not None and np.isfinite(ttl):
                errs.append((ttl - tr.true_ttl_s) / tr.true_ttl_s)
        if not errs:
            rows.append([mth, "0", "-", "-", "-"])
            continue
        e = np.asarray(errs)
        rows.append(
            [
                mth,
                str(len(e)),
                _pct(float(np.median(np.abs(e)))),
                f"{100 * np.median(e):+.1f}%",
                _pct(float(np.percentile(np.abs(e), 90))),
            ]
        )
    return _table(["method", "leaks with a forecast", "median abs. error", "median bias", "p90 abs. error"], rows)


def _prefix_ends(duration: float) -> list[float]:
    """Every 2 min for the first 2 h, every 5 min to 6 h, then every 15 min (like a live watch)."""
    ends = list(np.arange(120.0, min(duration, 7200.0) + 1, 120.0))
    ends += list(np.arange(7500.0, min(duration, 21600.0) + 1, 300.0))
    ends += list(np.arange(22500.0, duration + 1, 900.0))
    return ends


def _online_one(job: tuple[int, int, float, float]) -> dict[str, float]:
    seed, i, rate, duration = job
    tr = online_trace(seed, i, rate, duration)
    found: dict[str, float] = {}
    judge = OnlineJudge()
    for end in _prefix_ends(duration):
        if len(found) == 2 + len(BASELINES):
            break
        sel = tr.t <= end
        t, m = tr.t[sel], tr.mem[sel]
        if MD not in found or HELD not in found:
            d = diagnose(t, m, limit_bytes=tr.limit_bytes)
            if MD not in found and d.verdict == "leak":
                found[MD] = end
            if HELD not in found and judge.update(d, float(end)).shown == "leak":
                found[HELD] = end
        for name, fn in BASELINES.items():
            if name not in found and fn(t, m, tr.limit_bytes)[0]:
                found[name] = end
    return found


def online(seed: int, per_rate: int, rates: tuple[float, ...], workers: int) -> str:
    rows = []
    for rate in rates:
        duration = min(max(6 * 3600 * 5 / rate, 4 * 3600), 24 * 3600)
        delays: dict[str, list[float]] = defaultdict(list)
        jobs = [(seed, i, rate, duration) for i in range(per_rate)]
        founds = _map(_online_one, jobs, workers)
        for found in founds:
            for mth in [MD, HELD, *BASELINES]:
                delays[mth].append(found.get(mth, np.inf))
        row = [f"{rate:g}%/h"]
        for mth in [MD, HELD, *BASELINES]:
            d = np.asarray(delays[mth])
            med = float(np.median(d))
            row.append(
                f"{med / 60:.0f} min ({_pct(float(np.isfinite(d).mean()))})"
                if np.isfinite(med)
                else f"not detected ({_pct(float(np.isfinite(d).mean()))})"
            )
        rows.append(row)
    return _table(["leak rate (of a 512 MiB limit)",
                   *[f"{m} median delay (detected)" for m in [MD, HELD, *BASELINES]]], rows)


def _online_healthy_one(job: tuple[str, int, int]) -> tuple[str, bool, bool, int]:
    fam, seed, i = job
    tr = make_trace(fam, seed, i)
    md = lbr_flag = held = False
    calls = 0
    judge = OnlineJudge()
    for end in _prefix_ends(tr.duration):
        sel = tr.t <= end
        if sel.sum() < 5:
            continue
        t, m = tr.t[sel], tr.mem[sel]
        rts = tr.restart_times[tr.restart_times <= end] if tr.restart_times is not None else None
        calls += 1
        d = diagnose(t, m, limit_bytes=tr.limit_bytes, restart_times=rts)
        md = md or d.verdict == "leak"
        held = held or judge.update(d, float(end)).shown == "leak"
        if not lbr_flag and BASELINES["LBR (OLS+R2)"](t, m, tr.limit_bytes)[0]:
            lbr_flag = True
    return fam, md, lbr_flag, calls, held


def online_healthy(seed: int, per_family: int, workers: int) -> str:
    """A live watch calls diagnose() again and again: how many healthy traces are ever flagged?"""
    jobs = [(fam, seed, i) for fam in HEALTHY for i in range(per_family)]
    res = _map(_online_healthy_one, jobs, workers, chunksize=2)
    rows = []
    for fam in HEALTHY:
        rr = [r for r in res if r[0] == fam]
        rows.append(
            [
                fam,
                str(len(rr)),
                str(sum(r[3] for r in rr)),
                _pct(sum(r[1] for r in rr) / len(rr)),
                _pct(sum(r[4] for r in rr) / len(rr)),
                _pct(sum(r[2] for r in rr) / len(rr)),
            ]
        )
    allr = len(res)
    rows.append(
        [
            "all healthy",
            str(allr),
            str(sum(r[3] for r in res)),
            _pct(sum(r[1] for r in res) / allr),
            _pct(sum(r[4] for r in res) / allr),
            _pct(sum(r[2] for r in res) / allr),
        ]
    )
    return _table(["family", "traces", "prefixes analysed", f"{MD}: ever flagged leak", f"{HELD}: ever showed leak",
                   "LBR: ever flagged leak"], rows)


def _first_live_leak(job: tuple[str, int, int]) -> tuple[str, str, str | None, float | None]:
    """The first leak a trace's live line shows (what --alert acts on): (family, truth, kind, printed confidence)."""
    fam, seed, i = job
    tr = make_trace(fam, seed, i)
    judge = OnlineJudge()
    for end in _prefix_ends(tr.duration):
        sel = tr.t <= end
        if sel.sum() < 5:
            continue
        rts = tr.restart_times[tr.restart_times <= end] if tr.restart_times is not None else None
        st = judge.update(diagnose(tr.t[sel], tr.mem[sel], limit_bytes=tr.limit_bytes, restart_times=rts), float(end))
        if st.shown == "leak":
            return fam, ("no-leak" if fam in HEALTHY else "leak"), alert_kind(st.diagnosis), st.confidence
    return fam, ("no-leak" if fam in HEALTHY else "leak"), None, None


def alert_calibration(seed: int, per_family: int, workers: int) -> str:
    """Is the confidence a live leak prints (thresholds.ALERT_RIGHT_SHARE, measured on seeds 7, 99, 123, 456)
    the share of such live leaks that are right, on traces it was not measured on?"""
    jobs = [(fam, seed, i) for fam in FAMILIES for i in range(per_family)]
    res = _map(_first_live_leak, jobs, workers, chunksize=2)
    shown = [r for r in res if r[2] is not None]
    rows = []
    for kind in sorted({r[2] for r in shown}):
        rr = [r for r in shown if r[2] == kind]
        right = sum(r[1] == "leak" for r in rr)
        printed = rr[0][3] or 0.0
        wrong = sorted({r[0] for r in rr if r[1] != "leak"})
        rows.append([kind, f"{printed:.2f}", str(len(rr)), str(right), f"{right / len(rr):.2f}",
                     "yes" if right / len(rr) >= printed else "no", ", ".join(wrong) or "-"])
    right = sum(r[1] == "leak" for r in shown)
    rows.append(["all", "-", str(len(shown)), str(right), f"{right / max(len(shown), 1):.2f}", "-", "-"])
    return (f"{len(res)} generated traces (seed {seed}), {len(shown)} showed a live leak; the first one of each:\n\n"
            + _table(["kind (restarts, else pattern)", "confidence printed", "live leaks", "right (trace leaks)",
                      "share right", "share >= printed", "wrong ones from"], rows))


CALIBRATION_SEEDS = (7, 99, 123, 456)  # thresholds.ALERT_RIGHT_SHARE is measured on these, never on the report's seed
CALIBRATION_PER_FAMILY = 40
CALIBRATION_LEVEL = 0.90  # the confidence printed is the lower end of this two-sided Wilson interval


def wilson_low(right: int, n: int, level: float = CALIBRATION_LEVEL) -> float:
    """The lower end of the Wilson score interval of right/n at the two-sided `level`."""
    if n == 0:
        return 0.0
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = right / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n)


def calibrate(workers: int) -> str:
    """thresholds.ALERT_RIGHT_SHARE, measured: the first live leak of every trace of CALIBRATION_PER_FAMILY per
    family on each of CALIBRATION_SEEDS, grouped by kind; each kind's share right at the lower end of its Wilson
    interval, rounded down to two decimals."""
    jobs = [(fam, seed, i) for seed in CALIBRATION_SEEDS for fam in FAMILIES for i in range(CALIBRATION_PER_FAMILY)]
    shown = [r for r in _map(_first_live_leak, jobs, workers, chunksize=2) if r[2] is not None]
    rows, shares = [], {}
    for kind in sorted({r[2] for r in shown}):
        rr = [r for r in shown if r[2] == kind]
        right = sum(r[1] == "leak" for r in rr)
        shares[kind] = math.floor(100 * wilson_low(right, len(rr))) / 100
        wrong = Counter(r[0] for r in rr if r[1] != "leak")
        rows.append([kind, str(len(rr)), str(right), f"{shares[kind]:.2f}",
                     ", ".join(f"{fam} {k}" for fam, k in sorted(wrong.items())) or "-"])
    return (f"{len(jobs)} generated traces (seeds {', '.join(map(str, CALIBRATION_SEEDS))}), {len(shown)} showed a "
            f"live leak; the first one of each:\n\n"
            + _table(["kind (restarts, else pattern)", "live leaks", "right (trace leaks)",
                      f"share right, {CALIBRATION_LEVEL:.0%} Wilson lower end", "wrong ones from"], rows)
            + f"\n\nALERT_RIGHT_SHARE = {shares!r}")


def _read_dev() -> list[tuple[str, np.ndarray, np.ndarray, str, str]]:
    for d in DEV_DIRS:
        lab = d / "labels.csv"
        if lab.exists():
            out = []
            with lab.open() as fh:
                for row in csv.DictReader(fh):
                    with (d / f"{row['trace']}.csv").open() as f2:
                        rd = csv.reader(f2)
                        next(rd)
                        a = np.array([[float(x[0]), float(x[1])] for x in rd if len(x) >= 2])
                    verdict = "leak" if row["leak"].strip() == "yes" else "no-leak"
                    out.append((f"dev_traces/{row['trace']}", a[:, 0], a[:, 1], verdict, row["pattern"].strip()))
            return out
    return []


def read_jsonl(path: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """A memdoctor trace (JSONL): header line, then {"t": .., "rss": ..} per line."""
    ts, rs = [], []
    with path.open() as fh:
        header = json.loads(fh.readline() or "{}")
        for line in fh:
            try:
                o = json.loads(line)
                ts.append(float(o["t"]))
                rs.append(float(o["rss"]))
            except (ValueError, KeyError, TypeError):
                continue  # a partial last line or a foreign record
    return np.asarray(ts), np.asarray(rs), header


RECORDINGS = Path(__file__).resolve().parent / "recordings"
REALWORLD = "realworld"  # labels.csv `source` of the recordings of real third-party software
RECORDING_SUFFIXES = (".jsonl", ".txt", ".dat", ".csv")  # memdoctor, psrecord --log, mprof, CSV


def _labels(folder: Path) -> dict[str, dict[str, str]]:
    if not (folder / "labels.csv").exists():
        return {}
    with (folder / "labels.csv").open() as fh:
        return {row["trace"]: row for row in csv.DictReader(fh)}


def _read_jsonl() -> list[tuple[str, np.ndarray, np.ndarray, str, str]]:
    """*.jsonl traces labelled by a labels.csv beside them: the bundled sample_traces/ and this
    benchmark's own recordings/ (all but the real-world ones, which have a table of their own)."""
    out = []
    for folder in (ROOT / "sample_traces", RECORDINGS):
        labels = _labels(folder)
        for p in sorted(folder.glob("*.jsonl")):
            row = labels.get(p.stem)
            if row and (row.get("source") or "").strip() == REALWORLD:
                continue
            t, m, _ = read_jsonl(p)
            verdict = ("leak" if row["leak"].strip() == "yes" else "no-leak") if row else "?"
            pattern = row["pattern"].strip() if row else "?"
            out.append((f"{folder.name}/{p.stem}", t, m, verdict, pattern))
    return out


def report_real() -> str:
    rows = []
    items = _read_dev() + _read_jsonl()
    ok = 0
    for name, t, m, verdict, pattern in items:
        d = diagnose(t, m)
        right = d.verdict == verdict and d.pattern == pattern
        ok += right
        base = ["leak" if fn(t, m, None)[0] else "no-leak" for fn in BASELINES.values()]
        mark = "" if verdict == "?" else (" ✓" if right else " ✗")
        rows.append([name, f"{verdict}/{pattern}", f"{d.verdict}/{d.pattern}{mark}", *base])
    if not rows:
        return "(no real traces found)"
    labelled = sum(1 for it in items if it[3] != "?")
    return f"{ok}/{labelled} labelled traces right (verdict and pattern)\n\n" + _table(
        ["trace", "label", MD, *BASELINES], rows
    )


@dataclass
class Recording:
    """One hand-labelled recording of real software (labels.csv row with source = realworld)."""

    name: str
    path: Path
    t: np.ndarray
    mem: np.ndarray
    restarts: np.ndarray | None
    verdict: str  # the label: "leak" or "no-leak"
    pattern: str
    what: str


def _read_any(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Through memdoctor's own readers (any supported recorder's file), so the bundled psrecord and
    mprof files are read the way `analyze` reads them."""
    from memdoctor.traces.reader import read_trace

    tr = read_trace(str(path))
    rts = tr.event_times("restart", "oom_kill")
    return np.asarray(tr.t, float), np.asarray(tr.rss, float), (rts if rts.size else None)


def read_realworld(folder: Path = RECORDINGS) -> list[Recording]:
    out = []
    for trace, row in sorted(_labels(folder).items()):
        if (row.get("source") or "").strip() != REALWORLD:
            continue
        path = next((folder / f"{trace}{suf}" for suf in RECORDING_SUFFIXES if (folder / f"{trace}{suf}").exists()),
                    None)
        if path is None:
            continue
        t, m, rts = _read_any(path)
        out.append(Recording(trace, path, t, m, rts, "leak" if row["leak"].strip() == "yes" else "no-leak",
                             row["pattern"].strip(), row["what the program did"].strip()))
    return out


def report_realworld(recs: list[Recording] | None = None) -> str:
    """Per recording: the label and every engine's answer side by side; then each engine's score."""
    recs = read_realworld() if recs is None else recs
    if not recs:
        return "(no real-world recordings found)"
    engines = [MD, *OLD_ENGINES, *BASELINES]
    right: dict[str, list[str]] = defaultdict(list)
    wrong: dict[str, list[str]] = defaultdict(list)
    incon: dict[str, Counter] = defaultdict(Counter)
    pattern_ok = 0
    rows = []
    for rec in recs:
        d = diagnose(rec.t, rec.mem, restart_times=rec.restarts)
        answers: dict[str, tuple[str, str]] = {
            MD: (d.verdict, f"{d.verdict}/{d.pattern}, {d.growth_bytes_per_s * 60 / 1024**2:.2f} MiB/min")}
        pattern_ok += d.verdict == rec.verdict and d.pattern == rec.pattern
        for name, engine in OLD_ENGINES.items():
            v = engine(rec.t, rec.mem, None, rec.restarts)
            answers[name] = (v.verdict, f"{v.verdict}" + (f"/{v.pattern}" if v.pattern else "") + f" ({v.detail})")
        for name, fn in BASELINES.items():
            leak = fn(rec.t, rec.mem, None)[0]
            answers[name] = ("leak" if leak else "no-leak", "leak" if leak else "no-leak")
        cells = []
        for name in engines:
            verdict, text = answers[name]
            ok = verdict == rec.verdict
            (right if ok else wrong)[name].append(rec.name)
            incon[name][rec.name] += verdict == "inconclusive"
            cells.append(f"{text} {'✓' if ok else '✗'}")
        minutes = (rec.t[-1] - rec.t[0]) / 60 if len(rec.t) > 1 else 0.0
        rows.append([f"{rec.name} ({minutes:.1f} min)", f"{rec.verdict}/{rec.pattern}", *cells])
    # The score counts program runs: the same run written by another recorder (a name with a
    # suffix, e.g. rw_x.psrecord beside rw_x) is not a new test case; it must get the same verdict.
    runs = [r for r in recs if "." not in r.name]
    copies = defaultdict(list)
    for r in recs:
        copies[r.name.split(".")[0]].append(r.name)
    n = len(runs)
    n_leak = sum(r.verdict == "leak" for r in runs)
    score_rows = []
    for name in engines:
        ok = set(right[name])
        leaks_caught = sum(1 for r in runs if r.verdict == "leak" and r.name in ok)
        healthy_ok = sum(1 for r in runs if r.verdict == "no-leak" and r.name in ok)
        same = [all((m in ok) == (base in ok) for m in names) for base, names in copies.items() if len(names) > 1]
        score_rows.append([name, f"**{sum(r.name in ok for r in runs)}/{n}**", f"{leaks_caught}/{n_leak}",
                           f"{healthy_ok}/{n - n_leak}", str(sum(incon[name][r.name] for r in runs)),
                           "yes" if all(same) else "**no**",
                           ", ".join(x for x in wrong[name] if "." not in x) or "-"])
    head = (f"{len(recs)} files: {n} program runs ({n_leak} leaking, {n - n_leak} healthy) and "
            f"{len(recs) - n} copies of a run written by other recorders; labelled by hand from what the program "
            f"does; no limit given. {MD}: {pattern_ok}/{len(recs)} files right in verdict and pattern.\n\n")
    return (head + _table(["recording", "label", *engines], rows) + "\n\nScore over the program runs (verdict; "
            "inconclusive counts as wrong: every label here is plain on a plot):\n\n"
            + _table(["engine", "right", "leaks caught", "healthy cleared", "inconclusive",
                      "same verdict from every recorder", "wrong on"], score_rows))


LIVE_EVERY_S = 2.0  # the live view's analysis cadence (pipelines/live.py)


def report_realworld_live(recs: list[Recording] | None = None) -> str:
    """Each real-world recording replayed as a live watch: the one diagnosis on the data so far every
    LIVE_EVERY_S, through the online judge (the live line and --alert), and the raw verdict alongside."""
    recs = read_realworld() if recs is None else recs
    rows = []
    tally: dict[str, Counter] = {"leak": Counter(), "no-leak": Counter()}
    for rec in [r for r in recs if "." not in r.name]:
        judge = OnlineJudge()
        raw_leak = first_shown = None
        printed = ""
        shown = "watching"
        for end in np.arange(rec.t[0] + LIVE_EVERY_S, rec.t[-1] + 1e-9, LIVE_EVERY_S):
            keep = rec.t <= end
            if keep.sum() < 20:
                continue
            d = diagnose(rec.t[keep], rec.mem[keep], restart_times=rec.restarts)
            at = float(end - rec.t[0])
            if raw_leak is None and d.verdict == "leak":
                raw_leak = at
            st = judge.update(d, at)
            shown = st.shown
            if first_shown is None and shown == "leak":
                first_shown = at
                printed = f"{st.confidence:.2f} ({alert_kind(d)})"
        tally[rec.verdict]["runs"] += 1
        tally[rec.verdict]["raw"] += raw_leak is not None
        tally[rec.verdict]["shown"] += first_shown is not None
        tally[rec.verdict]["end"] += shown == "leak"
        rows.append([rec.name, rec.verdict, "-" if raw_leak is None else f"{raw_leak:.0f} s",
                     "-" if first_shown is None else f"{first_shown:.0f} s", printed or "-", str(shown)])
    summary = "\n\n" + _table(["label", "runs", "raw verdict ever leak", "live line ever leak (= an --alert)",
                                "live line leak at the end"],
                               [[k, str(c["runs"]), str(c["raw"]), str(c["shown"]), str(c["end"])]
                                for k, c in tally.items()])
    return _table(["recording", "label", "raw verdict first leak", "live line first leak",
                   "confidence printed (kind)", "live line at the end"],
                  rows) + summary


def report_speed() -> str:
    rng = np.random.default_rng(1)
    rows = []
    for n in (1_000_000, 10_000_000):
        t = np.arange(n, dtype=float) * 0.1
        m = 200e6 + 50.0 * t + rng.normal(0, 2e6, n)
        diagnose(t[:1000], m[:1000])
        best = min(_timed(t, m) for _ in range(3))
        rows.append([f"{n:,}", f"{best * 1000:.0f} ms"])
    return _table(["samples", "diagnose() time (best of 3)"], rows)


def _timed(t: np.ndarray, m: np.ndarray) -> float:
    t0 = time.perf_counter()
    diagnose(t, m, limit_bytes=1 << 30)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.classifier", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer traces (for CI)")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--per-family", type=int, default=None)
    ap.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    ap.add_argument("--only", choices=("real",), help="real: only the hand-labelled real-world recordings")
    ap.add_argument("--calibrate", action="store_true",
                    help="measure thresholds.ALERT_RIGHT_SHARE (the confidence a live leak prints) on its own seeds")
    args = ap.parse_args(argv)
    if args.calibrate:
        print("Command: `python -m benchmarks.classifier --calibrate`\n")
        print(calibrate(args.workers))
        return 0
    if args.only == "real":
        print("Command: `python -m benchmarks.classifier --only real`\n")
        print("### Real-world recordings (hand-labelled, not used for tuning)\n")
        print(report_realworld())
        print(f"\n### Real-world recordings replayed live (an analysis every {LIVE_EVERY_S:g} s)\n")
        print(report_realworld_live())
        return 0
    per = args.per_family or (25 if args.quick else 100)
    per_rate = 8 if args.quick else 25
    t0 = time.perf_counter()
    traces, results = synthetic(per, args.seed, args.workers)
    cmd = (
        "python -m benchmarks.classifier"
        + (" --quick" if args.quick else "")
        + (f" --per-family {args.per_family}" if args.per_family else "")
        + f" --seed {args.seed}"
    )
    print(f"Command: `{cmd}`\n")
    print("### Leak detection (verdict leak = flagged; inconclusive = not flagged)\n")
    print(report_detection(traces, results))
    print("\n### Per family\n")
    print(report_families(traces, results))
    print(f"\n### {MD} pattern confusion (all synthetic traces)\n")
    print(report_patterns(traces, results))
    print("\n### Time to limit (leaks with a known limit, true time from simulating past the trace)\n")
    print(report_ttl(traces, results))
    print("\n### Online detection delay (diagnose on prefixes every 2 min, 30 s sampling)\n")
    print(online(args.seed, per_rate, (1.0, 2.0, 5.0, 10.0, 20.0), args.workers))
    print("\n### Live-watch false alarms (healthy traces, diagnose on every prefix as above)\n")
    print(online_healthy(args.seed, 10 if args.quick else 25, args.workers))
    print("\n### Live leak confidence (what --alert prints), on traces it was not measured on\n")
    print(alert_calibration(args.seed, 20 if args.quick else 40, args.workers))
    print("\n### Real traces (no limit given)\n")
    print(report_real())
    print("\n### Real-world recordings (hand-labelled, not used for tuning)\n")
    print(report_realworld())
    print(f"\n### Real-world recordings replayed live (an analysis every {LIVE_EVERY_S:g} s)\n")
    print(report_realworld_live())
    print("\n### Speed\n")
    print(report_speed())
    md_times = [r[MD][4] for r in results]
    print(
        f"\nmedian diagnose() time on the synthetic traces: {1000 * float(np.median(md_times)):.1f} ms; "
        f"benchmark wall time {time.perf_counter() - t0:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
