"""Debian tools the integration tests use (Prometheus, lldb, Chromium): never installed by a test.

`bash tests/system_packages.sh` (the first step of the README's test command and of .ci/run)
installs them once, before pytest. A test whose tool is missing skips with the reason on a
developer's machine; under CI (CI set in the environment) a missing tool is a failure, because
CI must run everything.
"""

from __future__ import annotations

import os
import shutil

import pytest


def missing(package: str, *binaries: str) -> str | None:
    """None when every one of `binaries` is on PATH, else why not (and how to get it)."""
    absent = [b for b in binaries if shutil.which(b) is None]
    if not absent:
        return None
    return f"{', '.join(absent)} not on PATH: run `bash tests/system_packages.sh` (Debian package {package})"


def require(package: str, *binaries: str) -> None:
    """Skip the test (fail it under CI) unless every one of `binaries` is on PATH."""
    reason = missing(package, *binaries)
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must have it: {reason}")
    pytest.skip(reason)
