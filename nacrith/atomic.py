"""Files that appear whole or not at all, and the SHA-256 of a file.

An output is written to an unnamed file in the target's directory (Linux ``O_TMPFILE``) and
linked into place only once complete, so nothing is left behind even if the process is
killed (SIGKILL, a power cut). Where the system cannot make an unnamed file, a hidden
temporary beside the target is renamed into place instead, and removed on any failure that
Python sees. Every file nacrith writes (archives, outputs, the cache's models and
fingerprints, downloaded corpora) goes through :func:`atomic_output`.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
from contextlib import contextmanager, suppress
from typing import BinaryIO, Iterator

__all__ = ["TargetExists", "atomic_output", "write_atomically", "sha256_file"]

_HASH_BLOCK = 1 << 20
"""Bytes hashed at a time: a model of hundreds of MB is never read into memory whole."""

_TEMP_PREFIX_MAX = 200
"""Characters of the target's name kept in a temporary's name, so it stays under NAME_MAX (255)."""


class TargetExists(FileExistsError):
    """The target appeared while it was being written, and replacing it was not allowed."""


@contextmanager
def atomic_output(target: str | os.PathLike[str], *, replace: bool = True, mode: int | None = None) -> Iterator[BinaryIO]:
    """A binary stream whose bytes appear at ``target`` only when the block ends without an exception.

    ``replace=False`` never replaces a file at ``target``, even one that appeared meanwhile: the
    link that publishes the output fails instead (:class:`TargetExists`). ``mode``: permission
    bits for the result (default: what the umask gives a new file).
    """
    target = os.fspath(target)
    directory = os.path.dirname(os.path.abspath(target))
    try:
        fd, temp = _open_unnamed(directory)
        if fd < 0:
            fd, temp = _open_named(directory, os.path.basename(target))
    except OSError as exc:  # name the output asked for, not a temporary
        raise OSError(exc.errno, f"cannot write {target}: {exc.strerror}") from None
    try:
        with open(fd, "wb", closefd=False) as stream:
            yield stream
        if mode is not None:
            os.fchmod(fd, mode)
        _publish(fd, temp, target, replace)
    except BaseException:
        if temp is not None:
            with suppress(OSError):
                os.unlink(temp)
        raise
    finally:
        os.close(fd)


def write_atomically(target: str | os.PathLike[str], data: bytes, *, mode: int | None = None) -> None:
    """``data`` as the whole content of ``target``, replacing what was there only once it is all written."""
    with atomic_output(target, mode=mode) as stream:
        stream.write(data)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file, in lower-case hex, read a block at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def _open_unnamed(directory: str) -> tuple[int, None]:
    """An unnamed file in ``directory`` (fd -1 where the system or file system has none)."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return -1, None
    try:
        return os.open(directory, flag | os.O_WRONLY, 0o666), None
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            return -1, None  # a file system or kernel without O_TMPFILE; ENOENT: let the named path report it
        raise


def _open_named(directory: str, base: str) -> tuple[int, str]:
    """A new, empty, hidden temporary beside the target, with the mode the umask gives new files."""
    while True:
        temp = os.path.join(directory, f".{base[:_TEMP_PREFIX_MAX]}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temp
        except FileExistsError:
            continue  # another writer's temporary: pick another name


def _publish(fd: int, temp: str | None, target: str, replace: bool) -> None:
    """Give the finished file its name: a hard link fails if the target exists, which closes the gap
    between any earlier check and now; with ``replace``, a rename over the target."""
    source = temp if temp is not None else f"/proc/self/fd/{fd}"
    if replace:
        if temp is not None:
            os.replace(temp, target)
            return
        named = _link_temporary(source, target)  # an unnamed file gets a temporary name, then renames over the target
        try:
            os.replace(named, target)
        except BaseException:
            with suppress(OSError):
                os.unlink(named)
            raise
        return
    try:
        _link(source, target)
    except FileExistsError:
        raise TargetExists(errno.EEXIST, f"{target} appeared while it was being written", target) from None
    except OSError:
        if temp is None or os.path.lexists(target):
            raise
        os.replace(temp, target)  # a file system without hard links: check, then rename
        return
    if temp is not None:
        os.unlink(temp)


def _link_temporary(source: str, target: str) -> str:
    directory, base = os.path.split(os.path.abspath(target))
    while True:
        temp = os.path.join(directory, f".{base[:_TEMP_PREFIX_MAX]}.{secrets.token_hex(4)}.tmp")
        try:
            _link(source, temp)
            return temp
        except FileExistsError:
            continue


def _link(source: str, target: str) -> None:
    """A hard link that follows ``source`` if it is a symbolic link (``/proc/self/fd/N``: the open file).

    ``os.link`` calls link(2), which does not follow it, unless a directory descriptor is
    given; then it calls linkat(2) with AT_SYMLINK_FOLLOW.
    """
    directory, base = os.path.split(os.path.abspath(target))
    dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.link(source, base, dst_dir_fd=dir_fd, follow_symlinks=True)
    finally:
        os.close(dir_fd)

