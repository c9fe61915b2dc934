"""The JSON-lines event log: one line per answered request (SPEC §6).

Writing: every process appends to files of its own (``events-<host>-<pid>-<start>-<seq>.jsonl``),
so gunicorn workers and replicas never interleave bytes in one file. Each line goes to the
kernel in a single ``write`` on an ``O_APPEND`` descriptor before the answer is sent, and
rotation opens the next segment instead of renaming, so no line is torn, lost or duplicated
when files rotate.

Reading: ``read_events`` walks every segment of a directory and skips (and counts) lines
that do not parse, such as a last line torn by a crash.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

FILE_GLOB = "events-*.jsonl"


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

    def write(self, event: dict) -> None:
        """Append one event as one line; returns once the kernel has the whole line."""
        line = (json.dumps(event, separators=(",", ":")) + "\n").encode()
        with self._lock:
            self._ensure_open()
            view = memoryview(line)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            self._size += len(line)


@dataclass
class ReadStats:
    """What ``read_events`` saw: files read, events parsed and lines it had to skip."""

    files: int = 0
    events: int = 0
    skipped_lines: int = 0


def log_files(log_dir: Path) -> list[Path]:
    """Every event-log segment under ``log_dir`` (recursively), in a stable order."""
    return sorted(Path(log_dir).rglob(FILE_GLOB))


def read_events(log_dir: Path, stats: ReadStats | None = None) -> Iterator[dict]:
    """Yield every well-formed event of every segment under ``log_dir``.

    Lines that are not a JSON object (a torn last line, garbage) are skipped and counted
    in ``stats.skipped_lines``. Events come file by file; sort by ``timestamp`` if order
    across processes matters.
    """
    stats = stats if stats is not None else ReadStats()
    for path in log_files(log_dir):
        stats.files += 1
        with open(path, "rb") as f:
            for raw in f:
                try:
                    event = json.loads(raw)
                except ValueError:
                    stats.skipped_lines += 1
                    continue
                if not isinstance(event, dict):
                    stats.skipped_lines += 1
                    continue
                stats.events += 1
                yield event
