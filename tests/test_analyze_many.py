"""`memdoctor analyze` with several files or series: one row each, worst first (the contract)."""

from __future__ import annotations

import json

from .conftest import DATA, assert_one_line_error, memdoctor

SAMPLES = DATA / "importers"
CONTRACT_KEYS = {"verdict", "pattern", "growth_bytes_per_s", "limit_bytes", "time_to_limit_s", "samples",
                 "duration_s", "confidence", "evidence"}


def _series(*args: str) -> list[dict]:
    doc = json.loads(memdoctor("analyze", *args, "--json", check_code=0).stdout)
    assert set(doc) == {"series"}
    for row in doc["series"]:
        assert set(row) >= CONTRACT_KEYS and isinstance(row["name"], str)
    return doc["series"]


def test_several_files_one_row_each_worst_first():
    files = [SAMPLES / "healthy.psrecord.txt", SAMPLES / "leak.mprof.dat", SAMPLES / "healthy.memray.bin",
             SAMPLES / "leak.memdoctor.jsonl"]
    rows = _series(*map(str, files))
    assert [r["name"] for r in rows][:2] == [str(SAMPLES / "leak.memdoctor.jsonl"), str(SAMPLES / "leak.mprof.dat")]
    assert [r["verdict"] for r in rows] == ["leak", "leak", "no-leak", "no-leak"]
    # memdoctor's recording knows its limit (physical memory): it reaches a limit first, so it ranks first.
    assert rows[0]["time_to_limit_s"] is not None and rows[1]["time_to_limit_s"] is None


def test_prometheus_matrix_names_and_labels():
    rows = _series(str(SAMPLES / "fleet.prometheus.json"), "--limit", "1GiB")
    assert rows[0]["name"] == "shop/cart-7d9f-0/app" and rows[0]["verdict"] == "leak"
    assert rows[0]["labels"]["pod"] == "cart-7d9f-0" and rows[0]["limit_bytes"] == 1024**3
    assert {r["name"] for r in rows} == {"shop/cart-7d9f-0/app", "shop/api-5c8b-0/app", "shop/cache-6f4d-0/app"}


def test_node_memory_rows_per_series_and_metric_picks_one():
    path = str(SAMPLES / "leak.node-memory.jsonl")
    rows = _series(path)
    names = [r["name"] for r in rows]
    assert sorted(names) == sorted(f"{path} {m}" for m in ("rss", "heapUsed", "external", "arrayBuffers"))
    assert rows[0]["verdict"] == "leak" and not rows[0]["name"].endswith("heapUsed")
    single = json.loads(memdoctor("analyze", path, "--metric", "external", "--json", check_code=0).stdout)
    assert "series" not in single and single["verdict"] == "leak"


def test_several_inputs_with_several_series_are_prefixed_by_file():
    cli = str(SAMPLES / "docker-stats-cli.jsonl")
    rows = _series(cli, str(SAMPLES / "fleet.prometheus.json"), "--interval", "100ms")
    names = {r["name"] for r in rows}
    assert f"{cli}: api" in names and f"{cli}: worker" in names and len(rows) == 5
    api = next(r for r in rows if r["name"] == f"{cli}: api")
    assert api["verdict"] == "leak" and api["limit_bytes"] == 512 * 1024**2
    assert any("100ms" in e or "0.1s" in e for e in api["evidence"])


def test_mprof_children_with_format_override():
    rows = _series(str(SAMPLES / "children.mprof.dat"), "--format", "mprof-children")
    assert len(rows) == 3 and rows[0]["verdict"] == "leak" and rows[0]["name"].startswith("child ")


def test_one_input_one_series_keeps_the_single_object(tmp_path):
    single = json.loads(memdoctor("analyze", str(SAMPLES / "leak.psrecord.txt"), "--json", check_code=0).stdout)
    assert "series" not in single and single["verdict"] == "leak"
    assert set(single) >= CONTRACT_KEYS


def test_terminal_table_is_ranked():
    out = memdoctor("analyze", "healthy.mprof.dat", "leak.psrecord.txt", check_code=0, cwd=str(SAMPLES)).stdout
    assert "2 series, worst first" in out
    assert out.index("leak.psrecord.txt") < out.index("healthy.mprof.dat")


def test_one_bad_file_among_several_is_exit_2(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("nothing to see here\n")
    proc = memdoctor("analyze", str(SAMPLES / "leak.mprof.dat"), str(bad), "--json")
    assert_one_line_error(proc)
    assert str(bad) in proc.stderr and proc.stdout == ""
    proc = memdoctor("analyze", str(SAMPLES / "leak.mprof.dat"), str(SAMPLES / "leak.psrecord.txt"),
                     "--metric", "pss")
    assert_one_line_error(proc)
    assert "no 'pss' series" in proc.stderr
