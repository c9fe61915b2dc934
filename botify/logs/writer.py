"""Writing the JSON-lines event log: one line per answered request (SPEC §6).

Every process appends to files of its own (``events-<host>-<pid>-<start>-<seq>.jsonl``),
so gunicorn workers and replicas never interleave bytes in one file. Each line goes to the
kernel in a single ``write`` on an ``O_APPEND`` descriptor before the answer is sent, and
rotation opens the next segment instead of renaming, so no line is torn, lost or duplicated
when files rotate. ``botify.logs.reader`` reads them back.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

from botify.logs.schema import Event


class EventLog:
    """Append-only, size-rotated JSON-lines writer owned by one process at a time."""

    def __init__(self, log_dir: Path, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.log_dir = Path(log_dir)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None
        self._size = 0
        self._seq = 0
        self._start = 0

    def _open_segment(self) -> None:
        name = f"events-{socket.gethostname()}-{self._pid}-{self._start}-{self._seq:05d}.jsonl"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.log_dir / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self._fd).st_size

    def _ensure_open(self) -> None:
        # After a fork (gunicorn preload) the child must not share the parent's file.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._start = int(time.time() * 1000)
            self._seq = 0
            self._fd = None
        if self._fd is None:
            self._open_segment()
        elif self._size >= self.max_bytes:
            os.close(self._fd)
            self._seq += 1
            self._open_segment()

    def write(self, event: Event) -> None:
        """Append one event as one line; returns once the kernel has the whole line."""
        line = (event.to_json() + "\n").encode()
        with self._lock:
            self._ensure_open()
            view = memoryview(line)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            self._size += len(line)
