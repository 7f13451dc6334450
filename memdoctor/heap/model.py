"""What every heap engine produces: diff rows (the contract) and the snapshot metadata file.

Contract (docs/architecture.md): `memdoctor diff OLD NEW [NEWER] --json` prints {"rows": [...]}
ranked by retained (or total) bytes growth, each row with `key`, `count_before`,
`count_after`, `bytes_before`, `bytes_after`, `where` and `suggested_cap` when one applies.
`snapshot` writes FILE.meta.json beside each snapshot (pid, runtime, captured_at, rss,
limit_bytes).

Keys of dicts and Maps used as maps (ids, emails, tokens) are values, never names: a row's
`key` and `where` hold type, property, variable and module names only. The one exception is
`diff --show-values`: rows then carry `sample_values` and the result says `"values_shown": true`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class DiffRow:
    """One thing that grows between snapshots."""

    key: str  # qualified container path, type name, allocation site, or retainer cluster
    count_before: int
    count_after: int
    bytes_before: int
    bytes_after: int
    where: str  # how it is reached: "module global", "class attribute", a retainer path
    kind: str = "type"  # "container", "type", "site", "cluster"
    suggested_cap: int | None = None
    # Growth over the snapshots' timestamps, when they are known.
    bytes_per_min: float | None = None
    entries_per_min: float | None = None
    bytes_per_entry: float | None = None
    # Middle snapshot of a three-snapshot diff.
    count_middle: int | None = None
    bytes_middle: int | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def bytes_growth(self) -> int:
        return self.bytes_after - self.bytes_before

    @property
    def count_growth(self) -> int:
        return self.count_after - self.count_before

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        extras = out.pop("extras")
        out["bytes_growth"] = self.bytes_growth
        out["count_growth"] = self.count_growth
        out.update(extras)
        return out


@dataclass
class DiffResult:
    rows: list[DiffRow]
    runtime: str
    snapshots: list[str]
    interval_s: float | None = None  # time between the first and last snapshot
    limit_bytes: int | None = None
    notes: list[str] = field(default_factory=list)
    values_shown: bool = False  # rows carry extras["sample_values"]: heap values, asked for with --show-values

    def to_dict(self) -> dict[str, Any]:
        return {
            "runtime": self.runtime,
            "values_shown": self.values_shown,
            "snapshots": self.snapshots,
            "interval_s": self.interval_s,
            "limit_bytes": self.limit_bytes,
            "notes": self.notes,
            "rows": [row.to_dict() for row in self.rows],
        }


def meta_path(snapshot_path: str) -> str:
    return snapshot_path + ".meta.json"


def write_meta(snapshot_path: str, meta: dict[str, Any]) -> str:
    """Write FILE.meta.json beside a snapshot (mode 0600) and return its path."""
    path = meta_path(snapshot_path)
    from memdoctor.output_files import open_output

    with os.fdopen(open_output(path), "w") as fh:  # no planted link followed (memdoctor/output_files.py)
        json.dump(meta, fh, indent=2)
        fh.write("\n")
    return path


def read_meta(snapshot_path: str) -> dict[str, Any]:
    """The metadata beside a snapshot, or {} when there is none or it is unreadable."""
    try:
        with open(meta_path(snapshot_path), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
