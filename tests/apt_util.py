"""Debian packages that tests need (Prometheus, lldb, chromium), installed by the tests themselves.

CI runs on a fresh machine where only the project's own files may install things: a test that
needs a tool calls `ensure_debian_package` and skips, with the reason, only when installing is
impossible (no apt-get, not root) or failed.
"""

from __future__ import annotations

import os
import shutil
import subprocess

APT = ["apt-get", "-o", "DPkg::Lock::Timeout=300"]  # another install (another test run) may hold the lock


def ensure_debian_package(package: str, *binaries: str, recommends: bool = False) -> str | None:
    """None when every one of `binaries` is on PATH, installing `package` if needed; else why not."""
    if all(shutil.which(b) for b in binaries):
        return None
    if shutil.which("apt-get") is None:
        return f"{package} is not installed and there is no apt-get to install it"
    if os.geteuid() != 0:
        return f"{package} is not installed and installing Debian's package needs root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*APT, "install", "-y", "-q", *([] if recommends else ["--no-install-recommends"]), package]
    proc = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0:  # a fresh machine may have no package lists yet
        update = subprocess.run([*APT, "update", "-q"], capture_output=True, text=True, env=env, timeout=600)
        if update.returncode != 0:
            return f"apt-get update failed: {update.stderr.strip()[-200:]}"
        proc = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0 or not all(shutil.which(b) for b in binaries):
        return f"apt-get install {package} failed: {proc.stderr.strip()[-200:]}"
    return None
