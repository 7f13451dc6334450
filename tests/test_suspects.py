"""Which diff rows are suspects (memdoctor/analysis/suspects.py): pure rules over plain rows."""

from __future__ import annotations

from memdoctor.analysis import suspects
from memdoctor.analysis import thresholds as th


def _row(key: str, growth: int, kind: str = "type") -> dict:
    return {"key": key, "kind": kind, "bytes_growth": growth}


def test_rows_under_the_share_of_the_growth_are_left_out_and_said() -> None:
    rows = [_row("app.cache", 50_000_000, "container"), _row("bytearray", 49_900_000),
            _row("dict", 30_000), _row("int", 2_000), _row("float", 300)]
    chosen = suspects.select(rows, heap_bytes=60_000_000, trace_says_leak=True)
    assert [r["key"] for r in chosen.kept] == ["app.cache", "bytearray"]
    assert [r["key"] for r in chosen.dropped] == ["dict", "int", "float"]
    # The denominator is the per-type rows' sum (they partition the heap; the container overlaps them).
    assert chosen.growth_bytes == 49_900_000 + 30_000 + 2_000 + 300
    assert chosen.notes and "3 smaller growing rows left out" in chosen.notes[0]


def test_a_row_at_exactly_the_share_is_kept() -> None:
    total = 1_000_000
    small = int(th.MIN_SUSPECT_SHARE * total)
    rows = [_row("a", total - small, "container"), _row("b", small, "container")]
    assert [r["key"] for r in suspects.select(rows, heap_bytes=None, trace_says_leak=False).kept] == ["a", "b"]


def test_without_a_leak_verdict_small_total_growth_means_nothing_significant() -> None:
    rows = [_row("tuple", 26_000), _row("code", 24_000), _row("str", 17_000)]
    heap = 5_000_000  # 67 KB of 5 MB: 1.3 %, under MIN_HEAP_GROWTH_SHARE
    chosen = suspects.select(rows, heap_bytes=heap, trace_says_leak=False)
    assert chosen.kept == [] and len(chosen.dropped) == 3
    assert "nothing significant grows in the heap" in chosen.notes[0]
    # The same rows under a trace that says leak are judged on their shares only.
    assert len(suspects.select(rows, heap_bytes=heap, trace_says_leak=True).kept) == 3


def test_shrinking_rows_are_never_suspects() -> None:
    chosen = suspects.select([_row("gone", -5_000_000, "container")], heap_bytes=1e6, trace_says_leak=True)
    assert chosen.kept == [] and chosen.notes == []


def test_with_a_leak_verdict_rows_that_explain_almost_none_of_the_memorys_growth_are_not_suspects() -> None:
    """The Node worker pool under doctor (2026-12-04): the trace read as a leak (its 40 MB jobs' Buffers freed
    at the next collection, memory climbing ~17 MiB/s between the snapshots) while the diff found 31 KiB of
    runtime objects ("new objects kept by onwrite", "by clearBuffer", ...): ten suspects, none of them the
    growth. Rows explaining under MIN_SUSPECT_SHARE of the memory's growth over the snapshots name nothing."""
    rows = [_row(f"new objects kept by f{i}", 3_000, "cluster") for i in range(10)]
    chosen = suspects.select(rows, heap_bytes=4_000_000, trace_says_leak=True, memory_growth_bytes=105 * 2**20)
    assert chosen.kept == [] and len(chosen.dropped) == 10
    assert "not in the heap the snapshots see" in chosen.notes[0]
    # A leak the heap holds explains its growth: its rows stay suspects.
    leak = [_row("app.cache", 90 * 2**20, "container"), _row("bytearray", 90 * 2**20), _row("dict", 30_000)]
    kept = suspects.select(leak, heap_bytes=4_000_000, trace_says_leak=True, memory_growth_bytes=105 * 2**20).kept
    assert [r["key"] for r in kept] == ["app.cache", "bytearray"]


def test_allocation_sites_are_listed_only_beside_a_suspect() -> None:
    """A Node worker pool under doctor: nothing significant grew in the heap (31 KiB of 3.9 MiB), and the
    report still listed V8's sampled allocation sites, 32 KiB of http internals, as if they were a lead."""
    from memdoctor.heap.model import DiffResult, DiffRow
    from memdoctor.report.report_data import build_report

    sites = [{"function": "_writeRaw", "file": "node:_http_outgoing", "line": 380, "bytes": 32_870}]

    def report(growth: int) -> dict:
        rows = [DiffRow(key="pending (Array)", count_before=10, count_after=10 + growth // 1000, bytes_before=10_000,
                        bytes_after=10_000 + growth, where="module global", kind="container")]
        diff = DiffResult(rows=rows, runtime="node", snapshots=["a", "b"], interval_s=6.0)
        return build_report(diagnosis=None, diff=diff, limit_bytes=512 * 2**20, heap_bytes=4_000_000,
                            allocation_sites=sites)

    quiet = report(30_000)  # 0.75 % of the heap: nothing significant
    assert quiet["suspects"] == [] and "allocation_sites" not in quiet["heap"]
    grows = report(3_000_000)
    assert [s["key"] for s in grows["suspects"]] == ["pending (Array)"]
    assert grows["heap"]["allocation_sites"] == sites
