"""The memory limit from cgroup v1, v2 and hybrid file layouts built in a temporary directory."""

from pathlib import Path

from memdoctor.sampling.cgroup import CgroupSampler, parse_memory_stat, split_usage
from memdoctor.sampling.limits import (
    discover_limit,
    discover_limit_for_pid,
    oom_kill_count,
    parse_mountinfo,
    parse_proc_cgroup,
)

V1_UNLIMITED = "9223372036854771712\n"
MEMINFO = "MemTotal:       16384000 kB\nMemFree:        1000 kB\n"

MOUNTINFO_V2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
MOUNTINFO_V1 = (
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
)
MOUNTINFO_HYBRID = MOUNTINFO_V1 + (
    "41 31 0:38 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate\n"
)


def _mkfile(root: Path, rel: str, text: str) -> None:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _fs(tmp_path: Path) -> Path:
    _mkfile(tmp_path, "proc/meminfo", MEMINFO)
    return tmp_path


def test_parsers():
    entries = parse_proc_cgroup("12:memory:/docker/abc\n0::/system.slice/app.service\nbroken\n")
    assert [(e.hierarchy, e.controllers, e.path) for e in entries] == [
        ("12", ("memory",), "/docker/abc"), ("0", (), "/system.slice/app.service")]
    mounts = parse_mountinfo(MOUNTINFO_HYBRID)
    assert [(m.version, m.mountpoint) for m in mounts] == [
        (1, "/sys/fs/cgroup/cpu"), (1, "/sys/fs/cgroup/memory"), (2, "/sys/fs/cgroup/unified")]
    assert "memory" in mounts[1].options


def test_v2_smallest_limit_on_the_path_wins(tmp_path):
    root = _fs(tmp_path)
    base = "sys/fs/cgroup"
    _mkfile(root, f"{base}/memory.max", "max\n")  # the root cgroup has no memory.max in reality; harmless
    _mkfile(root, f"{base}/kubepods/memory.max", "1073741824\n")
    _mkfile(root, f"{base}/kubepods/pod1/memory.max", "536870912\n")
    _mkfile(root, f"{base}/kubepods/pod1/ctr/memory.max", "max\n")
    _mkfile(root, f"{base}/kubepods/pod1/ctr/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n")
    limit = discover_limit("0::/kubepods/pod1/ctr\n", MOUNTINFO_V2, str(root))
    assert limit.bytes == 512 * 1024**2
    assert limit.source.startswith("cgroup v2") and "pod1/memory.max" in limit.source
    assert limit.cgroup_dir.endswith("kubepods/pod1/ctr") and limit.version == 2
    assert oom_kill_count(limit.cgroup_dir, 2) == 2


def test_v2_unlimited_falls_back_to_physical_memory(tmp_path):
    root = _fs(tmp_path)
    _mkfile(root, "sys/fs/cgroup/app/memory.max", "max\n")
    limit = discover_limit("0::/app\n", MOUNTINFO_V2, str(root))
    assert limit.bytes == 16384000 * 1024
    assert "physical" in limit.source


def test_v1_limit_and_hierarchical_limit(tmp_path):
    root = _fs(tmp_path)
    mem = "sys/fs/cgroup/memory"
    _mkfile(root, f"{mem}/memory.limit_in_bytes", V1_UNLIMITED)
    _mkfile(root, f"{mem}/docker/memory.limit_in_bytes", "2147483648\n")
    _mkfile(root, f"{mem}/docker/abc/memory.limit_in_bytes", V1_UNLIMITED)
    _mkfile(root, f"{mem}/docker/abc/memory.stat", "cache 100\nrss 200\nhierarchical_memory_limit 2147483648\n")
    _mkfile(root, f"{mem}/docker/abc/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n")
    limit = discover_limit("4:memory:/docker/abc\n1:cpu:/\n", MOUNTINFO_V1, str(root))
    assert limit.bytes == 2 * 1024**3 and limit.version == 1
    assert oom_kill_count(limit.cgroup_dir, 1) == 5
    # The hierarchical limit alone (parents not visible, as inside a container) still gives the limit.
    (root / mem / "docker/memory.limit_in_bytes").write_text(V1_UNLIMITED)
    limit = discover_limit("4:memory:/docker/abc\n", MOUNTINFO_V1, str(root))
    assert limit.bytes == 2 * 1024**3 and "hierarchical_memory_limit" in limit.source


def test_v1_unlimited_everywhere(tmp_path):
    root = _fs(tmp_path)
    _mkfile(root, "sys/fs/cgroup/memory/memory.limit_in_bytes", V1_UNLIMITED)
    _mkfile(root, "sys/fs/cgroup/memory/job/memory.limit_in_bytes", V1_UNLIMITED)
    _mkfile(root, "sys/fs/cgroup/memory/job/memory.stat", f"hierarchical_memory_limit {V1_UNLIMITED}")
    limit = discover_limit("4:memory:/job\n", MOUNTINFO_V1, str(root))
    assert "physical" in limit.source and limit.bytes == 16384000 * 1024


def test_hybrid_host_takes_the_smaller_limit(tmp_path):
    root = _fs(tmp_path)
    _mkfile(root, "sys/fs/cgroup/memory/svc/memory.limit_in_bytes", "805306368\n")
    _mkfile(root, "sys/fs/cgroup/unified/svc/memory.max", "1073741824\n")
    limit = discover_limit("4:memory:/svc\n0::/svc\n", MOUNTINFO_HYBRID, str(root))
    assert limit.bytes == 768 * 1024**2 and limit.version == 1
    # And the other way round.
    (root / "sys/fs/cgroup/unified/svc/memory.max").write_text("268435456\n")
    limit = discover_limit("4:memory:/svc\n0::/svc\n", MOUNTINFO_HYBRID, str(root))
    assert limit.bytes == 256 * 1024**2 and limit.source.startswith("cgroup v2")


def test_mount_root_inside_a_container(tmp_path):
    # mountinfo's root field says the mount shows /docker/abc: /proc/PID/cgroup still says /docker/abc.
    root = _fs(tmp_path)
    info = "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro,relatime - cgroup cgroup rw,memory\n"
    _mkfile(root, "sys/fs/cgroup/memory/memory.limit_in_bytes", "536870912\n")
    limit = discover_limit("4:memory:/docker/abc\n", info, str(root))
    assert limit.bytes == 512 * 1024**2


def test_no_cgroup_at_all(tmp_path):
    root = _fs(tmp_path)
    limit = discover_limit("", "", str(root))
    assert "physical" in limit.source and limit.cgroup_dir is None


def test_discover_for_this_process():
    import os
    limit = discover_limit_for_pid(os.getpid())
    assert limit.bytes > 0 and limit.source


def test_cgroup_sampler_on_v2_and_v1_layouts(tmp_path):
    v2 = tmp_path / "v2"
    _mkfile(v2, "memory.current", "104857600\n")
    _mkfile(v2, "memory.max", "209715200\n")
    _mkfile(v2, "memory.stat", "anon 62914560\nfile 41943040\nkernel 1048576\ninactive_file 20971520\n")
    _mkfile(v2, "cgroup.procs", "1\n2\n")
    sampler = CgroupSampler(str(v2))
    s = sampler.sample()
    assert (s.usage, s.rss, s.cache, s.anon, s.kernel) == (100 << 20, 80 << 20, 40 << 20, 60 << 20, 1 << 20)
    assert sampler.limit()[0] == 200 << 20 and sampler.procs() == 2
    sampler.close()
    v1 = tmp_path / "v1"
    _mkfile(v1, "memory.usage_in_bytes", "104857600\n")
    _mkfile(v1, "memory.limit_in_bytes", V1_UNLIMITED)
    _mkfile(v1, "memory.stat", "cache 1\nrss 2\ntotal_cache 41943040\ntotal_rss 62914560\n"
                               "total_inactive_file 10485760\n")
    _mkfile(v1, "memory.kmem.usage_in_bytes", "2097152\n")
    sampler = CgroupSampler(str(v1))
    s = sampler.sample()
    assert (s.usage, s.rss, s.cache, s.anon, s.kernel) == (100 << 20, 90 << 20, 40 << 20, 60 << 20, 2 << 20)
    assert sampler.limit() is None
    sampler.close()


def test_memory_stat_parser_ignores_junk():
    assert parse_memory_stat("a 1\nb x\n\nc 3") == {"a": 1, "c": 3}
    assert split_usage(100, {}, 2).rss == 100
