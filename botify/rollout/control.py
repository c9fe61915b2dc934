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

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import redis

from botify.rollout.keys import ACTIVE_EXPERIMENT_KEY, control_file, decode, deploy_key


@dataclass(frozen=True)
class ControlRecord:
    """What is deployed (per kind, newest version first) and which experiment is active."""

    deployed: dict[str, list[str]] = field(default_factory=dict)
    active: str | None = None

    def head(self, kind: str) -> str | None:
        """The version of ``kind`` being served (None if none was ever deployed)."""
        versions = self.deployed.get(kind)
        return versions[0] if versions else None


def parse_record(text: str) -> ControlRecord:
    """A record from its JSON text; ``ValueError`` if it is not one."""
    raw = json.loads(text)
    deployed, active = raw.get("deployed", {}), raw.get("active")
    valid = (
        isinstance(deployed, dict)
        and all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in deployed.values()
        )
        and (active is None or isinstance(active, str))
    )
    if not valid:
        raise ValueError(
            "not a control record: expected {'deployed': {kind: [versions]}, 'active'}"
        )
    return ControlRecord(deployed=deployed, active=active)


def read_record(data_dir: Path) -> ControlRecord | None:
    """The record in ``data_dir`` (None before the first deployment or activation)."""
    try:
        return parse_record(control_file(data_dir).read_text())
    except FileNotFoundError:
        return None


def write_record(data_dir: Path, record: ControlRecord) -> None:
    """Replace the record atomically and durably: readers see the old or the new one whole,
    and a crash right after the call still leaves the new one on disk."""
    path = control_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"deployed": record.deployed, "active": record.active}, indent=1)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(text + "\n")
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


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
    poll otherwise)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = control_file(data_dir)
        self.data_dir = data_dir
        self._stamp: tuple | None = None
        self._record: ControlRecord | None = None

    def read(self) -> ControlRecord | None:
        """The current record (None if there is none); ``OSError``/``ValueError`` if the
        file cannot be read or parsed."""
        try:
            status = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._record = None, None
            return None
        stamp = (status.st_ino, status.st_mtime_ns, status.st_size)
        if stamp != self._stamp:
            self._record = read_record(self.data_dir)
            self._stamp = stamp
        return self._record
