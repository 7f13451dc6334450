"""Shared helpers: run the memdoctor CLI as a real subprocess, start real target processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DATA = Path(__file__).resolve().parent / "data"


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    # The checkout's own code, whether or not it is installed.
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("NO_COLOR", None)
    env["COLUMNS"] = "120"
    return env


def memdoctor(*args: str, timeout: float = 120, check_code: int | None = None,
              extra_env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run the memdoctor CLI with ARGS and return the completed process (text mode).

    In an integration test: `python -m memdoctor ARGS`, a real child process. In a unit test (no
    child processes allowed): the same typer app in this process, with the same environment,
    captured output and exit code, and any uncaught exception written to stderr as a traceback so
    that the no-traceback contract is still checked.
    """
    if _UNIT_TEST_RUNNING:
        proc = _memdoctor_in_process(args, extra_env=extra_env, **kwargs)
    else:
        proc = subprocess.run([sys.executable, "-m", "memdoctor", *args], capture_output=True, text=True,
                              timeout=timeout, env={**cli_env(), **(extra_env or {})}, **kwargs)
    if check_code is not None:
        assert proc.returncode == check_code, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    return proc


def _memdoctor_in_process(args: tuple[str, ...], *, extra_env: dict[str, str] | None = None,
                          cwd: str | os.PathLike | None = None, input: str | None = None
                          ) -> subprocess.CompletedProcess:
    import traceback

    from typer.testing import CliRunner

    from memdoctor.cli import app

    env: dict[str, str | None] = {"COLUMNS": "120", "NO_COLOR": None, **(extra_env or {})}
    before = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        result = CliRunner().invoke(app, list(args), input=input, env=env, prog_name="memdoctor")
    finally:
        os.chdir(before)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "Traceback (most recent call last):\n" + "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(["memdoctor", *args], result.exit_code, result.stdout, stderr)


def memdoctor_popen(*args: str, **kwargs) -> subprocess.Popen:
    """Start the memdoctor CLI with ARGS; stdout and stderr are pipes unless KWARGS name other files.

    A launched target inherits memdoctor's stderr: a target that logs every request (Flask,
    Django, uvicorn) fills a pipe nobody reads yet (64 KiB, ~1,000 requests) and then blocks in
    its next write, so such a test passes `stderr=` an open file instead.
    """
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([sys.executable, "-m", "memdoctor", *args], text=True, env=cli_env(), **kwargs)


def read_jsonl(path: Path) -> tuple[dict, list[dict]]:
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return lines[0], lines[1:]


def wait_for(predicate, timeout: float = 20.0, what: str = "condition") -> None:
    """Poll `predicate` until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def assert_one_line_error(proc: subprocess.CompletedProcess) -> None:
    """Contract: exit 2, a short message on stderr, never a traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-1000:], proc.stderr[-1000:])
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert 1 <= len(lines) <= 12, proc.stderr  # typer's usage panel is a few lines; ours is one
    if lines[0].startswith("memdoctor:"):
        assert len(lines) == 1, proc.stderr


@pytest.fixture
def spawn() -> Iterator:
    """Start target processes; every one is killed (with its group) at the end of the test."""
    started: list[subprocess.Popen] = []

    def _spawn(argv: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, **kwargs)
        started.append(proc)
        return proc

    yield _spawn
    for proc in started:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def python_example(name: str, *args: str) -> list[str]:
    return [sys.executable, str(EXAMPLES / "python" / name), *args]


def node_example(name: str, *args: str) -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    return [node, str(EXAMPLES / "node" / name), *args]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pytest_configure(config):
    # Every Node process a test starts (directly, through an example, or under `memdoctor run`/`doctor`)
    # opens its inspector, when SIGUSR1 asks, on a port Node picks free at that moment, never on the
    # host's fixed 9229: two workers, two test runs, or a developer's own Node can then not collide.
    # Node reads NODE_OPTIONS before the command line, so a test that needs a known port passes
    # `--inspect-port=N` (N from free_port()) on the command line and wins.
    options = os.environ.get("NODE_OPTIONS", "")
    if "--inspect-port" not in options:
        os.environ["NODE_OPTIONS"] = (options + " --inspect-port=0").strip()
    # matplotlib builds its font cache at first use by running fc-list, a child process that a unit test
    # may not start: on a machine where no plot was ever drawn, the first unit test to draw one failed
    # (which test that was depended on the order the workers took them). Built here, before any test.
    try:
        import matplotlib.font_manager  # noqa: F401  (importing it loads or builds the cache)
    except ImportError:
        pass


# The unit suite (`pytest -m "not integration"`) is pure and fast: no child processes, no network.
# A test that needs either is marked `integration`; an unmarked one that tries (in the test or in
# any fixture it sets up, module-scoped ones included) fails loudly here, so the split cannot rot.
_UNIT_TEST_RUNNING = False  # True while an unmarked (unit) test runs: the CLI then runs in-process
_UNIT_REFUSAL = "a unit test {what}: mark it `integration` (pytest.mark.integration) or keep it in-process"


def _refuse(what: str):
    def refuse(*_args, **_kwargs):
        raise RuntimeError(_UNIT_REFUSAL.format(what=what))
    return refuse


def _unit_guards() -> list[tuple[object, str, object]]:
    import socket
    return [(subprocess.Popen, "_execute_child", _refuse("started a child process")),
            (os, "fork", _refuse("forked")),
            (socket.socket, "connect", _refuse("opened a network connection")),
            (socket.socket, "bind", _refuse("bound a network socket"))]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    global _UNIT_TEST_RUNNING
    if item.get_closest_marker("integration") is not None:
        yield
        return
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in _unit_guards()]
    for owner, name, guard in _unit_guards():
        setattr(owner, name, guard)
    _UNIT_TEST_RUNNING = True
    try:
        yield
    finally:
        _UNIT_TEST_RUNNING = False
        for owner, name, original in saved:
            setattr(owner, name, original)


def assert_caps_command_agrees(row: dict, *node: str) -> None:
    """A diff row's cap is the one computation `memdoctor caps` does (analysis.caps.container_caps):
    the same limit, baseline and bytes per entry, read from the row's stated inputs, give the same
    number there (issue 20: diff, report and caps gave three caps for one container)."""
    import json as _json

    explain = row["caps"]["explain"]["max_entries"]
    inputs = explain["budget"]["inputs"]
    assert abs(explain["inputs"]["bytes_per_entry"] - row["bytes_per_entry"]) <= 0.5  # the row's, in whole bytes
    done = memdoctor("caps", "--limit", f"{inputs['limit_bytes']}B", "--baseline", f"{inputs['baseline_bytes']}B",
                     "--bytes-per-entry", f"{explain['inputs']['bytes_per_entry']}B",
                     "--budget-share", str(inputs["budget_share"]),
                     *node, "--json", check_code=0)
    assert _json.loads(done.stdout)["max_entries"] == row["suggested_cap"], (row["caps"], done.stdout)
