"""The output directory of ``botify experiment run``: claimed, marked, locked, cleared safely.

The runner deletes only what it created. A directory it creates gets a marker file naming
the spec; a rerun clears a directory only if it carries the marker of the same spec. A
directory that exists without the marker is used only if it is empty; anything else (a
non-empty directory, a file, a symlink, another spec's output) is refused with one line.

While a run lasts, the directory is locked (``DirectoryLock``); the service and Redis it
starts inherit the lock, so a rerun on the same directory is refused until every process
of the previous run has exited: no orphan can write into the new run's logs.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from botify.serving.lifeline import DirectoryInUse, DirectoryLock

MARKER_FILE = ".botify-experiment"
LOCK_FILE = ".botify-experiment.lock"


class OutputError(ValueError):
    """The output directory cannot be used; the message says why."""


def read_marker(directory: Path) -> str | None:
    """The spec name in ``directory``'s marker, or None if it has no (readable) marker."""
    marker = directory / MARKER_FILE
    if marker.is_symlink() or not marker.is_file():
        return None
    try:
        name = json.loads(marker.read_text(encoding="utf-8")).get("experiment")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) else None


def _remove(entry: Path) -> None:
    """Remove one entry of a marked directory, never following a symlink out of it."""
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        entry.unlink()


class OutputDirectory:
    """``botify experiment run``'s ``--out`` for the experiment ``name``."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = Path(path)
        self.name = name
        self.lock = DirectoryLock(self.path, LOCK_FILE, "botify experiment run")

    def claim(self) -> OutputDirectory:
        """Create or reuse the directory, lock it and clear the previous run's files.

        ``OutputError`` (nothing changed) if the directory is not this runner's to use, or
        another run holds it.
        """
        path = self.path
        if path.is_symlink():
            raise OutputError(f"--out {path} is a symlink; give the directory itself")
        if path.exists() and not path.is_dir():
            raise OutputError(f"--out {path} exists and is not a directory")
        if path.is_dir():
            owner = read_marker(path)
            if owner is None and any(path.iterdir()):
                raise OutputError(
                    f"--out {path} is not empty and was not made by `botify experiment run`; "
                    "give a new or empty directory"
                )
            if owner is not None and owner != self.name:
                raise OutputError(
                    f"--out {path} holds the output of experiment {owner!r}, not "
                    f"{self.name!r}; give another directory"
                )
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"--out {path}: cannot create it ({e.strerror})") from None
        try:
            self.lock.acquire()
        except DirectoryInUse as e:
            raise OutputError(f"--out {e}; wait for that run to end") from None
        self._mark()
        self._clear()
        return self

    def _mark(self) -> None:
        marker = self.path / MARKER_FILE
        text = json.dumps({"experiment": self.name}) + "\n"
        tmp = marker.with_name(marker.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, marker)

    def _clear(self) -> None:
        """Remove the previous run's files: everything but the marker and the lock."""
        for entry in self.path.iterdir():
            if entry.name not in (MARKER_FILE, LOCK_FILE):
                _remove(entry)

    def release(self) -> None:
        """Unlock (children holding the lock keep it until they exit)."""
        self.lock.release()

    def __enter__(self) -> OutputDirectory:
        return self.claim()

    def __exit__(self, *exc) -> None:
        self.release()
