"""Node.js heap snapshots by PID, the V8 snapshot engine and the three-snapshot diff.

Everything runs against real Node processes (examples/node_heap) with small heaps.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import (  # noqa: F401
    EXAMPLES,
    assert_caps_command_agrees,
    assert_one_line_error,
    cli_env,
    free_port,
    memdoctor,
    spawn,
    wait_for,
)
from .node_target import Driven, netns_of, private_netns

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")
HEAP_EXAMPLES = EXAMPLES / "node_heap"
SECRET = "planted-secret"


class Target(Driven):
    """A node example driven tick by tick over stdin (see examples/node_heap/harness.js)."""

    def __init__(self, script: str, *args: str, node_args: tuple[str, ...] = (), cwd: Path | None = None,
                 wrap: Callable[[list[str]], list[str]] | None = None) -> None:
        argv = [NODE, *node_args, str(HEAP_EXAMPLES / script), "--manual", *args]
        super().__init__(wrap(argv) if wrap else argv, cwd=cwd)

    def tick(self, n: int) -> int:
        return self.command(f"tick {n}")


@pytest.fixture
def targets():
    started: list[Target] = []

    def start(script: str, *args: str, **kwargs) -> Target:
        t = Target(script, *args, **kwargs)
        started.append(t)
        return t

    yield start
    for t in started:
        t.kill()


def inspector_ports(pid: int) -> set[int]:
    """Ports the target itself listens on (its inspector's, if open: the examples serve nothing else).
    The inspector's port is chosen free at run time (conftest sets --inspect-port=0), so it is found
    by the target's own sockets, not by a number."""
    from memdoctor.heap.v8.inspector import listeners, socket_inodes

    mine = socket_inodes(pid)
    return {item.port for item in listeners(pid) if item.inode in mine}


def inspector_listening(pid: int) -> bool:
    return bool(inspector_ports(pid))


def snapshot(pid: int, path: Path, *args: str, check_code: int | None = 0):
    return memdoctor("snapshot", str(pid), "-o", str(path), "--json", *args, check_code=check_code, timeout=120)


def three_snapshots(target: Target, tmp_path: Path, steps=(150, 150)) -> list[Path]:
    paths = []
    for i, step in enumerate((None, *steps)):
        if step:
            target.tick(step)
        path = tmp_path / f"s{i}.heapsnapshot"
        snapshot(target.pid, path)
        paths.append(path)
    return paths


EXPECTED = {
    "map_leak.js": ("ongoingDialogues (Map)", "module map_leak.js > ongoingDialogues (Map)", "seenMessageNumbers"),
    "sse_clients.js": ("clients (Array)", "module sse_clients.js > clients (Array)", "sentEventIds"),
    "emitter_listeners.js": ("price (Array of listeners)", "priceFeed (EventEmitter) > _events > price", "tickTimes"),
    "closure_cache.js": ("profileCache (Object used as map)", "closure loadProfile > profileCache", "requestNumbers"),
}


@pytest.mark.integration
@pytest.mark.parametrize("script", list(EXPECTED))
def test_three_snapshots_by_pid_name_the_leak(script, targets, tmp_path):
    target = targets(script, "--kb", "4")
    target.tick(50)
    paths = three_snapshots(target, tmp_path)
    for path in paths:
        assert (path.stat().st_mode & 0o777) == 0o600
        meta = json.loads(Path(str(path) + ".meta.json").read_text())
        assert meta["pid"] == target.pid and meta["runtime"] == "node" and meta["rss"] > 0
        assert (Path(str(path) + ".meta.json").stat().st_mode & 0o777) == 0o600
    assert target.alive()
    assert not inspector_listening(target.pid)

    proc = memdoctor("diff", *map(str, paths), "--json", "--top", "50", check_code=0)
    rows = json.loads(proc.stdout)["rows"]
    key, where, decoy = EXPECTED[script]
    top = rows[0]
    assert top["key"] == key, rows[:3]
    assert where in top["where"]
    assert top["kind"] == "container"
    assert top["count_before"] < top["count_middle"] < top["count_after"]
    assert top["count_after"] - top["count_before"] >= 290  # 300 entries were added (listeners: exactly)
    assert top["bytes_per_min"] > 0 and top["bytes_per_entry"] > 1000
    assert top["suggested_cap"] > 0
    assert_caps_command_agrees(top, "--node")
    # The decoy gains more entries but far fewer bytes, and ranks below.
    decoys = [r for r in rows if decoy in r["key"]]
    assert decoys, [r["key"] for r in rows]
    assert decoys[0]["count_growth"] > top["count_growth"]
    assert decoys[0]["bytes_growth"] < top["bytes_growth"] / 5
    assert SECRET not in proc.stdout and "example.com" not in proc.stdout and "dlg-" not in proc.stdout

    text = memdoctor("diff", *map(str, paths), check_code=0)
    assert key.split(" ")[0] in text.stdout
    assert SECRET not in text.stdout and "example.com" not in text.stdout
    assert target.alive() and not inspector_listening(target.pid)
    if script == "emitter_listeners.js":
        # The fix of an emitter's listeners is to remove them, not a cache's bound or age ("new LRUCache({ max:
        # 4295443 })" and "max age 11h59m" for an express app adding a listener per request, 2026-12-08).
        report = json.loads(memdoctor("report", *map(str, paths), "--format", "json", check_code=0).stdout)
        found = report["suspects"][0]["caps"]
        assert "emitter.off(" in found["node"]["listeners"] and "lru-cache" not in found["node"], found
        assert "ttl_s" not in found, found


@pytest.mark.integration
def test_allocation_sites(spawn, tmp_path):  # noqa: F811
    target = spawn([NODE, str(HEAP_EXAMPLES / "map_leak.js"), "--every", "5"])  # leaks on a timer
    time.sleep(0.3)  # node's start-up; not an assertion
    proc = snapshot(target.pid, tmp_path / "a.heapsnapshot", "--allocations", "2s")
    meta = json.loads(proc.stdout)
    sites = meta["allocation_sites"]
    # The leak allocates in payload() (harness.js), called by onMessage() (map_leak.js). Once V8's
    # optimising compiler inlines payload into onMessage (when depends on the CPU the test gets),
    # the sampling profiler charges the bytes to onMessage: either is the leak's own site.
    assert sites and (sites[0]["file"], sites[0]["function"]) in {("harness.js", "payload"),
                                                                  ("map_leak.js", "onMessage")}, sites[:3]
    assert sites[0]["line"] > 0 and sites[0]["bytes"] > 0
    assert target.poll() is None and not inspector_listening(target.pid)


# --- the engine ------------------------------------------------------------------------------


def _reference_retained(path: Path) -> tuple[list[int], list[int]]:
    """Dominators the straightforward way (Cooper, Harvey & Kennedy's iterative algorithm) over
    the JSON parsed with the standard library: weak edges and non-root shortcut edges skipped;
    nodes they do not reach hang under the root."""
    doc = json.loads(path.read_text())
    meta = doc["snapshot"]["meta"]
    nf, ef = len(meta["node_fields"]), len(meta["edge_fields"])
    etypes = meta["edge_types"][0]
    weak, shortcut = etypes.index("weak"), etypes.index("shortcut")
    nodes, edges = doc["nodes"], doc["edges"]
    n = len(nodes) // nf
    ec = meta["node_fields"].index("edge_count")
    ss = meta["node_fields"].index("self_size")
    et, to = meta["edge_fields"].index("type"), meta["edge_fields"].index("to_node")
    succ: list[list[int]] = [[] for _ in range(n)]
    e = 0
    for v in range(n):
        for _ in range(nodes[v * nf + ec]):
            t, w = edges[e * ef + et], edges[e * ef + to] // nf
            e += 1
            if t != weak and (t != shortcut or v == 0):
                succ[v].append(w)
    post: list[int] = []
    seen = [False] * n
    seen[0] = True
    stack = [(0, iter(succ[0]))]
    while stack:
        v, it = stack[-1]
        for w in it:
            if not seen[w]:
                seen[w] = True
                stack.append((w, iter(succ[w])))
                break
        else:
            post.append(v)
            stack.pop()
    number = {v: i for i, v in enumerate(post)}
    preds: list[list[int]] = [[] for _ in range(n)]
    for v in range(n):
        if seen[v]:
            for w in succ[v]:
                preds[w].append(v)
    idom: list[int | None] = [None] * n
    idom[0] = 0
    changed = True
    while changed:
        changed = False
        for b in reversed(post[:-1]):
            new = None
            for p in preds[b]:
                if idom[p] is None:
                    continue
                if new is None:
                    new = p
                    continue
                x, y = p, new
                while x != y:
                    while number[x] < number[y]:
                        x = idom[x]
                    while number[y] < number[x]:
                        y = idom[y]
                new = x
            if idom[b] != new:
                idom[b] = new
                changed = True
    retained = [nodes[v * nf + ss] for v in range(n)]
    for v in post:
        if v != 0:
            retained[idom[v]] += retained[v]
    for v in range(n):
        if not seen[v]:
            idom[v] = 0
            retained[0] += retained[v]
    return [int(x) for x in idom], retained


@pytest.mark.integration
def test_retained_sizes_equal_a_reference_computation(targets, tmp_path):
    target = targets("closure_cache.js", "--kb", "1")
    target.tick(30)
    path = tmp_path / "small.heapsnapshot"
    snapshot(target.pid, path)
    from memdoctor.heap.v8 import dominators
    from memdoctor.heap.v8.parser import read_snapshot

    snap = read_snapshot(str(path))
    dom = dominators.compute(snap)
    idom, retained = _reference_retained(path)
    assert snap.node_count > 10_000
    assert dom.idom.tolist() == idom
    assert dom.retained.tolist() == retained


@pytest.mark.integration
def test_parser_matches_the_json_parser(tmp_path, targets):
    target = targets("sse_clients.js", "--kb", "1")
    target.tick(10)
    path = tmp_path / "p.heapsnapshot"
    snapshot(target.pid, path)
    from memdoctor.heap.v8.parser import read_snapshot

    doc = json.loads(path.read_text())
    snap = read_snapshot(str(path))
    fields = doc["snapshot"]["meta"]["node_fields"]
    nodes = doc["nodes"]
    nf = len(fields)
    assert snap.node_id.tolist() == nodes[fields.index("id")::nf]
    assert snap.self_size.tolist() == nodes[fields.index("self_size")::nf]
    assert snap.edge_to.tolist() == [x // nf for x in doc["edges"][2::3]]
    assert [snap.strings[i] for i in range(len(doc["strings"]))] == doc["strings"]


@pytest.mark.integration
def test_readers_for_heapsnapshot_signal_and_write_heap_snapshot(targets, tmp_path):
    target = targets("map_leak.js", "--kb", "4", node_args=("--heapsnapshot-signal=SIGUSR2",), cwd=tmp_path)
    files = []
    for step in (20, 150, 150):
        target.tick(step)
        before = set(tmp_path.glob("*.heapsnapshot"))
        os.kill(target.pid, signal.SIGUSR2)
        wait_for(lambda b=before: len(set(tmp_path.glob("*.heapsnapshot")) - b) == 1, 30, "a signal snapshot")
        new = (set(tmp_path.glob("*.heapsnapshot")) - before).pop()
        target.tick(0)  # the snapshot is written synchronously: it is complete once the loop answers
        files.append(new)
    rows = json.loads(memdoctor("diff", *map(str, files), "--json", check_code=0).stdout)["rows"]
    assert rows[0]["key"] == "ongoingDialogues (Map)"
    # Object ids are stable in these files: the allocated-between-snapshots view is there too.
    assert rows[0]["new_objects"] > 100

    script = tmp_path / "write.js"
    script.write_text(
        "const v8 = require('v8'); const cache = new Map(); let i = 0;\n"
        "function grow(n) { for (let k = 0; k < n; k++, i++) cache.set('k' + i, { v: new Array(200).fill(i) }); }\n"
        f"grow(10); v8.writeHeapSnapshot({str(tmp_path / 'w1.heapsnapshot')!r});\n"
        f"grow(300); v8.writeHeapSnapshot({str(tmp_path / 'w2.heapsnapshot')!r});\n")
    subprocess.run([NODE, str(script)], check=True, timeout=60)
    rows = json.loads(memdoctor("diff", str(tmp_path / "w1.heapsnapshot"), str(tmp_path / "w2.heapsnapshot"),
                                "--json", "--limit", "512MB", check_code=0).stdout)["rows"]
    assert rows[0]["key"] == "cache (Map)" and rows[0]["count_growth"] == 300
    assert rows[0]["suggested_cap"] is not None


# --- bad input and faults ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_snapshots(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("v8")
    t = Target("map_leak.js", "--kb", "2")
    try:
        paths = three_snapshots(t, tmp, steps=(20, 20))
    finally:
        t.kill()
    return paths


@pytest.mark.integration
def test_truncated_and_corrupt_snapshots(small_snapshots, tmp_path):
    data = small_snapshots[1].read_bytes()
    cases = {
        "truncated": data[: len(data) // 2],
        "truncated-strings": data[:-40],
        "corrupt-number": data.replace(b'"nodes":[', b'"nodes":[x', 1),
        "bad-header": b'{"snapshot":{"meta":{}}, "nodes":[]}',
        "empty": b"",
    }
    for name, content in cases.items():
        bad = tmp_path / f"{name}.heapsnapshot"
        bad.write_bytes(content)
        proc = memdoctor("diff", str(small_snapshots[0]), str(bad))
        assert_one_line_error(proc)


@pytest.mark.integration
def test_snapshots_of_different_processes_are_refused(small_snapshots, targets, tmp_path):
    other = targets("map_leak.js", "--kb", "2")
    path = tmp_path / "other.heapsnapshot"
    snapshot(other.pid, path)
    proc = memdoctor("diff", str(small_snapshots[0]), str(path))
    assert_one_line_error(proc)
    assert "different processes" in proc.stderr


@pytest.mark.integration
def test_non_node_pid_is_refused(tmp_path):
    sleeper = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        proc = snapshot(sleeper.pid, tmp_path / "x.heapsnapshot", check_code=None)
        assert_one_line_error(proc)
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.integration
def test_port_in_use_names_its_holder_and_sends_nothing(targets, tmp_path):
    port = free_port()  # the target's --inspect-port, taken by another process before the capture
    target = targets("map_leak.js", node_args=(f"--inspect-port={port}",))
    holder = subprocess.Popen([sys.executable, "-c",
                               "import socket,time,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, "
                               f"socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', {port})); s.listen(); "
                               "print('up', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "up"
        proc = snapshot(target.pid, tmp_path / "x.heapsnapshot", check_code=None)
        assert_one_line_error(proc)
        assert f"PID {holder.pid}" in proc.stderr
        assert target.alive()
        assert target.tick(1) > 0  # the target still answers: no inspector was started
        assert not (tmp_path / "x.heapsnapshot").exists()
    finally:
        holder.kill()
        holder.wait()
    assert not inspector_listening(target.pid)


@pytest.mark.integration
def test_inspect_port_on_the_command_line_wins_over_node_options(targets):
    """Node reads NODE_OPTIONS first and its command line after, so `--inspect-port` on the command line
    is the port SIGUSR1 opens. memdoctor read them the other way round and, for a target started with
    NODE_OPTIONS=--inspect-port=0 and `--inspect-port=N`, waited for a port of Node's choosing while
    N was the one to check for another holder."""
    from memdoctor.heap.v8.capture import _expected_port

    assert "--inspect-port=0" in os.environ["NODE_OPTIONS"]  # conftest's default for every Node target
    port = free_port()
    target = targets("map_leak.js", node_args=(f"--inspect-port={port}",))
    assert _expected_port(target.pid) == port
    assert _expected_port(targets("map_leak.js").pid) is None  # port 0: Node picks one when it opens


@pytest.mark.integration
def test_already_open_inspector_is_reused_and_left_open(targets, tmp_path):
    target = targets("map_leak.js", node_args=("--inspect=127.0.0.1:0",))
    wait_for(lambda: inspector_ports(target.pid), 10, "the --inspect port")
    before = inspector_ports(target.pid)
    meta = json.loads(snapshot(target.pid, tmp_path / "r.heapsnapshot").stdout)
    assert meta["inspector"].startswith("reused")
    assert inspector_ports(target.pid) == before  # left open, and SIGUSR1 opened no second port


@pytest.mark.integration
def test_blocked_target_with_an_open_inspector_is_given_up_at_timeout(targets, tmp_path):
    """Issue 19 item 4: V8 answers protocol calls on the main thread, so a target inside a long
    synchronous call answers nothing until it returns. A call waited up to 10 s whatever --timeout
    said (a target blocked 8 s held `snapshot --timeout 2s` for 8.8 s). Now no call waits past
    --timeout: one line, exit 2, no file, the target runs on with its own inspector still open."""
    # In a network namespace of its own (as root): the capture lock, which memdoctor waits for at most
    # --timeout, is then not held by another test's capture.
    target = targets("map_leak.js", node_args=("--inspect=127.0.0.1:0",), wrap=private_netns)
    wait_for(lambda: inspector_ports(target.pid), 10, "the --inspect port")
    before = inspector_ports(target.pid)
    target.send("block 3600")  # blocked for the whole test (killed at the end)
    out = tmp_path / "blocked.heapsnapshot"
    proc = snapshot(target.pid, out, "--timeout", "1s", check_code=None)
    assert_one_line_error(proc)
    assert "did not answer its inspector within --timeout 1 s" in proc.stderr, proc.stderr
    assert not out.exists() and not Path(str(out) + ".partial").exists()
    assert target.alive() and inspector_ports(target.pid) == before


@pytest.mark.integration
def test_target_blocking_mid_capture_has_its_inspector_closed_when_it_answers(targets, tmp_path):
    """Issue 19 items 4 and 5: the target blocks while memdoctor holds the inspector it opened (here
    during --allocations). memdoctor gives up at --timeout instead of waiting, and the inspector is
    closed once the target answers again (the watchdog, or the guardian memdoctor hands it to).
    Meanwhile another Node process in the same network namespace can be captured: the guardian does
    not keep the capture lock while it waits for the stuck target."""
    target = targets("map_leak.js", "--kb", "4", wrap=private_netns)  # its own capture lock: see above
    target.tick(20)
    out = tmp_path / "mid.heapsnapshot"
    proc = subprocess.Popen([sys.executable, "-m", "memdoctor", "snapshot", str(target.pid), "-o", str(out),
                             "--allocations", "60s", "--timeout", "2s"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env())
    wait_for(lambda: inspector_listening(target.pid) or proc.poll() is not None, 60, "the inspector to open")
    target.send("block 30")  # longer than --timeout, so some call of memdoctor's meets it
    stdout, stderr = proc.communicate(timeout=120)
    assert_one_line_error(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    assert "did not answer its inspector within --timeout 2 s" in stderr, stderr
    assert not out.exists() and not Path(str(out) + ".partial").exists()
    other = targets("map_leak.js", "--kb", "4", wrap=lambda argv: netns_of(target.pid, argv))  # the same lock
    meta = json.loads(snapshot(other.pid, tmp_path / "other.heapsnapshot", "--timeout", "10s").stdout)
    assert meta["pid"] == other.pid and not inspector_listening(other.pid)
    assert target.answer(120) > 0  # the block ended: the target runs on
    wait_for(lambda: not inspector_listening(target.pid), 60, "the inspector to close after the block")
    assert target.alive() and target.tick(1) > 0


@pytest.mark.integration
def test_target_exiting_mid_capture(targets, tmp_path):
    target = targets("map_leak.js", "--kb", "16")
    target.command("grow-to 60")
    out = tmp_path / "gone.heapsnapshot"
    proc = subprocess.Popen([sys.executable, "-m", "memdoctor", "snapshot", str(target.pid), "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
    wait_for(lambda: Path(str(out) + ".partial").exists() or proc.poll() is not None, 60, "the capture to start")
    target.kill()
    stdout, stderr = proc.communicate(timeout=60)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    assert_one_line_error(done)
    assert "exited" in stderr
    assert not out.exists() and not Path(str(out) + ".partial").exists()


@pytest.mark.integration
def test_watchdog_closes_the_inspector_when_memdoctor_is_killed(targets, tmp_path):
    # Its own capture lock (see above): another worker's capture in the host's namespace held it up to 8 s of
    # this --timeout's 10 (a review measured it under three xdist workers), and a longer hold fails the test.
    target = targets("map_leak.js", "--kb", "16", wrap=private_netns)
    target.command("grow-to 40")
    out = tmp_path / "k.heapsnapshot"
    # --timeout 10s: the watchdog closes the inspector 15 s after memdoctor last armed it. (With 2 s,
    # a target starved by a loaded machine could miss the deadline of a call before the capture.)
    proc = subprocess.Popen([sys.executable, "-m", "memdoctor", "snapshot", str(target.pid), "-o", str(out),
                             "--timeout", "10s"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=cli_env(),
                            text=True)
    wait_for(lambda: Path(str(out) + ".partial").exists() or proc.poll() is not None, 60, "the capture to start")
    assert proc.poll() is None, proc.communicate()[1]
    proc.kill()  # kill -9: no cleanup runs in memdoctor
    proc.wait()
    assert inspector_listening(target.pid)
    wait_for(lambda: not inspector_listening(target.pid), 40, "the watchdog to close the inspector")
    assert target.alive() and target.tick(1) > 0


@pytest.mark.integration
def test_no_permission_to_signal(targets, tmp_path):
    """memdoctor run by an unprivileged user: the snapshot command's function, wrapped as the CLI
    wraps it, in a forked child that dropped to nobody (the interpreter here lives under /root,
    so a fresh `python -m memdoctor` cannot start as nobody)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to become another user")
    import typer

    from memdoctor.commands.common import handle_errors
    from memdoctor.heap.runtimes import CaptureOptions
    from memdoctor.heap.v8 import capture

    target = targets("map_leak.js")
    command = handle_errors(lambda: capture.capture(target.pid, "/tmp/np.heapsnapshot", options=CaptureOptions()))
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        code = 3
        try:
            os.dup2(write_end, 2)
            sys.stderr = os.fdopen(2, "w")
            os.setgid(65534)
            os.setuid(65534)
            command()
            code = 0
        except typer.Exit as exc:
            code = exc.exit_code
        except BaseException as exc:
            os.write(2, f"child failed: {exc!r}\n".encode())
        finally:
            sys.stderr.flush()
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as fh:
        stderr = fh.read()
    _, status = os.waitpid(child, 0)
    done = subprocess.CompletedProcess(["memdoctor"], os.waitstatus_to_exitcode(status), "", stderr)
    assert_one_line_error(done)
    assert "no permission to signal" in stderr
    assert target.alive() and not inspector_listening(target.pid)


@pytest.mark.integration
def test_port_helper_reports_listeners():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        from memdoctor.heap.v8.inspector import holder_of, listeners

        port = s.getsockname()[1]
        item = next(x for x in listeners(os.getpid()) if x.port == port)
        assert holder_of(item.inode)[0] == os.getpid()
    finally:
        s.close()
    time.sleep(0)


@pytest.mark.integration
def test_values_only_with_show_values(small_snapshots):
    paths = list(map(str, small_snapshots))
    warning = "--show-values: the lines below are VALUES from the heap"
    for args in ((), ("--json",)):
        quiet = memdoctor("diff", *paths, "--top", "5", *args, check_code=0)
        assert "dlg-" not in quiet.stdout + quiet.stderr and warning not in quiet.stdout
    shown = memdoctor("diff", *paths, "--top", "5", "--show-values", check_code=0)
    assert warning in shown.stdout
    # The newest Map keys, in insertion order: dialogue ids of the last tick.
    assert "ongoingDialogues (Map), newest entries:" in shown.stdout
    assert shown.stdout.count("'dlg-") == 3 and "→ <Object>" in shown.stdout
    result = json.loads(memdoctor("diff", *paths, "--top", "5", "--show-values", "--json", check_code=0).stdout)
    assert result["values_shown"] is True
    top = next(r for r in result["rows"] if r["key"] == "ongoingDialogues (Map)")
    assert len(top["sample_values"]) == 3 and all(v.startswith("'dlg-") for v in top["sample_values"])


@pytest.mark.integration
def test_a_leak_through_the_global_object_is_a_counted_container(targets, tmp_path):
    """Issue 21 item 2: properties added to the global object showed as "new objects kept by (global /)",
    no count, no name. The global object is now a container whose properties are counted (never named:
    its keys are data, like an object used as a map's)."""
    target = targets("global_leak.js", "--kb", "4")
    target.tick(50)
    paths = three_snapshots(target, tmp_path)
    rows = json.loads(memdoctor("diff", *map(str, paths), "--json", "--top", "20", check_code=0).stdout)["rows"]
    top = rows[0]
    assert top["key"] == "globalThis (global object)", [r["key"] for r in rows[:3]]
    assert top["kind"] == "container"
    assert top["count_before"] < top["count_middle"] < top["count_after"]
    assert 290 <= top["count_after"] - top["count_before"] <= 310  # 300 properties were added
    assert top["bytes_per_entry"] > 1000
    assert not any("(global /" in r["key"] for r in rows)
    assert not any("session_" in r["key"] + r["where"] or "secret" in r["key"] + r["where"] for r in rows)


@pytest.mark.integration
def test_a_series_in_one_session_keeps_object_ids(spawn, tmp_path):  # noqa: F811
    """`--count 3` takes the three snapshots in one inspector session: V8 keeps its object ids, so
    the diff also lists what was allocated between 1 and 2 and is still alive in 3 (memlab's view),
    which separate captures cannot (each session renumbers)."""
    target = spawn([NODE, str(HEAP_EXAMPLES / "map_leak.js"), "--every", "20", "--kb", "4"])
    base = tmp_path / "series.heapsnapshot"
    out = memdoctor("snapshot", str(target.pid), "-o", str(base), "--count", "3", "--every", "1.5s", "--json",
                    check_code=0, timeout=120)
    metas = json.loads(out.stdout)
    paths = [tmp_path / f"series.{i}.heapsnapshot" for i in (1, 2, 3)]
    assert [m["series"]["index"] for m in metas] == [1, 2, 3] and all(p.exists() for p in paths)
    assert target.poll() is None and not inspector_listening(target.pid)
    result = json.loads(memdoctor("diff", *map(str, paths), "--json", check_code=0).stdout)
    assert not any("renumbered" in note for note in result["notes"]), result["notes"]
    top = result["rows"][0]
    assert top["key"] == "ongoingDialogues (Map)", [r["key"] for r in result["rows"][:3]]
    assert top["new_objects"] > 0 and top["new_objects_method"].startswith("allocated between snapshots 1 and 2")
    # Between the first and the last snapshot V8's sampling heap profiler ran: the last metadata says where
    # what is still alive was allocated, and `report` prints it (code locations only, never a value).
    sites = metas[-1]["allocation_sites"]
    assert sites and all(set(site) == {"function", "file", "line", "bytes"} for site in sites)
    assert any(site["file"] in ("harness.js", "map_leak.js") for site in sites[:3]), sites[:5]
    assert "allocation_sites" not in metas[0] and "allocation_sites" not in metas[1]
    report = memdoctor("report", *map(str, paths), "--format", "json", check_code=0)
    assert json.loads(report.stdout)["heap"]["allocation_sites"][0] == sites[0]
    text = memdoctor("report", *map(str, paths), check_code=0).stdout
    assert "allocated since the first snapshot and still alive" in text and "memdoctor-planted-secret" not in text
