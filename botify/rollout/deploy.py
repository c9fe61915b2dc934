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
from dataclasses import replace
from pathlib import Path

import redis

from botify.config import Config
from botify.data.catalog import Catalog
from botify.data.lists import LIST_KINDS, ListsError, load_lists
from botify.rollout.control import (
    ControlRecord,
    mirror,
    read_record,
    record_from_redis,
    write_record,
)
from botify.rollout.keys import SERVED_EXPERIMENTS_KEY, decode, deployed_file

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
    record = current_record(client, config)
    versions = record.deployed.get(kind, [])
    if versions[:1] != [lists.version]:
        save(
            client,
            config,
            replace(record, deployed={**record.deployed, kind: [lists.version, *versions]}),
        )
    else:
        mirror(client, record)
    return lists.version


def current_record(client: redis.Redis, config: Config) -> ControlRecord:
    """The durable record of the control plane; on first use, what Redis holds."""
    record = read_record(config.data_dir)
    return record if record is not None else record_from_redis(client, list(LIST_KINDS))


def save(client: redis.Redis, config: Config, record: ControlRecord) -> None:
    """Write the durable record, then Redis (the fast path workers poll)."""
    write_record(config.data_dir, record)
    mirror(client, record)


def roll_back(client: redis.Redis, config: Config, kind: str) -> str:
    """Drop the deployed version and return the previous one, which is now deployed."""
    record = current_record(client, config)
    versions = record.deployed.get(kind, [])
    if len(versions) < 2:
        raise ListsError(f"no earlier {kind} version to roll back to")
    save(client, config, replace(record, deployed={**record.deployed, kind: versions[1:]}))
    return versions[1]


def served_experiments(client: redis.Redis, now_ms: int, within_ms: int) -> dict[str, list[str]]:
    """The experiments each running worker (``host:pid``) announced within ``within_ms``;
    older announcements (workers gone) are deleted."""
    served, gone = {}, []
    for worker, raw in client.hgetall(SERVED_EXPERIMENTS_KEY).items():
        announced = json.loads(raw)
        if now_ms - announced["at"] <= within_ms:
            served[decode(worker)] = announced["experiments"]
        else:
            gone.append(worker)
    if gone:
        client.hdel(SERVED_EXPERIMENTS_KEY, *gone)
    return served


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
    save(client, config, replace(current_record(client, config), active=name))
