"""``botify deploy`` and ``botify activate``: the operations of ``botify.rollout.deploy``
against the service's Redis, with messages for a person and an exit code.

Only the command line imports this module; workers follow deployments through
``botify.rollout.follow`` and never print or exit.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import redis

from botify.config import Config
from botify.data.catalog import CatalogError, load_catalog
from botify.data.lists import ListsError
from botify.rollout.control import CORRUPT_FILE, read_good_record
from botify.rollout.deploy import EmptyLists, activate, publish, roll_back
from botify.state.client import connect, resolve_redis_url


def _command_client(config: Config, command: str) -> redis.Redis | None:
    try:
        url = resolve_redis_url(config)
    except OSError as e:
        # redis.url holds the embedded Redis's password: only its user may read it.
        print(
            f"botify {command}: cannot read {e.filename} ({e.strerror}): run as the user of "
            "`botify serve`, or set BOTIFY_REDIS_URL",
            file=sys.stderr,
        )
        return None
    if url is None:
        print(
            f"botify {command}: no Redis found: set BOTIFY_REDIS_URL, or start "
            "`botify serve` (its embedded Redis is found through BOTIFY_REDIS_DIR)",
            file=sys.stderr,
        )
        return None
    return connect(url, config)


class _UsageError(Exception):
    """A command line the command cannot act on (exit code 2)."""


def _run(
    command: str,
    config: Config,
    act: Callable[[redis.Redis], str],
    refused: tuple[type[Exception], ...],
    refusal: str,
) -> int:
    """Run ``act`` against the service's Redis; print what it did, or why it did nothing.

    Exit codes: 0 done, 1 refused (``refused`` errors, said after ``refusal``), Redis
    failed or a file could not be read or written, 2 no Redis found or a usage error. A
    corrupt control record is said in one line, and replaced by its last good copy (or
    by what Redis holds) with the change.
    """
    client = _command_client(config, command)
    if client is None:
        return 2
    _, problem = read_good_record(config.data_dir)
    if problem is not None:
        print(
            f"botify {command}: {problem}; a good record replaces it "
            f"(the corrupt file is kept as {CORRUPT_FILE})",
            file=sys.stderr,
        )
    try:
        done = act(client)
    except _UsageError as e:
        print(f"botify {command}: {e}", file=sys.stderr)
        return 2
    except refused as e:
        print(f"botify {command}: {refusal}{e}", file=sys.stderr)
        return 1
    except redis.RedisError as e:
        print(f"botify {command}: Redis failed: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"botify {command}: nothing changed: {e}", file=sys.stderr)
        return 1
    print(done)
    return 0


def deploy_command(kind: str, file: Path | None, rollback: bool, force: bool = False) -> int:
    """``botify deploy``: publish a list file, or roll back to the previous version; a file
    with no recommendation at all only with ``force`` (exit 2 otherwise)."""
    config = Config.from_env()

    def deploy(client: redis.Redis) -> str:
        if rollback:
            return f"rolled back {kind} to version {roll_back(client, config, kind)}"
        if file is None:
            raise _UsageError("give a FILE to deploy, or --rollback")
        try:
            version = publish(client, config, load_catalog(config.data_dir), kind, file, force)
        except EmptyLists as e:
            raise _UsageError(f"refused, the deployed version keeps serving: {e}") from None
        return (
            f"deployed {kind} version {version}; every replica serves it within "
            f"{config.deploy_check_s:g} s plus its load time"
        )

    refusal = "rejected, the deployed version keeps serving: "
    return _run("deploy", config, deploy, (ListsError, CatalogError), refusal)


def activate_command(name: str) -> int:
    """``botify activate NAME``: switch the active experiment without a restart."""
    config = Config.from_env()

    def switch(client: redis.Redis) -> str:
        activate(client, config, name)
        return (
            f"activated experiment {name}; every replica serves it within "
            f"{config.deploy_check_s:g} s"
        )

    return _run("activate", config, switch, (ValueError,), "")
