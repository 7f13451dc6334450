# healthy: a read-only lookup service over an 8 MB mmap'd index file (MADV_RANDOM, cold page cache, so
# each lookup faults in one 4 KB page); random lookups touch pages, so RSS (file-backed) grows as
# 1-exp(-t/tau), tau ~ 240 s, bounded by the file size. 100 MB heap ballast.
import mmap, os, random, tempfile, time
# A private directory (mode 0700) of our own: a fixed name under /tmp would follow a symlink another user planted.
path = os.path.join(tempfile.mkdtemp(prefix="memdoctor_"), "memdoctor_index8.bin")
size = 8 * 1024 * 1024
with open(path, "xb") as f:
    f.write(os.urandom(size))
os.system("sync")
fd = os.open(path, os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
ballast = [b"y" * (1 << 20) for _ in range(100)]
m = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
m.madvise(mmap.MADV_RANDOM)
npages = size // 4096
rate = npages / 240.0          # lookups (pages) per second
rng = random.Random(2)
acc = 0; debt = 0.0
while True:
    debt += rate * 0.1
    while debt >= 1:
        debt -= 1
        acc ^= m[rng.randrange(size)]
    time.sleep(0.1)
