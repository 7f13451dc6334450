"""Heap capture as root against untrusted targets: no way in, the target survives (issue 19, items 1-6).

The attacker is the user `nobody`: a target running as nobody, or a nobody process that plants
symlinks where a root memdoctor might write. Each test here failed on the code before its fix;
docs/security.md names the promise each one holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .conftest import EXAMPLES, assert_one_line_error, cli_env, memdoctor, wait_for
from .node_target import Driven

NODE = shutil.which("node")
SYSTEM_PYTHON = "/usr/bin/python3"  # readable and executable by nobody (this interpreter may live under /root)
NOBODY = 65534
AS_NOBODY = ["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups"]
OLD_LOCK = "/tmp/memdoctor-node-inspector.lock"
# Node targets start with this: SIGUSR1 then opens a port Node picks free at run time, so that these
# tests never touch the host's 9229 and can run beside other Node tests.
FREE_PORT = ("--inspect-port=0",)

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as the attacker `nobody`")


@pytest.fixture
def nobody_in_shared_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One test at a time of those that make entries of nobody's at the top of /tmp or count them there.
    /tmp is one directory for every xdist worker: a scan that asks whether a capture left anything of
    nobody's there saw another worker's planted lock link or nobody's own output directory (seen in CI
    with three workers: '/tmp/memdoctor-node-inspector.lock'). The lock file lives in pytest's own
    directory for this run, which the workers share and only root may enter."""
    lock_path = tmp_path_factory.getbasetemp().parent / "nobody-in-shared-tmp.lock"
    with open(lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # released when fh closes
        yield
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
    def __init__(self, *prefix: str, node_args: tuple[str, ...] = ()) -> None:
        script = EXAMPLES / "node_heap" / "map_leak.js"
        super().__init__([*prefix, NODE, *node_args, str(script), "--manual", "--kb", "4"])


@pytest.fixture
def node_targets():
    started: list[NodeTarget] = []

    def start(*prefix: str, node_args: tuple[str, ...] = ()) -> NodeTarget:
        target = NodeTarget(*prefix, node_args=node_args)
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
def test_planted_lock_symlink_does_not_empty_a_root_file(node_targets, tmp_path, nobody_in_shared_tmp):
    """Item 1: a symlink planted by nobody at the old predictable lock path (or anywhere in /tmp)
    must not make a root capture create or truncate what it points to."""
    victim = victim_file(tmp_path)
    if os.path.lexists(OLD_LOCK):
        os.unlink(OLD_LOCK)
    as_nobody(lambda: os.symlink(str(victim), OLD_LOCK))
    try:
        target = node_targets(node_args=FREE_PORT)
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


# ----------------------------------------------------------------------------- 3. stopped or traced targets

IDLE_PYTHON = "import time\nwhile True:\n    time.sleep(0.2)\n"
SEIZE = """
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_SEIZE = 0x4206  # traces without stopping the tracee
if libc.ptrace(PTRACE_SEIZE, int(sys.argv[1]), None, None) != 0:
    sys.exit(f"seize failed: {ctypes.get_errno()}")
print("seized", flush=True)
time.sleep(600)
"""


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/status") as fh:
        return next(line.split()[1] for line in fh if line.startswith("State:"))


def _tracer(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return int(next(line.split()[1] for line in fh if line.startswith("TracerPid:")))


def _start_python(spawn_kwargs: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", IDLE_PYTHON], start_new_session=True, **(spawn_kwargs or {}))


def _stop_them(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)
        proc.wait(timeout=10)


@pytest.mark.integration
def test_stopped_python_target_is_refused_and_survives(tmp_path):
    """Item 3: a SIGSTOPped target: one line, exit 2, nothing injected; it runs on after SIGCONT."""
    target = _start_python()
    try:
        time.sleep(0.3)  # let the interpreter start before stopping it
        os.kill(target.pid, signal.SIGSTOP)
        wait_for(lambda: _state(target.pid) == "T", 10, "the target to stop")
        done = memdoctor("snapshot", str(target.pid), "-o", str(tmp_path / "s.snap"), "--timeout", "5s")
        assert_one_line_error(done)
        assert "stopped" in done.stderr
        os.kill(target.pid, signal.SIGCONT)
        wait_for(lambda: _state(target.pid) in ("S", "R"), 10, "the target to run again")
        assert target.poll() is None
    finally:
        _stop_them([target])


@pytest.mark.integration
def test_traced_python_target_is_refused(tmp_path):
    """Item 3: a target another debugger traces (TracerPid set, not stopped) is refused too."""
    target = _start_python()
    tracer = subprocess.Popen([sys.executable, "-c", SEIZE, str(target.pid)], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        assert tracer.stdout.readline().strip() == "seized"
        assert _tracer(target.pid) == tracer.pid
        done = memdoctor("snapshot", str(target.pid), "-o", str(tmp_path / "s.snap"), "--timeout", "5s")
        assert_one_line_error(done)
        assert "traced by another debugger" in done.stderr
    finally:
        _stop_them([tracer, target])


@needs_node
@pytest.mark.integration
def test_stopped_node_target_is_refused_and_its_inspector_never_opens(node_targets, tmp_path):
    """Item 3 (and 5): SIGUSR1 to a stopped Node process stays pending and opens the inspector on
    SIGCONT, long after memdoctor gave up: nothing may be sent to a stopped target."""
    target = node_targets()
    os.kill(target.pid, signal.SIGSTOP)
    wait_for(lambda: _state(target.pid) == "T", 10, "the target to stop")
    done = memdoctor("snapshot", str(target.pid), "-o", str(tmp_path / "s.heapsnapshot"), "--timeout", "3s")
    os.kill(target.pid, signal.SIGCONT)
    assert_one_line_error(done)
    assert "stopped" in done.stderr
    assert target.command("grow-to 1") > 0  # it runs, and answered after the signal would have been handled
    assert inspector_ports(target.pid) == set()


# ----------------------------------------------------------------------------- 6. secrets in what memdoctor writes

PASSWORD, TOKEN, DSN_PASSWORD = "hunter2-pw", "tok-9f8e7d6c5b4a", "dsnpass77"


def test_redaction_rules():
    from memdoctor.redact import redact_argv, redact_command

    argv = ["python", "app.py", "--password", PASSWORD, f"--api-key={TOKEN}", f"TOKEN={TOKEN}", "--workers", "4",
            f"postgres://app:{DSN_PASSWORD}@db:5432/x", "-H", f"Authorization: Bearer {TOKEN}", "--keys", "10"]
    out = redact_argv(argv)
    text = " ".join(out)
    assert PASSWORD not in text and TOKEN not in text and DSN_PASSWORD not in text
    # what is not a secret stays, so the reader still knows what ran
    assert out[:3] == ["python", "app.py", "--password"] and "--workers 4" in text and "--keys 10" in text
    assert "postgres://app:***@db:5432/x" in text
    assert redact_command(f"node s.js --token {TOKEN}") == "node s.js --token ***"


@pytest.mark.integration
def test_gate_writes_no_secret_and_a_private_baseline(tmp_path):
    """Item 6: the trace, the baseline (mode 0600), the step summary and the JSON of a gate run on
    a command line that carries a password, a token and a DSN hold none of them."""
    trace, baseline, summary = tmp_path / "t.jsonl", tmp_path / "base.json", tmp_path / "summary.md"
    cmd = [sys.executable, "-c", "import time; time.sleep(1.5)", "--password", PASSWORD, f"API_TOKEN={TOKEN}",
           f"mysql://root:{DSN_PASSWORD}@localhost/db"]
    done = memdoctor("gate", "--duration", "1s", "--interval", "50ms", "-o", str(trace), "--summary", str(summary),
                     "--update-baseline", "--baseline", str(baseline), "--json", "--", *cmd)
    assert done.returncode in (0, 1), done.stderr
    assert trace.exists() and baseline.exists() and summary.exists()
    for path in (trace, baseline, summary):
        text = path.read_text()
        for secret in (PASSWORD, TOKEN, DSN_PASSWORD):
            assert secret not in text, (path.name, secret)
    assert "--password ***" in summary.read_text()
    assert stat.S_IMODE(baseline.stat().st_mode) == 0o600
    for secret in (PASSWORD, TOKEN, DSN_PASSWORD):
        assert secret not in done.stdout


# ----------------------------------------------------------------------------- 2. root in the target's directories

NOBODY_PYTHON = "import time\nleak = []\nwhile True:\n    leak.append(bytearray(64))\n    time.sleep(0.05)\n"
needs_nobody_python = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None
                                         or not os.path.exists(SYSTEM_PYTHON),
                                         reason="needs root, setpriv and /usr/bin/python3 to run a target as nobody")
needs_gdb = pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed (apt-get install gdb)")


@pytest.fixture
def nobody_python():
    proc = subprocess.Popen([*AS_NOBODY, SYSTEM_PYTHON, "-c", NOBODY_PYTHON], cwd="/", start_new_session=True)
    try:
        wait_for(lambda: os.stat(f"/proc/{proc.pid}").st_uid == NOBODY and _state(proc.pid) in ("S", "R"), 10,
                 "the target to run as nobody")
        yield proc
    finally:
        _stop_them([proc])


@needs_nobody_python
@pytest.mark.integration
def test_symlinks_swapped_into_the_staging_directory_are_never_followed_by_root(nobody_python, tmp_path):
    """Item 2: the target's user owns the staging directory, so it can swap any name in it for a
    symlink. Root writing request.json through such a link truncated and chowned the file it points
    to; root copying snapshot.json out handed over a file only root may read."""
    from memdoctor.heap.python import capture
    from memdoctor.heap.python.target import Staging, inspect_target
    from memdoctor.heap.runtimes import HeapError

    victim = victim_file(tmp_path)
    secret = tmp_path / "shadow"
    secret.write_text("root-only-secret\n")
    secret.chmod(0o600)
    staging = Staging(inspect_target(nobody_python.pid))
    try:
        st = os.lstat(staging.inner)
        assert st.st_uid == NOBODY and stat.S_IMODE(st.st_mode) == 0o700  # the target's own, private

        def plant() -> None:
            os.symlink(str(victim), os.path.join(staging.inner, "request.json"))
            os.symlink(str(secret), os.path.join(staging.inner, "snapshot.json"))

        as_nobody(plant)
        with contextlib.suppress(HeapError):
            staging.write("request.json", b'{"attacker": "wins"}')
        assert victim.read_text() == "root's precious data\n"
        assert os.stat(victim).st_uid == 0
        out = tmp_path / "out.snap"
        with contextlib.suppress(HeapError, TypeError):
            capture._move_out(staging, "snapshot.json", str(out))
        with contextlib.suppress(HeapError, TypeError, OSError):  # the old signature: (source path, output)
            capture._move_out(os.path.join(staging.inner, "snapshot.json"), str(out))
        assert not out.exists() or "root-only-secret" not in out.read_text()
    finally:
        staging.cleanup()
    assert not os.path.lexists(staging.inner)
    assert victim.read_text() == "root's precious data\n"


def _live_capture_staging(name: str) -> bool:
    """A capture's working directory (.memdoctor-PID-XXXXXXXX, heap/python/target.Staging) whose memdoctor still
    runs: another test's capture in progress on the other xdist worker, not something the capture under test left
    (that one has exited when the scan runs, and its directory must be gone). Seen in CI: a Python capture of a
    nobody target running beside the Node one made /tmp/.memdoctor-6031-e72a0ab0 between the two scans."""
    match = re.fullmatch(r"\.memdoctor-(\d+)-[0-9a-f]{8}", name)
    return bool(match) and os.path.exists(f"/proc/{match.group(1)}")


def _owned_or_writable_by(uid: int, shared: list[str], private: list[str]) -> set[str]:
    """Entries that `uid` owns or anyone may write: the top level of the shared directories (where a
    capture makes its working directory; deeper trees belong to other processes) and all of `private`."""
    paths = [os.path.join(d, name) for d in shared for name in os.listdir(d) if not _live_capture_staging(name)]
    for root in private:
        for dirpath, dirnames, filenames in os.walk(root):
            paths += [os.path.join(dirpath, name) for name in dirnames + filenames]
    found = set()
    for path in paths:
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if st.st_uid == uid or (st.st_mode & 0o002 and not stat.S_ISLNK(st.st_mode) and not st.st_mode & stat.S_ISVTX):
            found.add(path)
    return found


@needs_nobody_python
@needs_gdb
@pytest.mark.integration
def test_root_capture_of_a_nobody_python_target_leaves_nothing_of_nobody(nobody_python, tmp_path, nobody_in_shared_tmp):
    """Acceptance: after a root capture of a target running as nobody, no file owned or writable by
    nobody is left outside the target's own directories; the snapshot and its metadata are root's, 0600."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    watched = (["/tmp", "/dev/shm", "/var/tmp"], [str(out_dir)])
    before = _owned_or_writable_by(NOBODY, *watched)
    out = out_dir / "s.snap"
    memdoctor("snapshot", str(nobody_python.pid), "-o", str(out), "--timeout", "20s", check_code=0)
    assert nobody_python.poll() is None
    after = _owned_or_writable_by(NOBODY, *watched)
    assert after - before == set()
    for path in out_dir.iterdir():
        st = os.lstat(path)
        assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o600, path
    assert json.loads(out.read_text())  # a whole snapshot came through the target user's copy


# ----------------------------------------------------------------------------- 5. the inspector always closes

@needs_node
@pytest.mark.integration
def test_the_port_the_target_chose_is_used(node_targets, tmp_path):
    """Item 5: SIGUSR1 opens the target's --inspect-port, not always 9229 (port 0: a free one);
    memdoctor finds the port the target opened, captures, and closes it."""
    target = node_targets(node_args=FREE_PORT)
    target.command("grow-to 3")
    out = tmp_path / "s.heapsnapshot"
    memdoctor("snapshot", str(target.pid), "-o", str(out), "--timeout", "20s", check_code=0)
    assert out.stat().st_size > 0
    wait_for(lambda: inspector_ports(target.pid) == set(), 10, "the inspector to close")


@root_only
@needs_node
@pytest.mark.integration
def test_loopback_down_in_the_targets_namespace_sends_nothing(node_targets, tmp_path):
    """Item 5: in a network namespace whose loopback is down (`unshare -n`), the inspector would open
    on 127.0.0.1 where nobody can reach it, and stay open forever. Refused before SIGUSR1."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    target = node_targets("unshare", "-n")
    done = memdoctor("snapshot", str(target.pid), "-o", str(tmp_path / "s.heapsnapshot"), "--timeout", "5s")
    assert_one_line_error(done)
    assert "loopback" in done.stderr
    assert target.command("grow-to 1") > 0  # any late SIGUSR1 would have been handled by now
    assert inspector_ports(target.pid) == set()


def _kill_when_listening(target: NodeTarget, proc: subprocess.Popen, sig: int) -> None:
    """Send `sig` to memdoctor as soon as the target listens (right after SIGUSR1, before the watchdog)."""
    deadline = time.monotonic() + 30
    while not inspector_ports(target.pid):
        assert proc.poll() is None and time.monotonic() < deadline, "the inspector never opened"
    proc.send_signal(sig)
    proc.wait(timeout=30)


@needs_node
@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_memdoctor_killed_right_after_sigusr1_leaves_no_inspector_open(node_targets, tmp_path, sig):
    """Item 5: memdoctor killed (kill -9, or SIGTERM) between SIGUSR1 and arming the watchdog left the
    inspector open forever; killed later, until its watchdog's deadline (--timeout + 5 s = 65 s here).
    Now a guardian closes it (kill -9), the capture unwinds (SIGTERM), and the watchdog sees memdoctor gone."""
    target = node_targets(node_args=FREE_PORT)
    target.command("grow-to 3")
    proc = subprocess.Popen([sys.executable, "-m", "memdoctor", "snapshot", str(target.pid), "-o",
                             str(tmp_path / "k.heapsnapshot"), "--timeout", "60s"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cli_env())
    _kill_when_listening(target, proc, sig)
    wait_for(lambda: inspector_ports(target.pid) == set(), 20, "the inspector to close (the old watchdog: 65 s)")
    assert target.alive() and target.command("grow-to 4") > 0


UNWIND_AFTER_SIGUSR1 = r"""
import sys
from memdoctor.heap.runtimes import CaptureOptions
from memdoctor.heap.v8 import capture

import os

before = None
real_listeners = capture.insp.listeners
memdoctor_pid = os.getpid()  # the guardian is a fork of this process: it must see the real listeners


def listeners(pid):
    # The first call lists the ports before SIGUSR1; later ones run while the capture waits for
    # the inspector. Once it listens, a SIGTERM lands before the capture learns the port: the
    # capture unwinds (SystemExit) with the inspector open.
    global before
    found = real_listeners(pid)
    if os.getpid() != memdoctor_pid:
        return found
    if before is None:
        before = {item.inode for item in found}
    elif any(item.inode not in before for item in found):
        raise SystemExit(143)
    return found


capture.insp.listeners = listeners
capture.capture_series(int(sys.argv[1]), [sys.argv[2]], every_s=0.0, options=CaptureOptions(timeout_s=30))
"""


@needs_node
@pytest.mark.integration
def test_a_capture_unwound_after_sigusr1_before_the_port_is_known_leaves_no_inspector_open(node_targets, tmp_path):
    """Item 5: a SIGTERM between SIGUSR1 and learning the port unwound the capture with no port to
    close, and told the guardian "done": the inspector stayed open for ever (seen in a full run).
    Now the guardian is left to close it, as if memdoctor had died."""
    target = node_targets(node_args=FREE_PORT)
    target.command("grow-to 3")
    proc = subprocess.run([sys.executable, "-c", UNWIND_AFTER_SIGUSR1, str(target.pid),
                           str(tmp_path / "u.heapsnapshot")], env=cli_env(), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 143, proc.stderr[-2000:]
    wait_for(lambda: inspector_ports(target.pid) == set(), 20, "the inspector to close")
    assert target.alive() and target.command("grow-to 4") > 0


@root_only
@needs_node
@pytest.mark.integration
def test_a_root_capture_then_a_capture_by_the_targets_user(node_targets, tmp_path, nobody_in_shared_tmp):
    """Item 5: after a root capture, a capture by an unprivileged user (here nobody, of its own Node
    process) must work: the root capture left a lock nobody could open."""
    from memdoctor.heap.runtimes import CaptureOptions
    from memdoctor.heap.v8 import capture

    target = node_targets(*AS_NOBODY, node_args=FREE_PORT)
    target.command("grow-to 3")
    # The root capture in this process also imports what the capture needs: the interpreter's library
    # lives under /root here, which nobody cannot read.
    capture.capture(target.pid, str(tmp_path / "root.heapsnapshot"), options=CaptureOptions(timeout_s=30))
    theirs = Path(tempfile.mkdtemp(prefix="md-nobody-", dir="/tmp"))  # tmp_path is not reachable by nobody
    try:
        os.chown(theirs, NOBODY, NOBODY)
        out = theirs / "nobody.heapsnapshot"
        as_nobody(lambda: capture.capture(target.pid, str(out), options=CaptureOptions(timeout_s=30)))
        assert out.stat().st_uid == NOBODY and out.stat().st_size > 0
    finally:
        shutil.rmtree(theirs)
    wait_for(lambda: inspector_ports(target.pid) == set(), 10, "the inspector to close")


# ----------------------------------------------------------------------------- 4. the capture's memory cost

SMALL_OBJECTS_JS = r"""
const keep = [];
while (process.memoryUsage().heapUsed < 24 * 1024 * 1024) {
  for (let i = 0; i < 1000; i++) keep.push({ id: keep.length, name: 'user-' + keep.length, tags: [i, i + 1] });
}
const answer = () => `ok ${keep.length} ${process.memoryUsage().heapUsed}\n`;
process.stdin.setEncoding('utf8');
process.stdin.on('data', () => process.stdout.write(answer()));
process.stdout.write(`ready ${process.pid} ${process.memoryUsage().heapUsed}\n`);
"""


@root_only
@needs_node
@pytest.mark.integration
def test_a_heap_of_small_objects_is_refused_when_its_real_cost_does_not_fit(tmp_path):
    """Item 4: a heap of small objects (what leaks are made of) costs V8 11-15x its used heap to
    snapshot (benchmarks/v8_snapshot_cost.py); the old estimate, 5x, let this capture run under a
    cgroup limit with room for only 8x, and the target was OOM-killed. Now: refused, target untouched."""
    from .cgroup_util import make_memory_cgroup

    cgroup = make_memory_cgroup()
    target = None
    try:
        cgroup.set_limit(1 << 30)
        script = tmp_path / "small_objects.js"
        script.write_text(SMALL_OBJECTS_JS)
        target = Driven(["sh", "-c", f'echo $$ > "{cgroup.procs_file}" && exec "$0" "$@"', NODE, *FREE_PORT,
                         str(script)])
        heap_used = target.command("status")
        usage = int((cgroup.path / ("memory.current" if cgroup.version == 2 else "memory.usage_in_bytes")).read_text())
        cgroup.set_limit(usage + 8 * heap_used + (32 << 20))  # room for 8x + 32 MiB: the old estimate fits
        done = memdoctor("snapshot", str(target.pid), "-o", str(tmp_path / "s.heapsnapshot"), "--timeout", "60s")
        assert_one_line_error(done)
        assert "OOM" in done.stderr and "--force" in done.stderr
        assert target.alive() and target.command("status") > 0
        wait_for(lambda: inspector_ports(target.pid) == set(), 10, "the inspector to close")
    finally:
        if target is not None:
            target.kill()
        cgroup.remove()


# ----------------------------------------------------------------------------- 6. keys of small objects used as maps

SMALL_MAP_JS = r"""
const crypto = require('crypto');
const v8 = require('v8');
const fs = require('fs');
const [out1, out2, tokensFile] = process.argv.slice(2);
// Fewer than 32 keys, each a run-time token that looks like an identifier: data, not names.
const tokens = Array.from({ length: 1 }, () => 'tok' + crypto.randomBytes(8).toString('hex'));
fs.writeFileSync(tokensFile, tokens.join('\n'));
const sessions = {};
for (const t of tokens) sessions[t] = { cache: new Map() };
function grow(n) {
  for (let i = 0; i < n; i++) for (const t of tokens) sessions[t].cache.set('k' + i, { seen: i, body: 'x' + i });
}
grow(2000);
v8.writeHeapSnapshot(out1);
grow(20000);
v8.writeHeapSnapshot(out2);
"""


@needs_node
@pytest.mark.integration
def test_keys_of_a_small_object_used_as_a_map_are_not_printed(tmp_path):
    """Item 6: an object used as a map with fewer than 32 keys was not taken for a map, so a path
    through it printed its key (a session token here) without --show-values. A property name is a
    name only when the program's code spells it; a key made at run time is data."""
    from memdoctor.heap.v8.parser import read_snapshot
    from memdoctor.heap.v8.retainers import Namer, RetainerIndex

    script, tokens_file = tmp_path / "small_map.js", tmp_path / "tokens.txt"
    script.write_text(SMALL_MAP_JS)
    a, b = tmp_path / "a.heapsnapshot", tmp_path / "b.heapsnapshot"
    subprocess.run([NODE, str(script), str(a), str(b), str(tokens_file)], check=True, timeout=120)
    token = tokens_file.read_text().split()[0]
    snap = read_snapshot(str(b))
    namer = Namer(snap, RetainerIndex(snap))
    prop = snap.edge_type_code("property")
    steps = {}
    for source in range(snap.node_count):
        for edge in snap.edges_of(source):
            if int(snap.edge_type[edge]) == prop and snap.edge_name_text(edge) in (token, "cache"):
                steps[snap.edge_name_text(edge)] = namer._step_name(edge, source)
    assert set(steps) == {token, "cache"}
    assert steps[token] == "[key]"
    assert steps["cache"] == "cache"  # a name the code spells stays
    for args in ((), ("--json",)):
        assert token not in memdoctor("diff", str(a), str(b), "--top", "10", *args, check_code=0).stdout


@root_only
@needs_node
@pytest.mark.integration
def test_root_capture_of_a_nobody_node_target_leaves_nothing_of_nobody(node_targets, tmp_path,
                                                                       nobody_in_shared_tmp):
    """Acceptance: a root capture of a Node target running as nobody leaves no file owned or writable
    by nobody outside its own directories; the snapshot and its metadata are root's, 0600."""
    target = node_targets(*AS_NOBODY, node_args=FREE_PORT)
    target.command("grow-to 3")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    watched = (["/tmp", "/dev/shm", "/var/tmp"], [str(out_dir)])
    before = _owned_or_writable_by(NOBODY, *watched)
    out = out_dir / "s.heapsnapshot"
    memdoctor("snapshot", str(target.pid), "-o", str(out), "--timeout", "30s", check_code=0)
    assert _owned_or_writable_by(NOBODY, *watched) - before == set()
    assert sorted(p.name for p in out_dir.iterdir()) == ["s.heapsnapshot", "s.heapsnapshot.meta.json"]
    for path in out_dir.iterdir():
        st = os.lstat(path)
        assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o600, path
    assert target.alive()
    wait_for(lambda: inspector_ports(target.pid) == set(), 10, "the inspector to close")
