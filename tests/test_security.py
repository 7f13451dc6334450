"""Heap capture as root against untrusted targets: no way in, the target survives (issue 19, items 1-6).

The attacker is the user `nobody`: a target running as nobody, or a nobody process that plants
symlinks where a root memdoctor might write. Each test here failed on the code before its fix;
docs/security.md names the promise each one holds.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import EXAMPLES, memdoctor
from .node_target import Driven

NODE = shutil.which("node")
SYSTEM_PYTHON = "/usr/bin/python3"  # readable and executable by nobody (this interpreter may live under /root)
NOBODY = 65534
AS_NOBODY = ["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups"]
OLD_LOCK = "/tmp/memdoctor-node-inspector.lock"

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as the attacker `nobody`")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


def as_nobody(fn: Callable[[], object]) -> None:
    """Run `fn` in a forked child that became nobody; fail the test if it raised."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        os.close(read_end)
        code = 1
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            fn()
            code = 0
        except BaseException as exc:
            os.write(write_end, repr(exc).encode())
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        err = fh.read().decode()
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0, err


def victim_file(tmp_path: Path, text: str = "root's precious data\n") -> Path:
    """A root-owned 0600 file the attacker wants emptied or handed over."""
    victim = tmp_path / "victim.txt"
    victim.write_text(text)
    victim.chmod(0o600)
    os.chmod(tmp_path, 0o755)
    return victim


class NodeTarget(Driven):
    def __init__(self, *prefix: str) -> None:
        script = EXAMPLES / "node_heap" / "map_leak.js"
        super().__init__([*prefix, NODE, str(script), "--manual", "--kb", "4"])


@pytest.fixture
def node_targets():
    started: list[NodeTarget] = []

    def start(*prefix: str) -> NodeTarget:
        target = NodeTarget(*prefix)
        started.append(target)
        return target

    yield start
    for target in started:
        target.kill()


def inspector_ports(pid: int) -> set[int]:
    """Ports the target itself listens on."""
    from memdoctor.heap.v8.inspector import listeners, socket_inodes

    mine = socket_inodes(pid)
    return {item.port for item in listeners(pid) if item.inode in mine}


# ----------------------------------------------------------------------------- 1. the lock


@root_only
@needs_node
@pytest.mark.integration
def test_planted_lock_symlink_does_not_empty_a_root_file(node_targets, tmp_path):
    """Item 1: a symlink planted by nobody at the old predictable lock path (or anywhere in /tmp)
    must not make a root capture create or truncate what it points to."""
    victim = victim_file(tmp_path)
    if os.path.lexists(OLD_LOCK):
        os.unlink(OLD_LOCK)
    as_nobody(lambda: os.symlink(str(victim), OLD_LOCK))
    try:
        target = node_targets()
        target.command("grow-to 5")
        out = tmp_path / "s.heapsnapshot"
        memdoctor("snapshot", str(target.pid), "-o", str(out), check_code=0)
        assert victim.read_text() == "root's precious data\n"
        assert out.exists()
    finally:
        os.unlink(OLD_LOCK)


def test_state_dir_refuses_a_directory_someone_else_made(tmp_path, monkeypatch):
    """A non-root memdoctor whose /tmp/memdoctor-UID was made by someone else does not use it."""
    from memdoctor.heap import statedir
    from memdoctor.heap.runtimes import HeapError

    mine = tmp_path / "mine"
    monkeypatch.setattr(statedir, "_candidates", lambda: [str(mine)])
    assert statedir.state_dir() == str(mine)
    assert stat.S_IMODE(os.lstat(mine).st_mode) == 0o700
    mine.chmod(0o777)  # no longer private: refused
    with pytest.raises(HeapError):
        statedir.state_dir()
    mine.rmdir()
    os.symlink(str(tmp_path), mine)  # a symlink to a directory of ours: refused too
    with pytest.raises(HeapError):
        statedir.state_dir()


@root_only
def test_root_state_dir_is_private():
    from memdoctor.heap.statedir import state_dir

    st = os.lstat(state_dir())
    assert stat.S_ISDIR(st.st_mode) and st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o700
