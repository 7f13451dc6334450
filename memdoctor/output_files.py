"""Files memdoctor writes at a path the user gave: traces (-o), snapshots, reports, baselines, JUnit.

memdoctor often runs as root, and often writes where another user can write too: /tmp, or the
directories of the service it inspects, whose own user (possibly the compromised process under
inspection) can plant a symbolic link or a hard link named like the file root is about to write,
pointing at /etc/shadow. ARCHITECTURE.md's privilege rule: root never creates, opens, truncates or
moves a path inside a directory another user can write except through O_NOFOLLOW and a verified
directory descriptor. So every output is reached the same way:

- the path is resolved one component at a time with openat(O_NOFOLLOW), and a symbolic link is
  followed only when it sits in a directory no other user can write, or memdoctor's own user
  made it (the rule Linux's fs.protected_symlinks applies in sticky directories, applied to every
  directory another user can write, sticky or not, and whatever that sysctl says);
- the file is opened through the directory's descriptor with O_NOFOLLOW and O_NONBLOCK (a FIFO
  planted there cannot block memdoctor), and what was opened is checked on the descriptor: in a
  directory another user can write, it must be memdoctor's own user's, with no other hard link (a
  hard link to a file of root's is that very file: truncating it would truncate root's file);
- nothing is truncated before that check, and a trace is truncated only when its first line is
  written, so a command that fails before recording anything keeps the older file of that name.

Every refusal is a one-line OutputPathError (exit 2) naming the path and what was found.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from memdoctor.errors import MemdoctorError

IS_A_DIRECTORY = "it is a directory; give a file name"

# The most symbolic links one path may pass through: Linux's own limit for one lookup (MAXSYMLINKS,
# path_resolution(7)); a loop of links ends here with the error the kernel would give.
MAX_SYMLINKS = 40


class OutputPathError(MemdoctorError, OSError):
    """An output path memdoctor will not write (a planted link, another user's file, not a file)."""

    def __init__(self, code: int, path: str, reason: str) -> None:
        super().__init__(code, f"cannot write {path}: {reason}")
        self.path, self.reason = path, reason

    def __str__(self) -> str:
        return str(self.strerror)


def reason_of(exc: OSError) -> str:
    """Why an output could not be written, for a one-line message that names the path itself."""
    return getattr(exc, "reason", None) or exc.strerror or str(exc)


def others_can_write(st: os.stat_result) -> bool:
    """Whether a user other than memdoctor's own (and root) can create or swap names in this directory."""
    if st.st_uid not in (os.geteuid(), 0):
        return True  # whatever its mode says now: its owner can chmod it back to writable at any moment
    return bool(st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _components(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


@dataclass
class OutputFile:
    """A verified place to write: the directory's descriptor and the file's name in it."""

    path: str
    dir_fd: int
    name: str
    shared: bool  # the directory is one another user can write: the strict checks apply
    kernel_link: bool = False  # a link of /proc's (/dev/stdout -> /proc/self/fd/1): opened as the kernel has it

    def close(self) -> None:
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_opened(self, fd: int, *, theirs_ok: bool = False) -> os.stat_result:
        st = os.fstat(fd)
        problem = None
        if self.shared and theirs_ok and not stat.S_ISREG(st.st_mode):
            problem = "it is not a regular file"
        elif self.shared and st.st_uid != os.geteuid() and not theirs_ok:
            problem = (f"it belongs to another user (uid {st.st_uid}) in a directory other users can write; "
                       "give a new name or another directory")
        elif self.shared and st.st_nlink > 1:
            problem = ("it has other hard links, in a directory other users can write (writing it would "
                       "write them); give a new name or another directory")
        if problem:
            os.close(fd)
            raise OutputPathError(errno.EPERM, self.path, problem)
        return st

    def open(self, *, mode: int = 0o600, truncate: bool = True, append: bool = False,
             theirs_ok: bool = False) -> int:
        """A write descriptor on the file (created with `mode`), checked before anything is truncated.
        `theirs_ok`: an append to a file another user owns and is meant to read (a CI runner's step summary
        under sudo), still never through a link and never one with other hard links."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC
        if not self.kernel_link:
            flags |= os.O_NOFOLLOW
        if append:
            flags |= os.O_APPEND
        try:
            fd = os.open(self.name, flags, mode, dir_fd=self.dir_fd)
        except OSError as exc:
            raise self._error(exc) from None
        st = self._check_opened(fd, theirs_ok=theirs_ok and append and not truncate)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        if not stat.S_ISREG(st.st_mode):
            return fd  # /dev/null, /dev/stdout, a FIFO of one's own: the user's choice, nothing to truncate
        if truncate:
            os.ftruncate(fd, 0)
            if st.st_uid == os.geteuid():
                # A private output replacing an older file of that name: not readable by more than `mode` lets
                # (the old file kept its mode through O_CREAT); never made more readable than it was.
                os.fchmod(fd, stat.S_IMODE(st.st_mode) & mode)
        return fd

    def replace_with(self, write: Callable[[BinaryIO], None], *, mode: int = 0o600) -> None:
        """Write a new file under a private temporary name beside it, then rename it over the name:
        readers never see half a file. The rename replaces the directory entry (never a link's target)."""
        if self.kernel_link:  # /dev/stdout and its kin: there is no directory of its own to rename in
            with os.fdopen(self.open(mode=mode), "wb") as fh:
                write(fh)
            return
        self._check_existing()
        tmp = f"{self.name}.partial"
        self._remove_stale(tmp)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                         dir_fd=self.dir_fd)
        except OSError as exc:
            raise OutputPathError(exc.errno or errno.EIO, f"{self.path}.partial", exc.strerror or str(exc)) from None
        done = False
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
            done = True
        finally:
            if not done:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=self.dir_fd)

    def discard(self, fd: int) -> None:
        """Close `fd` and remove the file it is, if the name still leads to that file (and not a swapped one)."""
        try:
            st = os.fstat(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(OSError):
            now = os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)
            if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
                os.unlink(self.name, dir_fd=self.dir_fd)

    def _remove_stale(self, tmp: str) -> None:
        """A FILE.partial left by a memdoctor that was killed mid-write is removed; anything else there is not
        ours to remove (the O_EXCL create below then fails with a one-line error)."""
        try:
            st = os.stat(tmp, dir_fd=self.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_nlink == 1:
            os.unlink(tmp, dir_fd=self.dir_fd)

    def _check_existing(self) -> None:
        try:
            st = os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            raise OutputPathError(errno.EISDIR, self.path, IS_A_DIRECTORY)
        if self.shared and (not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid()):
            raise OutputPathError(errno.EPERM, self.path, "it is not a file of memdoctor's user, in a directory "
                                  "other users can write; give a new name or another directory")

    def _error(self, exc: OSError) -> OutputPathError:
        if exc.errno == errno.ELOOP:
            return OutputPathError(exc.errno, self.path, "it is a symbolic link in a directory other users can "
                                   "write (or a loop of links)")
        if exc.errno == errno.EISDIR:
            return OutputPathError(exc.errno, self.path, IS_A_DIRECTORY)
        if exc.errno == errno.ENXIO:
            return OutputPathError(exc.errno, self.path, "it is not a regular file")
        return OutputPathError(exc.errno or errno.EIO, self.path, exc.strerror or str(exc))


def _open_root(absolute: bool) -> int:
    return os.open("/" if absolute else ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def _on_procfs(st: os.stat_result) -> bool:
    """/proc's links (/proc/self/fd/1, /proc/PID/root) are the kernel's, not text: "pipe:[N]", or "/" of another
    mount namespace. They are opened as the kernel resolves them; /proc is no directory another user can write."""
    try:
        return st.st_dev == os.stat("/proc").st_dev
    except OSError:
        return False


def _walk(path: str, *, make_dirs: bool) -> tuple[int, str | None, bool]:
    """(directory fd, last name or None, follow the last name as the kernel does) for `path`, resolved link by
    link; with `make_dirs`, missing directories are made (0755, through the fd of their parent) and the whole
    path is a directory (the name is None)."""
    dir_fd = _open_root(path.startswith("/"))
    pending = _components(path)
    hops = 0
    try:
        while pending:
            name = pending.pop(0)
            last = not pending and not make_dirs
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                if last:
                    return dir_fd, name, False
                if not make_dirs:
                    raise OutputPathError(errno.ENOENT, path, f"no directory {name!r} on the way") from None
                os.mkdir(name, 0o755, dir_fd=dir_fd)  # never follows a link planted in its place: EEXIST
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            parent = os.fstat(dir_fd)
            if stat.S_ISLNK(st.st_mode) and _on_procfs(parent):
                if last:
                    return dir_fd, name, True
                child = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)  # the kernel's own link: /proc/PID/root
                os.close(dir_fd)
                dir_fd = child
                continue
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise OutputPathError(errno.ELOOP, path, "too many levels of symbolic links")
                # Read the link through a descriptor on it, checked on that descriptor: a name checked and then
                # read again could be swapped in between (renameat2 RENAME_EXCHANGE, in a directory others write).
                link_fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
                try:
                    lst = os.fstat(link_fd)
                    if not stat.S_ISLNK(lst.st_mode):
                        pending.insert(0, name)  # swapped for a file or directory since: look again
                        continue
                    if others_can_write(parent) and (lst.st_uid != os.geteuid() or lst.st_nlink > 1):
                        why = ("another user made" if lst.st_uid != os.geteuid() else
                               "with another hard link (another user can link one of root's links)")
                        raise OutputPathError(errno.ELOOP, path, f"{name!r} is a symbolic link {why} in a "
                                              "directory other users can write")
                    target = os.readlink("", dir_fd=link_fd)
                finally:
                    os.close(link_fd)
                if target.startswith("/"):
                    os.close(dir_fd)
                    dir_fd = _open_root(True)
                pending = _components(target) + pending
                continue
            if last:
                return dir_fd, name, False
            try:
                child = os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=dir_fd)
            except OSError as exc:
                what = "is not a directory" if exc.errno == errno.ENOTDIR else (exc.strerror or str(exc))
                raise OutputPathError(exc.errno or errno.EIO, path, f"{name!r} {what}") from None
            os.close(dir_fd)
            dir_fd = child
        if not make_dirs:
            raise OutputPathError(errno.EISDIR, path, IS_A_DIRECTORY)
        return dir_fd, None, False
    except BaseException as exc:
        os.close(dir_fd)
        if isinstance(exc, OSError) and not isinstance(exc, OutputPathError):
            # A directory on the way memdoctor's user cannot search, one it cannot make, a loop the kernel saw.
            raise OutputPathError(exc.errno or errno.EIO, path, exc.strerror or str(exc)) from None
        raise


def output_file(path: str) -> OutputFile:
    """Resolve `path` for writing, link by link, refusing links another user could have planted."""
    if not path or path.endswith("/"):
        raise OutputPathError(errno.EISDIR, path or "(empty name)", "give a file name")
    dir_fd, name, kernel_link = _walk(path, make_dirs=False)
    assert name is not None
    return OutputFile(path, dir_fd, name, others_can_write(os.fstat(dir_fd)), kernel_link=kernel_link)


def output_dir(path: str) -> str:
    """Make the directory `path` (and the missing ones above it) as every output is reached: never through a
    link another user could plant. Returns `path`; the files written in it go through output_file again."""
    if not path:
        raise OutputPathError(errno.ENOENT, "(empty name)", "give a directory")
    dir_fd, _, _ = _walk(path, make_dirs=True)
    os.close(dir_fd)
    return path


def open_output(path: str, *, mode: int = 0o600, truncate: bool = True, append: bool = False,
                theirs_ok: bool = False) -> int:
    """`output_file(path).open(...)`: a checked write descriptor on the user's output path."""
    with output_file(path) as out:
        return out.open(mode=mode, truncate=truncate, append=append, theirs_ok=theirs_ok)


def replace_output(path: str, write: Callable[[BinaryIO], None], *, mode: int = 0o600) -> None:
    """`output_file(path).replace_with(write)`: the whole file at once, never half of it."""
    with output_file(path) as out:
        out.replace_with(write, mode=mode)
