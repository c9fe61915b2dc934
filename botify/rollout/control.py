"""The control plane's durable record: deployed versions and the active experiment, in one
JSON file beside the deployed lists (``keys.control_file``).

Redis is the fast path every worker polls once a second, but Redis may lose its data
(``FLUSHALL``, a restarted server that persists nothing): the active experiment would then
silently revert to the configured default and the deployment history be forgotten. So the
operations (``botify.rollout.deploy``) write this record first, atomically (a temporary
file, fsync, rename, fsync of the directory), and then mirror it into Redis; workers
(``botify.rollout.follow``) serve what the record says, put it back into Redis when Redis
has lost it, and log and report (``/health``) any disagreement instead of reverting.
Every worker reads the same file: the deployed lists it loads are beside it anyway.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

from botify.rollout.keys import (
    ACTIVE_EXPERIMENT_KEY,
    control_backup,
    control_file,
    decode,
    deploy_key,
)

# A version is a list file's content hash (``botify.data.lists.content_version``); anything
# else in the record could name a file outside ``deployed/``.
VERSION = re.compile(r"[0-9a-f]{12}")
# A record holds a few versions per deployment: a file this large is not one.
MAX_RECORD_BYTES = 16 * 1024 * 1024
LOCK_FILE = "control.lock"
CORRUPT_FILE = "control.json.corrupt"


@dataclass(frozen=True)
class ControlRecord:
    """What is deployed (per kind, newest version first) and which experiment is active."""

    deployed: dict[str, list[str]] = field(default_factory=dict)
    active: str | None = None

    def head(self, kind: str) -> str | None:
        """The version of ``kind`` being served (None if none was ever deployed)."""
        versions = self.deployed.get(kind)
        return versions[0] if versions else None


class CorruptRecord(ValueError):
    """The record's file exists but does not hold a record (truncated, ``null``, wrong
    types, too large, not UTF-8)."""


def parse_record(text: str) -> ControlRecord:
    """A record from its JSON text; ``CorruptRecord`` if it is not one."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise CorruptRecord(f"not JSON ({str(e)[:80]})") from None
    if not isinstance(raw, dict):
        raise CorruptRecord(f"a JSON {type(raw).__name__}, not an object")
    deployed, active = raw.get("deployed", {}), raw.get("active")
    valid = (
        isinstance(deployed, dict)
        and all(
            isinstance(v, list) and all(isinstance(x, str) and VERSION.fullmatch(x) for x in v)
            for v in deployed.values()
        )
        and (active is None or (isinstance(active, str) and active != ""))
    )
    if not valid:
        raise CorruptRecord(
            "not a control record: expected {'deployed': {kind: [versions]}, 'active'}"
        )
    return ControlRecord(deployed=deployed, active=active)


def _read_file(path: Path) -> ControlRecord | None:
    """The record in ``path`` (None if there is no such file); ``CorruptRecord`` naming the
    file if it holds none, ``OSError`` if it cannot be read."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_RECORD_BYTES + 1)
    except FileNotFoundError:
        return None
    try:
        if len(data) > MAX_RECORD_BYTES:
            raise CorruptRecord(f"over {MAX_RECORD_BYTES} bytes")
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise CorruptRecord("not UTF-8") from None
        return parse_record(text)
    except CorruptRecord as e:
        raise CorruptRecord(f"{path} is corrupt: {e}") from None


def read_record(data_dir: Path) -> ControlRecord | None:
    """The record in ``data_dir`` (None before the first deployment or activation);
    ``CorruptRecord`` or ``OSError`` if its file cannot be used."""
    return _read_file(control_file(data_dir))


def read_good_record(data_dir: Path) -> tuple[ControlRecord | None, str | None]:
    """The record, and what is wrong with its file (None when nothing is).

    When ``control.json`` cannot be used, the record is its last good copy
    (``control_backup``, written with every record) if that one can, else None.
    """
    try:
        return read_record(data_dir), None
    except (CorruptRecord, OSError) as e:
        problem = str(e)
    try:
        backup = _read_file(control_backup(data_dir))
    except (CorruptRecord, OSError):
        backup = None
    if backup is None:
        return None, f"{problem}; no good copy in {control_backup(data_dir)}"
    return backup, f"{problem}; using its last good copy {control_backup(data_dir)}"


def _replace_durably(path: Path, text: str) -> None:
    # A temporary file, fsync, rename, fsync of the directory: readers see the old or the
    # new file whole, and a crash right after still leaves the new one on disk.
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(text)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_record(data_dir: Path, record: ControlRecord) -> None:
    """Replace the record atomically and durably, and its good copy first: whatever later
    happens to ``control.json`` (truncated, edited by hand), the last record written can
    still be read, and rolled back from."""
    path = control_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"deployed": record.deployed, "active": record.active}, indent=1) + "\n"
    _replace_durably(control_backup(data_dir), text)
    _replace_durably(path, text)


@contextlib.contextmanager
def record_lock(data_dir: Path) -> Iterator[None]:
    """Hold the lock of the record's read-modify-write: concurrent ``deploy``s and
    ``activate``s (of any process on this data directory) take turns, so none overwrites
    what another just wrote. Workers only read, and need no lock (the file is replaced
    whole)."""
    path = control_file(data_dir).with_name(LOCK_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def set_aside(data_dir: Path) -> Path:
    """Move a corrupt ``control.json`` aside (for whoever wants to know what it held) before
    a good record replaces it; returns where it went."""
    path = control_file(data_dir)
    aside = path.with_name(CORRUPT_FILE)
    os.replace(path, aside)
    return aside


def record_from_redis(client: redis.Redis, kinds: list[str]) -> ControlRecord:
    """The record that Redis holds (for a data directory that has none yet)."""
    return ControlRecord(
        deployed={
            kind: [decode(v) for v in client.lrange(deploy_key(kind), 0, -1)] for kind in kinds
        },
        active=decode(client.get(ACTIVE_EXPERIMENT_KEY)),
    )


def mirror(client: redis.Redis, record: ControlRecord) -> None:
    """Make Redis hold ``record`` (each key rewritten only if it differs)."""
    for kind, versions in record.deployed.items():
        key = deploy_key(kind)
        if [decode(v) for v in client.lrange(key, 0, -1)] != versions:
            pipe = client.pipeline()
            pipe.delete(key)
            if versions:
                pipe.rpush(key, *versions)
            pipe.execute()
    if record.active is not None and decode(client.get(ACTIVE_EXPERIMENT_KEY)) != record.active:
        client.set(ACTIVE_EXPERIMENT_KEY, record.active)


class RecordReader:
    """The record as a worker sees it, re-read only when the file changed (one ``stat`` a
    poll otherwise). ``problem`` says what is wrong with the file (None when nothing is);
    the record is then its last good copy (``read_good_record``)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = control_file(data_dir)
        self.data_dir = data_dir
        self.problem: str | None = None
        self._stamp: tuple | None = None
        self._record: ControlRecord | None = None

    def read(self) -> ControlRecord | None:
        """The current record (None if there is none, nor a good copy of a corrupt one)."""
        try:
            status = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._record, self.problem = None, None, None
            return None
        except OSError as e:
            self.problem = f"cannot read {self.path}: {e}"
            return self._record
        stamp = (status.st_ino, status.st_mtime_ns, status.st_size)
        if stamp != self._stamp:
            self._record, self.problem = read_good_record(self.data_dir)
            self._stamp = stamp
        return self._record
