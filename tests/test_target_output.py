"""`--target-output`: the launched command's own stdout/stderr kept apart from memdoctor's (issue 21, item 4).

Before it, `run --json -- CMD` printed the command's stdout into memdoctor's JSON, which no longer
parsed; a user had no way to quiet a chatty service or to keep its output in a file.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from .conftest import assert_one_line_error, memdoctor

pytestmark = pytest.mark.integration

# Prints one line on each stream, then lives a little so that a few samples are taken.
CHATTY = ("import sys, time; print('child-stdout-line', flush=True); "
          "print('child-stderr-line', file=sys.stderr, flush=True); time.sleep(0.5)")


def _printed(text: str) -> set[str]:
    """The child's lines in `text` (the command line itself, in memdoctor's JSON, holds the same words)."""
    return {line.strip() for line in text.splitlines()} & {"child-stdout-line", "child-stderr-line"}


def _run(*options: str, check_code: int | None = 0):
    return memdoctor("run", "--interval", "50ms", *options, "--", sys.executable, "-c", CHATTY,
                     check_code=check_code)


def test_json_stays_parseable_when_the_command_prints():
    proc = _run("--json")
    doc = json.loads(proc.stdout)  # the whole of stdout is memdoctor's one JSON document
    assert doc["samples"] > 0
    assert _printed(proc.stderr) == {"child-stdout-line", "child-stderr-line"}  # moved, not lost


def test_without_json_the_command_writes_where_memdoctor_writes():
    proc = _run()
    assert _printed(proc.stdout) == {"child-stdout-line"} and _printed(proc.stderr) == {"child-stderr-line"}


def test_quiet_discards_the_commands_output():
    proc = _run("--json", "--target-output", "quiet")
    json.loads(proc.stdout)
    assert not _printed(proc.stdout + proc.stderr)


def test_a_file_gets_both_streams_private(tmp_path: Path):
    out = tmp_path / "service.log"
    out.write_text("earlier line\n")
    proc = _run("--json", "--target-output", str(out))
    json.loads(proc.stdout)
    assert not _printed(proc.stdout + proc.stderr)
    text = out.read_text()
    assert text.startswith("earlier line\n")  # appended, never truncated
    assert _printed(text) == {"child-stdout-line", "child-stderr-line"}
    fresh = tmp_path / "fresh.log"
    _run("--target-output", str(fresh))
    assert (fresh.stat().st_mode & 0o777) == 0o600  # what a service prints may hold secrets


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the planted link belongs to nobody")
def test_a_symlink_in_place_of_the_file_is_refused_before_anything_starts(tmp_path: Path):
    """A link another user planted where the log goes (a directory everyone can write): refused, as every
    output path is (memdoctor/output_files.py; one's own links in one's own directories are followed)."""
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    link = shared / "service.log"
    link.symlink_to(victim)
    os.lchown(link, 65534, 65534)  # nobody's link
    trace = tmp_path / "t.jsonl"
    marker = tmp_path / "started"
    proc = memdoctor("run", "-o", str(trace), "--target-output", str(link), "--", sys.executable, "-c",
                     f"open({str(marker)!r}, 'w').close()")
    assert_one_line_error(proc)
    assert "--target-output" in proc.stderr
    assert victim.read_text() == "keep me\n"
    assert not trace.exists() and not marker.exists()  # no trace file, the command never launched


def test_options_that_cannot_apply_say_so():
    proc = memdoctor("gate", "--pid", str(os.getpid()), "--duration", "1s", "--target-output", "quiet")
    assert_one_line_error(proc)
    assert "--target-output" in proc.stderr
    proc = memdoctor("doctor", str(os.getpid()), "--target-output", "quiet")
    assert_one_line_error(proc)
    assert "--target-output" in proc.stderr
