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


def _refuse(code: int, path: str, reason: str) -> OutputPathError:
    return OutputPathError(code, path, reason)


def others_can_write(st: os.stat_result) -> bool:
    """Whether a user other than memdoctor's own (and root) can create or swap names in this directory."""
    euid = os.geteuid()
    if st.st_uid not in (euid, 0) and st.st_mode & stat.S_IWUSR:
        return True
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

    def close(self) -> None:
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_opened(self, fd: int) -> os.stat_result:
        st = os.fstat(fd)
        problem = None
        if self.shared and st.st_uid != os.geteuid():
            problem = (f"it belongs to another user (uid {st.st_uid}) in a directory other users can write; "
                       "give a new name or another directory")
        elif self.shared and st.st_nlink > 1:
            problem = ("it has other hard links, in a directory other users can write (writing it would "
                       "write them); give a new name or another directory")
        if problem:
            os.close(fd)
            raise _refuse(errno.EPERM, self.path, f"{problem}")
        return st

    def open(self, *, mode: int = 0o600, truncate: bool = True, append: bool = False) -> int:
        """A write descriptor on the file (created with `mode`), checked before anything is truncated."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        if append:
            flags |= os.O_APPEND
        try:
            fd = os.open(self.name, flags, mode, dir_fd=self.dir_fd)
        except OSError as exc:
            raise self._error(exc) from None
        st = self._check_opened(fd)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        if not stat.S_ISREG(st.st_mode):
            return fd  # /dev/null, /dev/stdout, a FIFO of one's own: the user's choice, nothing to truncate
        if truncate:
            os.ftruncate(fd, 0)
        if st.st_uid == os.geteuid():
            os.fchmod(fd, mode)  # an older file of that name would keep its mode through O_CREAT
        return fd

    def replace_with(self, write: Callable[[BinaryIO], None], *, mode: int = 0o600) -> None:
        """Write a new file under a private temporary name beside it, then rename it over the name:
        readers never see half a file. The rename replaces the directory entry (never a link's target)."""
        self._check_existing()
        tmp = f"{self.name}.partial"
        self._remove_stale(tmp)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                         dir_fd=self.dir_fd)
        except OSError as exc:
            raise _refuse(exc.errno or errno.EIO, f"{self.path}.partial", exc.strerror or str(exc)) from None
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
            raise _refuse(errno.EISDIR, self.path, "it is a directory; give a file name")
        if self.shared and (not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid()):
            raise _refuse(errno.EPERM, self.path, "it is not a file of memdoctor's user, in a "
                                       "directory other users can write; give a new name or another directory")

    def _error(self, exc: OSError) -> OutputPathError:
        if exc.errno == errno.ELOOP:
            return _refuse(exc.errno, self.path, "it is a symbolic link in a directory other "
                                      "users can write (or a loop of links)")
        if exc.errno == errno.EISDIR:
            return _refuse(exc.errno, self.path, "it is a directory; give a file name")
        if exc.errno == errno.ENXIO:
            return _refuse(exc.errno, self.path, "it is not a regular file")
        return _refuse(exc.errno or errno.EIO, self.path, f"{exc.strerror or exc}")


def _open_root(absolute: bool) -> int:
    return os.open("/" if absolute else ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def output_file(path: str) -> OutputFile:
    """Resolve `path` for writing, link by link, refusing links another user could have planted."""
    if not path or path.endswith("/"):
        raise _refuse(errno.EISDIR, path or "(empty name)", "give a file name")
    dir_fd = _open_root(path.startswith("/"))
    pending = _components(path)
    hops = 0
    try:
        while True:
            if not pending:
                raise _refuse(errno.EISDIR, path, "it is a directory; give a file name")
            name = pending.pop(0)
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                if pending:
                    raise _refuse(errno.ENOENT, path, f"no directory {name!r} on the way") from None
                return OutputFile(path, dir_fd, name, others_can_write(os.fstat(dir_fd)))
            if stat.S_ISLNK(st.st_mode):
                parent = os.fstat(dir_fd)
                if others_can_write(parent) and st.st_uid != os.geteuid():
                    raise _refuse(errno.ELOOP, path, f"{name!r} is a symbolic link another user "
                                               "made in a directory other users can write")
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise _refuse(errno.ELOOP, path, "too many levels of symbolic links")
                target = os.readlink(name, dir_fd=dir_fd)
                if target.startswith("/"):
                    os.close(dir_fd)
                    dir_fd = _open_root(True)
                pending = _components(target) + pending
                continue
            if not pending:
                return OutputFile(path, dir_fd, name, others_can_write(os.fstat(dir_fd)))
            try:
                child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            except OSError as exc:
                what = "is not a directory" if exc.errno == errno.ENOTDIR else (exc.strerror or str(exc))
                raise _refuse(exc.errno or errno.EIO, path, f"{name!r} {what}") from None
            os.close(dir_fd)
            dir_fd = child
    except BaseException:
        os.close(dir_fd)
        raise


def open_output(path: str, *, mode: int = 0o600, truncate: bool = True, append: bool = False) -> int:
    """`output_file(path).open(...)`: a checked write descriptor on the user's output path."""
    with output_file(path) as out:
        return out.open(mode=mode, truncate=truncate, append=append)


def replace_output(path: str, write: Callable[[BinaryIO], None], *, mode: int = 0o600) -> None:
    """`output_file(path).replace_with(write)`: the whole file at once, never half of it."""
    with output_file(path) as out:
        out.replace_with(write, mode=mode)
