"""Versioned recommendation lists, deployed to every replica without a restart.

``botify deploy contextual FILE`` validates the file against the catalog, stores it as
``<data dir>/deployed/contextual-<version>.jsonl`` (the version is a content hash) and
pushes the version onto the Redis list ``botify:deployed:contextual``: its head is the
deployed version, the rest is the history that ``--rollback`` returns to. The LPUSH is the
one atomic switch. Every service worker polls the head once per ``BOTIFY_DEPLOY_CHECK_S``
from a background thread, loads a new version beside the old one and swaps a reference,
so no request waits for a load or sees a half-loaded list.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import redis

from botify.catalog import Catalog, CatalogError, load_catalog
from botify.config import Config
from botify.lists import ListsError, RecommendationLists, load_lists
from botify.redis_server import connect, resolve_redis_url

log = logging.getLogger(__name__)

KEY_FIELDS = {"contextual": "track", "indexed": "user"}


def deploy_key(kind: str) -> str:
    """The Redis list whose head is ``kind``'s deployed version."""
    return f"botify:deployed:{kind}"


def deployed_file(data_dir: Path, kind: str, version: str) -> Path:
    """Where the lists of ``kind`` at ``version`` are stored."""
    return Path(data_dir) / "deployed" / f"{kind}-{version}.jsonl"


def _decode(value: bytes | str | None) -> str | None:
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
    if _decode(client.lindex(deploy_key(kind), 0)) != lists.version:
        client.lpush(deploy_key(kind), lists.version)
    return lists.version


def roll_back(client: redis.Redis, kind: str) -> str:
    """Drop the deployed version and return the previous one, which is now deployed."""
    key = deploy_key(kind)
    if client.llen(key) < 2:
        raise ListsError(f"no earlier {kind} version to roll back to")
    client.lpop(key)
    return _decode(client.lindex(key, 0))


def deploy_command(kind: str, file: Path | None, rollback: bool) -> int:
    """``botify deploy``: publish a list file, or roll back to the previous version."""
    config = Config.from_env()
    url = resolve_redis_url(config)
    if url is None:
        print(
            "botify deploy: no Redis to deploy to: set BOTIFY_REDIS_URL, or start "
            "`botify serve` (its embedded Redis is found through BOTIFY_REDIS_DIR)",
            file=sys.stderr,
        )
        return 2
    client = connect(url, config)
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
        print(f"botify deploy: Redis at {url} failed: {e}", file=sys.stderr)
        return 1
    print(
        f"deployed {kind} version {version}; every replica serves it within "
        f"{config.deploy_check_s:g} s plus its load time"
    )
    return 0


class DeployedLists:
    """The lists of one kind that a worker serves, following the deployed version.

    ``current()`` is what recommenders call on every request: a plain attribute read.
    A daemon thread, started lazily in each (forked) worker, polls Redis and swaps in a
    newly deployed version once it is fully loaded; a version that fails to load is
    logged and the old one keeps serving.
    """

    def __init__(self, kind: str, client: redis.Redis, config: Config, catalog: Catalog) -> None:
        self.kind = kind
        self.client = client
        self.config = config
        self.catalog = catalog
        self._lists: RecommendationLists | None = None
        self._failed: set[str] = set()
        self._poller_pid: int | None = None
        self._lock = threading.Lock()

    def current(self) -> RecommendationLists | None:
        """The lists being served now (None before any deployment)."""
        if self._poller_pid != os.getpid():
            self._start_poller()
        return self._lists

    @property
    def version(self) -> str | None:
        """The version being served now."""
        lists = self._lists
        return lists.version if lists is not None else None

    def refresh(self) -> None:
        """Load the deployed version if it differs from the served one."""
        try:
            version = _decode(self.client.lindex(deploy_key(self.kind), 0))
        except redis.RedisError as e:
            log.warning("cannot read the deployed %s version: %s", self.kind, e)
            return
        if version is None or version == self.version or version in self._failed:
            return
        path = deployed_file(self.config.data_dir, self.kind, version)
        try:
            lists = load_lists(path, self.catalog, KEY_FIELDS[self.kind])
            if lists.version != version:
                raise ListsError(f"{path} has content version {lists.version}")
        except ListsError as e:
            self._failed.add(version)
            log.error("not serving %s version %s: %s", self.kind, version, e)
            return
        self._lists = lists
        log.info("serving %s version %s (%d lists)", self.kind, version, len(lists))

    def _start_poller(self) -> None:
        with self._lock:
            if self._poller_pid == os.getpid():
                return
            self._poller_pid = os.getpid()
            threading.Thread(target=self._poll, name=f"deploy-{self.kind}", daemon=True).start()

    def _poll(self) -> None:
        stop = threading.Event()
        while not stop.wait(self.config.deploy_check_s):
            self.refresh()
