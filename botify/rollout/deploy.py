"""Deploying lists and activating experiments on every replica, without a restart.

``publish`` validates a list file against the catalog, stores it under its content
version and pushes that version onto the kind's Redis list: the LPUSH is the one atomic
switch. ``activate`` switches the active experiment the same way, with one Redis key.
These are operations: they raise on failure (``ListsError``, ``ValueError``, Redis
errors); ``botify.rollout.commands`` turns them into the ``botify`` commands' messages.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import redis

from botify.config import Config
from botify.data.catalog import Catalog
from botify.data.lists import ListsError, load_lists
from botify.rollout.keys import ACTIVE_EXPERIMENT_KEY, decode, deploy_key, deployed_file


def publish(client: redis.Redis, config: Config, catalog: Catalog, kind: str, file: Path) -> str:
    """Validate ``file`` as lists of ``kind`` (one of ``LIST_KINDS``), store it under its
    version and make that version the deployed one."""
    lists = load_lists(file, catalog, kind)
    target = deployed_file(config.data_dir, kind, lists.version)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with (
            open(file, "rb") as src,
            tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp,
        ):
            shutil.copyfileobj(src, tmp)
        os.replace(tmp.name, target)
    if decode(client.lindex(deploy_key(kind), 0)) != lists.version:
        client.lpush(deploy_key(kind), lists.version)
    return lists.version


def roll_back(client: redis.Redis, kind: str) -> str:
    """Drop the deployed version and return the previous one, which is now deployed."""
    key = deploy_key(kind)
    if client.llen(key) < 2:
        raise ListsError(f"no earlier {kind} version to roll back to")
    client.lpop(key)
    return decode(client.lindex(key, 0))


def activate(client: redis.Redis, config: Config, name: str) -> None:
    """Make ``name`` (one of ``BOTIFY_EXPERIMENTS``) the experiment every replica serves."""
    if name not in config.experiments:
        defined = ", ".join(config.experiments)
        raise ValueError(f"unknown experiment {name!r}; BOTIFY_EXPERIMENTS defines {defined}")
    client.set(ACTIVE_EXPERIMENT_KEY, name)
