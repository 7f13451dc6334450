"""Install size: the base install against the full one (every extra), each in a fresh venv.

What it does: for each variant, creates an empty venv in a temporary directory, runs
`pip install --no-cache-dir <checkout>[extras]` (a regular, non-editable install, bytecode
compiled as pip does), and reports the size of what the install added to site-packages
(the venv's own pip and setuptools are measured before and subtracted) and the largest packages.

Run by hand: `python3 benchmarks/install_size.py` (needs PyPI; a few minutes). Target (issue 18):
the base <= 150 MiB. The numbers go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import sysconfig
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
BASE_TARGET_MIB = 150  # issue 18


def tree_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def site_packages(env_dir: Path) -> Path:
    paths = sysconfig.get_paths(vars={"base": str(env_dir), "platbase": str(env_dir)})
    return Path(paths["purelib"])


def measure(extras: str, workdir: Path) -> dict:
    env_dir = workdir / (extras or "base")
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    site = site_packages(env_dir)
    before = {p.name: tree_size(p) for p in site.iterdir()}
    target = f"{ROOT}[{extras}]" if extras else str(ROOT)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-cache-dir", target], check=True, env=env)
    sizes: dict[str, int] = {}
    for entry in site.iterdir():
        size = tree_size(entry) if entry.is_dir() else entry.stat().st_size
        if size != before.get(entry.name):
            sizes[entry.name] = size - before.get(entry.name, 0)
    # Wheels put console scripts in bin/ (tiny) and shared libraries inside site-packages.
    return {"extras": extras or "(base)", "total": sum(sizes.values()), "sizes": sizes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",all", help="comma-separated extras per venv ('' = base)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="memdoctor-install-size-") as tmp:
        results = [measure(extras, Path(tmp)) for extras in args.variants.split(",")]
    print(f"python {sys.version.split()[0]}")
    for result in results:
        top = sorted(result["sizes"].items(), key=lambda kv: -kv[1])[:8]
        print(f"{result['extras']:>8}: {result['total'] / MIB:6.1f} MiB   largest: "
              + ", ".join(f"{name} {size / MIB:.1f}" for name, size in top))
    base = next((r for r in results if r["extras"] == "(base)"), None)
    if base is not None:
        print(f"base {base['total'] / MIB:.1f} MiB against the target {BASE_TARGET_MIB} MiB: "
              f"{'met' if base['total'] <= BASE_TARGET_MIB * MIB else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
