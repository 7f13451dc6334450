"""Outputs at a path the user gave, written as root where another user can write (memdoctor/output_files.py).

ARCHITECTURE.md's privilege rule: root never creates, opens, truncates or moves a path inside a directory
another user can write except through O_NOFOLLOW and a verified directory descriptor. The attacker is the
user `nobody` with a 1777 directory: it plants a symbolic link, a hard link, a FIFO or a file of its own
where root's trace, snapshot, metadata, report or baseline is about to be written. Each test here failed on
the code before memdoctor/output_files.py (the trace writer, `write_meta`, the snapshot copy and the report
opened the path with O_CREAT|O_TRUNC and followed the link: a root-owned file was emptied and overwritten).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import assert_one_line_error, cli_env

NOBODY = 65534
SECRET = "root's precious data\n"

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the attacker's links belong to nobody")


@pytest.fixture
def shared(tmp_path: Path) -> tuple[Path, Path]:
    """(a 1777 directory like /tmp, a root-owned 0600 file outside it that the attacker wants overwritten)."""
    private = tmp_path / "root_only"
    private.mkdir(mode=0o700)
    victim = private / "victim.txt"
    victim.write_text(SECRET)
    victim.chmod(0o600)
    public = tmp_path / "public"
    public.mkdir()
    public.chmod(0o1777)
    return public, victim


def plant_symlink(link: Path, target: Path) -> None:
    """A symbolic link that nobody made (root makes it and hands it over: lchown, as nobody's own would be)."""
    os.symlink(str(target), link)
    os.lchown(link, NOBODY, NOBODY)


def untouched(victim: Path) -> bool:
    return victim.read_text() == SECRET and stat.S_IMODE(victim.stat().st_mode) == 0o600


@root_only
def test_a_link_nobody_planted_is_not_followed(shared):
    from memdoctor.errors import MemdoctorError
    from memdoctor.heap.model import write_meta
    from memdoctor.traces.writer import open_trace_writer

    public, victim = shared
    link = public / "t.jsonl"
    plant_symlink(link, victim)
    with pytest.raises(MemdoctorError, match="symbolic link"):
        open_trace_writer(str(link)).write_header({"pid": 1})
    assert untouched(victim)
    plant_symlink(public / "s.snap.meta.json", victim)
    with pytest.raises(MemdoctorError, match="symbolic link"):
        write_meta(str(public / "s.snap"), {"pid": 1})
    assert untouched(victim)

    from memdoctor.output_files import OutputPathError, replace_output

    with pytest.raises(OutputPathError):
        replace_output(str(link), lambda fh: fh.write(b"x"))  # reports, JUnit, V8 snapshots
    assert untouched(victim)
    assert os.path.islink(link)  # refused, not removed: it is not root's to touch


@root_only
def test_a_directory_link_nobody_planted_is_not_followed(shared):
    """`-o /tmp/app/trace.jsonl` where nobody made /tmp/app a link to a root directory."""
    from memdoctor.output_files import OutputPathError, open_output

    public, victim = shared
    plant_symlink(public / "app", victim.parent)
    with pytest.raises(OutputPathError, match="symbolic link another user made"):
        open_output(str(public / "app" / victim.name))
    assert untouched(victim)


@root_only
def test_a_hard_link_or_a_file_of_nobody_is_not_written(shared):
    from memdoctor.output_files import OutputPathError, open_output

    public, victim = shared
    os.link(victim, public / "hard.jsonl")  # the same inode as root's file (fs.protected_hardlinks=0)
    with pytest.raises(OutputPathError, match="hard links"):
        open_output(str(public / "hard.jsonl"))
    assert untouched(victim)
    theirs = public / "theirs.jsonl"
    theirs.write_text("")
    os.chown(theirs, NOBODY, NOBODY)  # root would hand heap data to a file nobody can read
    with pytest.raises(OutputPathError, match="another user"):
        open_output(str(theirs))
    assert theirs.read_text() == ""


@root_only
def test_a_fifo_planted_in_place_neither_blocks_nor_is_written(shared):
    from memdoctor.output_files import OutputPathError, open_output

    public, _ = shared
    fifo = public / "t.jsonl"
    os.mkfifo(fifo)
    os.chown(fifo, NOBODY, NOBODY)
    with pytest.raises(OutputPathError):
        open_output(str(fifo))  # O_NONBLOCK: no reader is no wait


def test_own_links_and_files_still_work(tmp_path):
    """The checks cost an ordinary user nothing: their own links are followed, their own files rewritten."""
    from memdoctor.output_files import open_output, replace_output

    runs = tmp_path / "runs"
    runs.mkdir(mode=0o755)
    (runs / "old.jsonl").write_text("old\n")
    os.symlink("runs/old.jsonl", tmp_path / "latest.jsonl")
    fd = open_output(str(tmp_path / "latest.jsonl"))
    os.write(fd, b"new\n")
    os.close(fd)
    assert (runs / "old.jsonl").read_text() == "new\n"
    replace_output(str(runs / "report.md"), lambda fh: fh.write(b"# report\n"), mode=0o644)
    assert (runs / "report.md").read_text() == "# report\n"
    assert stat.S_IMODE((runs / "report.md").stat().st_mode) == 0o644
    assert sorted(p.name for p in runs.iterdir()) == ["old.jsonl", "report.md"]  # no temporary file left


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memdoctor", *args], capture_output=True, text=True,
                          env=cli_env(), timeout=120)


@root_only
@pytest.mark.integration
def test_run_does_not_write_a_trace_through_a_planted_link(shared):
    public, victim = shared
    link = public / "t.jsonl"
    plant_symlink(link, victim)
    proc = run_cli("run", "--interval", "50ms", "--duration", "1s", "-o", str(link), "--", "sleep", "3")
    assert_one_line_error(proc)
    assert "symbolic link" in proc.stderr
    assert untouched(victim)


@pytest.mark.integration
@pytest.mark.parametrize("argv", [
    ["run", "--duration", "2s", "-o", "{out}", "--", "/nonexistent/command"],
    ["doctor", "--max-time", "5s", "-o", "{out}", "--", "/nonexistent/command"],
    ["gate", "--pid", "999999", "--duration", "2s", "-o", "{out}"],
], ids=["run", "doctor", "gate"])
def test_a_command_that_cannot_start_keeps_the_older_trace(tmp_path, argv):
    """A recording that records nothing does not empty the trace of the same name that was there."""
    out = tmp_path / "kept.jsonl"
    earlier = '{"memdoctor_trace":1,"pid":7}\n{"t":0.0,"rss":1000}\n{"t":1.0,"rss":2000}\n'
    out.write_text(earlier)
    proc = run_cli(*[a.format(out=out) for a in argv])
    assert proc.returncode in (1, 2), proc.stderr  # gate's own code for a target it cannot judge is 1
    assert "Traceback" not in proc.stderr
    assert out.read_text() == earlier


# --- a second, adversarial review (2026-12-04): each of these failed on the first version of output_files.py


@root_only
def test_a_directory_of_another_user_is_theirs_whatever_its_mode(shared):
    """nobody's own directory, chmod 0555: its owner can make it writable again at any moment, so its links
    are nobody's to plant (the first version followed them: root's file overwritten, for every output)."""
    from memdoctor.output_files import OutputPathError, open_output

    public, victim = shared
    theirs = public / "ro"
    theirs.mkdir()
    plant_symlink(theirs / "out", victim)
    os.chown(theirs, NOBODY, NOBODY)
    theirs.chmod(0o555)
    with pytest.raises(OutputPathError, match="symbolic link"):
        open_output(str(theirs / "out"))
    assert untouched(victim)


@root_only
def test_a_hard_link_to_a_link_of_roots_is_not_followed(shared, tmp_path):
    """A hard link (fs.protected_hardlinks=0) to one of root's own symbolic links, made in a directory
    others can write, is root's link by owner: its link count says another name was made for it."""
    from memdoctor.output_files import OutputPathError, open_output

    public, victim = shared
    own = tmp_path / "root_only" / "cfg"
    os.symlink(str(victim), own)
    os.link(own, public / "hl", follow_symlinks=False)
    with pytest.raises(OutputPathError, match="hard link"):
        open_output(str(public / "hl"))
    assert untouched(victim)


@root_only
def test_plots_directories_are_not_made_through_a_planted_link(shared):
    """`report --plots` made its directories with os.makedirs, through nobody's link into a root directory."""
    from memdoctor.output_files import OutputPathError, output_dir

    public, victim = shared
    plant_symlink(public / "plink", victim.parent)
    with pytest.raises(OutputPathError, match="symbolic link"):
        output_dir(str(public / "plink" / "newdir" / "sub"))
    assert not (victim.parent / "newdir").exists()
    made = output_dir(str(public / "mine" / "a"))
    assert os.path.isdir(made)


def test_kernel_links_and_modes_are_kept(tmp_path):
    """/dev/stdout on a pipe is the pipe (its /proc link reads "pipe:[N]", not a file name); an append never
    changes the mode of the file it appends to, and a private output never makes an older file readable."""
    from memdoctor.output_files import open_output

    read_end, write_end = os.pipe()
    saved = os.dup(1)
    os.dup2(write_end, 1)
    try:
        fd = open_output("/dev/stdout")
        os.write(fd, b"through the pipe\n")
        os.close(fd)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        assert fh.read() == b"through the pipe\n"
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier\n")
    summary.chmod(0o600)
    os.close(open_output(str(summary), mode=0o644, truncate=False, append=True))
    assert stat.S_IMODE(summary.stat().st_mode) == 0o600
    report = tmp_path / "report.json"
    report.write_text("{}")
    report.chmod(0o644)
    os.close(open_output(str(report), mode=0o600))
    assert stat.S_IMODE(report.stat().st_mode) == 0o600


@root_only
def test_a_link_swapped_between_its_check_and_its_reading_is_not_followed(shared, tmp_path, monkeypatch):
    """The review's race, made deterministic: root's own link in a directory others can write is checked,
    then nobody exchanges it for a link of its own (renameat2 RENAME_EXCHANGE won 567 of 30,000 tries).
    The link is read through a descriptor opened on it and checked there, so the swapped-in one is refused."""
    from memdoctor.output_files import OutputPathError, open_output

    public, victim = shared
    open_dir = public / "nd"
    open_dir.mkdir()
    open_dir.chmod(0o777)  # not sticky: anyone can rename here
    safe = tmp_path / "root_only" / "out"
    os.symlink(str(safe), open_dir / "link")
    plant_symlink(open_dir / "evil", victim)
    real_stat = os.stat
    swapped = []

    def stat_then_swap(path, *args, **kwargs):
        result = real_stat(path, *args, **kwargs)
        if path == "link" and not swapped:
            swapped.append(True)
            os.rename(open_dir / "evil", open_dir / "link")  # nobody's move, between check and read
        return result

    monkeypatch.setattr(os, "stat", stat_then_swap)
    with pytest.raises(OutputPathError, match="symbolic link"):
        open_output(str(open_dir / "link"))
    monkeypatch.undo()
    assert swapped and untouched(victim)


def test_a_path_the_system_refuses_is_one_line(tmp_path):
    """Any error on the way (a name too long, a directory that cannot be searched or made) is the one-line
    OutputPathError, not an OSError that the commands print as "internal error"."""
    from memdoctor.output_files import OutputPathError, open_output, output_dir

    too_long = tmp_path / ("a" * 300) / "trace.jsonl"
    with pytest.raises(OutputPathError, match="too long"):
        open_output(str(too_long))
    with pytest.raises(OutputPathError, match="too long"):
        output_dir(str(too_long))
