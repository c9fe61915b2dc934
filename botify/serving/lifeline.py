"""Child processes that die with their parent, and locks that say a directory is in use.

A parent killed with SIGKILL runs no ``finally``: without help its redis-server, its
``botify serve`` and its simulator keep running, and keep writing into its directories.
``die_with_parent`` (Linux's ``PR_SET_PDEATHSIG``, set in the child between fork and exec)
has the kernel send the child SIGTERM when the parent dies, so the child stops the way
a supervisor would stop it (gunicorn then stops its workers, Redis flushes its AOF).

``DirectoryLock`` is an ``fcntl.flock`` on a file in a directory: held for as long as a
process (and any child it hands the descriptor to) lives, released by the kernel
whatever way the holder ends, so a lock is never left behind by a crash.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1
# Looked up once, in the parent: a child of a threaded parent (gunicorn's master, the
# Redis supervisor) must not load libraries between fork and exec.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


class DirectoryInUse(RuntimeError):
    """Another process holds the directory's lock."""


def die_with_parent() -> None:
    """``preexec_fn`` of a child that must get SIGTERM when its parent dies (Linux).

    Elsewhere it does nothing: the parent's own ``finally`` is then the only clean-up.
    """
    if _prctl is None:
        return
    parent = os.getppid()
    if _prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        os._exit(126)
    # The parent may have died between fork and prctl: no signal would ever come.
    if os.getppid() != parent:
        os._exit(126)


class DirectoryLock:
    """An exclusive, non-blocking ``flock`` on ``directory / name``.

    ``acquire`` raises ``DirectoryInUse`` naming the directory if another process holds
    it. ``fileno`` is the locked descriptor, to hand to children (``pass_fds``) that must
    keep the directory locked until they too have exited.
    """

    def __init__(self, directory: Path, name: str, what: str) -> None:
        self.path = Path(directory) / name
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> DirectoryLock:
        """Take the lock or raise ``DirectoryInUse``."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DirectoryInUse(
                f"{self.path.parent} is in use by another {self.what} (lock {self.path})"
            ) from None
        self._fd = fd
        return self

    def fileno(self) -> int:
        """The locked descriptor."""
        if self._fd is None:
            raise RuntimeError("the lock is not held")
        return self._fd

    def release(self) -> None:
        """Release the lock (children given the descriptor keep it until they exit)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DirectoryLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
