"""Optional extras (memdoctor/extras.py): without one, the command that needs it says which pip install to run.

Each case runs the real CLI in a fresh interpreter where the extra's package cannot be imported
(a None entry in sys.modules makes `import numba` raise ImportError, as on a base install).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import pytest

from .conftest import DATA, cli_env

pytestmark = pytest.mark.integration

RUN_WITHOUT = textwrap.dedent("""
    import sys
    for name in {hidden!r}:
        sys.modules[name] = None
    sys.argv = ['memdoctor', *{args!r}]
    from memdoctor.cli import main
    main()
""")


def _run_without(hidden: list[str], args: list[str], cwd) -> subprocess.CompletedProcess:
    code = RUN_WITHOUT.format(hidden=hidden, args=args)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=cli_env(),
                          cwd=cwd)


def _assert_one_line_pip_hint(proc: subprocess.CompletedProcess, extra: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert f"pip install 'memdoctor[{extra}]'" in lines[0]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to write a real heap snapshot")
def test_v8_diff_without_numba_names_the_v8_extra(tmp_path):
    for name in ("a", "b"):
        subprocess.run(["node", "-e", f"require('v8').writeHeapSnapshot('{tmp_path / name}.heapsnapshot')"],
                       check=True, timeout=60, capture_output=True)
    proc = _run_without(["numba"], ["diff", str(tmp_path / "a.heapsnapshot"), str(tmp_path / "b.heapsnapshot")],
                        tmp_path)
    _assert_one_line_pip_hint(proc, "v8")


def test_html_report_without_matplotlib_names_the_plots_extra(tmp_path):
    trace = DATA / "dev_traces" / "node_map_leak.csv"
    proc = _run_without(["matplotlib"], ["report", str(trace), "-o", str(tmp_path / "r.html")], tmp_path)
    _assert_one_line_pip_hint(proc, "plots")
    # The same report as Markdown needs no plots, and works on the base install.
    proc = _run_without(["matplotlib", "numba"], ["report", str(trace), "-o", str(tmp_path / "r.md")], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "r.md").stat().st_size > 0
