"""``botify deploy`` and ``botify activate``: the operations of ``botify.rollout.deploy``
against the service's Redis, with messages for a person and an exit code.

Only the command line imports this module; workers follow deployments through
``botify.rollout.follow`` and never print or exit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import redis

from botify.config import Config
from botify.data.catalog import CatalogError, load_catalog
from botify.data.lists import ListsError
from botify.rollout.deploy import activate, publish, roll_back
from botify.state.client import connect, resolve_redis_url


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
