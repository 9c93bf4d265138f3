"""Sharing the cores among the nacrith processes that run a model at the same time.

llama.cpp's threads spin while they wait for each other, so two processes that each use every
core slow each other down 10 to 50 times (measured here: two 4 KB compressions started
together took 5.3 times as long as one after the other). Each process that runs a model
registers in a folder, holding an exclusive lock on a file of its own for as long as it
runs; before its steps it counts the files still locked, and uses its share of the cores.
The lock goes with the process, even if it is killed, so a crashed run is never counted.
The thread count never changes the logits (FORMAT.md), so an archive does not depend on it.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

__all__ = ["CoreShare", "usable_cores"]

_shares: dict[Path, "CoreShare"] = {}

RECOUNT_SECONDS = 0.5
"""How often a running process looks for others: often enough to react, rarely enough to cost nothing."""

STALE_SECONDS = 5.0
"""An unlocked file this old belongs to a process that is gone (a younger one may be locked any moment)."""


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class CoreShare:
    """This process's entry among the model runners in ``folder``, and its share of the cores."""

    def __init__(self, folder: Path, cores: int | None = None) -> None:
        self.cores = cores or usable_cores()
        self._folder = folder
        self._fd = -1
        self._share = self.cores
        self._counted = 0.0
        self._pid = os.getpid()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{os.getpid()}.run"
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # no shared folder (read-only home, say): run as if alone
            self._fd = -1

    def threads(self) -> int:
        """This process's share of the cores now: the cores over the model runners, at least 1."""
        now = time.monotonic()
        if self._fd >= 0 and now - self._counted >= RECOUNT_SECONDS:
            self._counted = now
            self._share = max(1, self.cores // max(1, self._runners()))
        return self._share

    def _runners(self) -> int:
        """Processes holding their file's lock (this one included); files of processes gone are removed."""
        count = 0
        try:
            entries = list(os.scandir(self._folder))
        except OSError:
            return 1
        for entry in entries:
            if not entry.name.endswith(".run"):
                continue
            if entry.name == f"{os.getpid()}.run":
                count += 1
                continue
            try:
                fd = os.open(entry.path, os.O_RDONLY)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                count += 1  # locked: a live runner
            else:
                try:
                    if time.time() - os.fstat(fd).st_mtime > STALE_SECONDS:  # not one being made this instant
                        os.unlink(entry.path)  # its process is gone
                except OSError:
                    pass
            finally:
                os.close(fd)
        return count

    @classmethod
    def of_process(cls, folder: Path) -> "CoreShare":
        """The one entry of this process (a process counts once, however many models it runs)."""
        share = _shares.get(folder)
        if share is None or share._pid != os.getpid():  # a forked child registers on its own
            share = _shares[folder] = cls(folder)
        return share

    def close(self) -> None:
        if self._fd >= 0:
            try:
                os.unlink(self._folder / f"{os.getpid()}.run")
            except OSError:
                pass
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        if self._pid == os.getpid():
            self.close()
