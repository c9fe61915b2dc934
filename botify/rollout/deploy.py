"""Deploying lists and activating experiments on every replica, without a restart.

``publish`` validates a list file against the catalog, stores it under its content
version and makes that version the head of the kind's deployed versions: first in the
durable record (``botify.rollout.control``), then in Redis, which workers poll.
``activate`` switches the active experiment the same way, once the running workers said
they can serve it.
These are operations: they raise on failure (``ListsError``, ``ValueError``, Redis
errors); ``botify.rollout.commands`` turns them into the ``botify`` commands' messages.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import redis

from botify.config import Config
from botify.data.catalog import Catalog
from botify.data.lists import LIST_KINDS, ListsError, load_lists
from botify.rollout.control import (
    ControlRecord,
    mirror,
    read_good_record,
    record_from_redis,
    record_lock,
    set_aside,
    write_record,
)
from botify.rollout.keys import SERVED_EXPERIMENTS_KEY, control_file, decode, deployed_file

# A worker announces what it serves on every poll; one silent this long is gone.
ANNOUNCEMENT_TTL_S = 15.0


class EmptyLists(ListsError):
    """A list file without a single recommendation, not deployed unless forced."""


def publish(
    client: redis.Redis,
    config: Config,
    catalog: Catalog,
    kind: str,
    file: Path,
    force: bool = False,
) -> str:
    """Validate ``file`` as lists of ``kind`` (one of ``LIST_KINDS``), store it under its
    version and make that version the deployed one.

    A file without a single recommendation (empty, or only empty lists) would replace a
    working model by fallbacks: refused (``EmptyLists``) unless ``force``.
    """
    lists = load_lists(file, catalog, kind)
    if lists.recommendations == 0 and not force:
        raise EmptyLists(
            f"{file} holds no recommendation ({len(lists)} lists, all empty); "
            "deploying it would answer every request with a fallback (--force to do it anyway)"
        )
    target = deployed_file(config.data_dir, kind, lists.version)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with (
            open(file, "rb") as src,
            tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp,
        ):
            shutil.copyfileobj(src, tmp)
        os.replace(tmp.name, target)

    def make_head(record: ControlRecord) -> ControlRecord:
        versions = record.deployed.get(kind, [])
        if versions[:1] == [lists.version]:
            return record
        return replace(record, deployed={**record.deployed, kind: [lists.version, *versions]})

    update_record(client, config, make_head)
    return lists.version


def current_record(client: redis.Redis, config: Config) -> tuple[ControlRecord, str | None]:
    """The durable record of the control plane (its last good copy if the file is corrupt;
    what Redis holds before the first write or without a good copy), and what is wrong
    with its file (None when nothing is)."""
    record, problem = read_good_record(config.data_dir)
    if record is None:
        record = record_from_redis(client, list(LIST_KINDS))
    return record, problem


def update_record(
    client: redis.Redis, config: Config, change: Callable[[ControlRecord], ControlRecord]
) -> ControlRecord:
    """Apply ``change`` to the record under its lock, write the result durably, then into
    Redis (the fast path workers poll); returns it. A corrupt file is set aside and
    replaced by the good record."""
    with record_lock(config.data_dir):
        record, problem = current_record(client, config)
        changed = change(record)
        if changed != record or problem is not None:
            if problem is not None and control_file(config.data_dir).exists():
                set_aside(config.data_dir)
            write_record(config.data_dir, changed)
        mirror(client, changed)
    return changed


def roll_back(client: redis.Redis, config: Config, kind: str) -> str:
    """Drop the deployed version and return the previous one, which is now deployed."""

    def drop_head(record: ControlRecord) -> ControlRecord:
        versions = record.deployed.get(kind, [])
        if len(versions) < 2:
            raise ListsError(f"no earlier {kind} version to roll back to")
        return replace(record, deployed={**record.deployed, kind: versions[1:]})

    return update_record(client, config, drop_head).head(kind)


def served_experiments(client: redis.Redis, now_ms: int, within_ms: int) -> dict[str, list[str]]:
    """The experiments each running worker (``host:pid``) announced within ``within_ms``;
    older announcements (workers gone) are deleted."""
    served, gone = {}, []
    for worker, raw in client.hgetall(SERVED_EXPERIMENTS_KEY).items():
        announced = _announcement(raw)
        if announced is not None and now_ms - announced["at"] <= within_ms:
            served[decode(worker)] = announced["experiments"]
        else:
            gone.append(worker)
    if gone:
        client.hdel(SERVED_EXPERIMENTS_KEY, *gone)
    return served


def _announcement(raw: bytes) -> dict | None:
    # What a worker wrote (``follow.ServedExperiments``); anything else counts as gone.
    try:
        announced = json.loads(raw)
        if isinstance(announced["at"], int | float) and isinstance(announced["experiments"], list):
            return announced
    except (ValueError, TypeError, KeyError):
        pass
    return None


def activate(client: redis.Redis, config: Config, name: str) -> None:
    """Make ``name`` the experiment every replica serves.

    It must be one that every running worker can serve (each announces its
    ``BOTIFY_EXPERIMENTS`` in Redis); with no worker running, one of the command's own
    ``BOTIFY_EXPERIMENTS``. ``ValueError`` otherwise, and nothing changes.
    """
    within_ms = int(ANNOUNCEMENT_TTL_S * 1000)
    served = served_experiments(client, int(time.time() * 1000), within_ms)
    lacking = sorted(worker for worker, names in served.items() if name not in names)
    if lacking:
        known = sorted({n for names in served.values() for n in names})
        raise ValueError(
            f"the running service does not serve experiment {name!r} ({len(lacking)} of "
            f"{len(served)} workers lack it); it serves {', '.join(known)}"
        )
    if not served and name not in config.experiments:
        defined = ", ".join(config.experiments)
        raise ValueError(f"unknown experiment {name!r}; BOTIFY_EXPERIMENTS defines {defined}")
    update_record(client, config, lambda record: replace(record, active=name))
