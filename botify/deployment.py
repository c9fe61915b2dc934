"""Versioned recommendation lists, deployed to every replica without a restart.

``botify deploy contextual FILE`` validates the file against the catalog, stores it as
``<data dir>/deployed/contextual-<version>.jsonl`` (the version is a content hash) and
pushes the version onto the Redis list ``botify:deployed:contextual``: its head is the
deployed version, the rest is the history that ``--rollback`` returns to. The LPUSH is the
one atomic switch; ``botify/live.py`` is how every worker follows it.

``botify activate NAME`` switches the active experiment the same way (a Redis key), so a
new experiment starts on every replica without a restart.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import redis

from botify.config import Config
from botify.data.catalog import Catalog, CatalogError, load_catalog
from botify.data.lists import ListsError, load_lists
from botify.state.client import connect, resolve_redis_url

KEY_FIELDS = {"contextual": "track", "indexed": "user"}


def deploy_key(kind: str) -> str:
    """The Redis list whose head is ``kind``'s deployed version."""
    return f"botify:deployed:{kind}"


def deployed_file(data_dir: Path, kind: str, version: str) -> Path:
    """Where the lists of ``kind`` at ``version`` are stored."""
    return Path(data_dir) / "deployed" / f"{kind}-{version}.jsonl"


ACTIVE_EXPERIMENT_KEY = "botify:experiment:active"


def decode(value: bytes | str | None) -> str | None:
    """A Redis reply as ``str`` (None stays None)."""
    return value.decode() if isinstance(value, bytes) else value


def publish(client: redis.Redis, config: Config, catalog: Catalog, kind: str, file: Path) -> str:
    """Validate ``file``, store it under its version and make that version the deployed one."""
    lists = load_lists(file, catalog, KEY_FIELDS[kind])
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


def _command_client(config: Config, command: str) -> redis.Redis | None:
    url = resolve_redis_url(config)
    if url is None:
        print(
            f"botify {command}: no Redis found: set BOTIFY_REDIS_URL, or start "
            "`botify serve` (its embedded Redis is found through BOTIFY_REDIS_DIR)",
            file=sys.stderr,
        )
        return None
    return connect(url, config)


def deploy_command(kind: str, file: Path | None, rollback: bool) -> int:
    """``botify deploy``: publish a list file, or roll back to the previous version."""
    config = Config.from_env()
    client = _command_client(config, "deploy")
    if client is None:
        return 2
    try:
        if rollback:
            version = roll_back(client, kind)
            print(f"rolled back {kind} to version {version}")
            return 0
        if file is None:
            print("botify deploy: give a FILE to deploy, or --rollback", file=sys.stderr)
            return 2
        version = publish(client, config, load_catalog(config.data_dir), kind, file)
    except (ListsError, CatalogError) as e:
        print(f"botify deploy: rejected, the deployed version keeps serving: {e}", file=sys.stderr)
        return 1
    except redis.RedisError as e:
        print(f"botify deploy: Redis failed: {e}", file=sys.stderr)
        return 1
    print(
        f"deployed {kind} version {version}; every replica serves it within "
        f"{config.deploy_check_s:g} s plus its load time"
    )
    return 0


def activate(client: redis.Redis, config: Config, name: str) -> None:
    """Make ``name`` (one of ``BOTIFY_EXPERIMENTS``) the experiment every replica serves."""
    if name not in config.experiments:
        defined = ", ".join(config.experiments)
        raise ValueError(f"unknown experiment {name!r}; BOTIFY_EXPERIMENTS defines {defined}")
    client.set(ACTIVE_EXPERIMENT_KEY, name)


def activate_command(name: str) -> int:
    """``botify activate NAME``: switch the active experiment without a restart."""
    config = Config.from_env()
    client = _command_client(config, "activate")
    if client is None:
        return 2
    try:
        activate(client, config, name)
    except ValueError as e:
        print(f"botify activate: {e}", file=sys.stderr)
        return 1
    except redis.RedisError as e:
        print(f"botify activate: Redis failed: {e}", file=sys.stderr)
        return 1
    print(
        f"activated experiment {name}; every replica serves it within {config.deploy_check_s:g} s"
    )
    return 0
