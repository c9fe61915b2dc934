"""How every worker follows what is deployed: list versions and the active experiment.

A daemon thread per (forked) worker polls Redis once per ``BOTIFY_DEPLOY_CHECK_S`` and
refreshes each watched setting; requests only read attributes. A new list version is
loaded beside the old one and swapped in by one reference assignment, so no request waits
for a load or sees half a list, and a version that fails to load is logged while the old
one keeps serving.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Protocol

import redis

from botify.config import Config
from botify.data.catalog import Catalog
from botify.data.lists import ListsError, RecommendationLists, load_lists
from botify.rollout.keys import (
    ACTIVE_EXPERIMENT_KEY,
    decode,
    deploy_key,
    deployed_file,
)

log = logging.getLogger(__name__)


class Refreshable(Protocol):
    def refresh(self) -> None:
        """Bring the in-memory copy up to date with Redis."""


class Poller:
    """Refreshes watched settings from one background thread per process."""

    def __init__(self, interval_s: float, watched: list[Refreshable]) -> None:
        self.interval_s = interval_s
        self.watched = watched
        self._pid: int | None = None
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        """Start the thread in this process if it is not running (cheap when it is)."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="botify-poller", daemon=True).start()

    def _run(self) -> None:
        # Refresh at once: a worker forked a while after the app was built must not serve
        # a version deployed in between until its first tick.
        while True:
            for setting in self.watched:
                try:
                    setting.refresh()
                except Exception:
                    # The thread must outlive any one failure, or the worker would stop
                    # following deployments for good.
                    log.exception("refreshing %r failed", setting)
            time.sleep(self.interval_s)


class DeployedLists:
    """The lists of one kind that a worker serves, following the deployed version.

    ``current()`` is what recommenders call on every request: a plain attribute read.
    """

    def __init__(self, kind: str, client: redis.Redis, config: Config, catalog: Catalog) -> None:
        self.kind = kind
        self.client = client
        self.config = config
        self.catalog = catalog
        self._lists: RecommendationLists | None = None
        self._failed: set[str] = set()

    def current(self) -> RecommendationLists | None:
        """The lists being served now (None before any deployment)."""
        return self._lists

    @property
    def version(self) -> str | None:
        """The version being served now."""
        lists = self._lists
        return lists.version if lists is not None else None

    def refresh(self) -> None:
        """Load the deployed version if it differs from the served one."""
        try:
            version = decode(self.client.lindex(deploy_key(self.kind), 0))
        except redis.RedisError as e:
            log.warning("cannot read the deployed %s version: %s", self.kind, e)
            return
        if version is None or version == self.version or version in self._failed:
            return
        path = deployed_file(self.config.data_dir, self.kind, version)
        try:
            lists = load_lists(path, self.catalog, self.kind)
            if lists.version != version:
                raise ListsError(f"{path} has content version {lists.version}")
        except ListsError as e:
            self._failed.add(version)
            log.error("not serving %s version %s: %s", self.kind, version, e)
            return
        self._lists = lists
        log.info("serving %s version %s (%d lists)", self.kind, version, len(lists))


class ActiveExperiment:
    """The name of the experiment being served: Redis's choice, else the configured one."""

    def __init__(self, client: redis.Redis, config: Config) -> None:
        self.client = client
        self.config = config
        self.name = config.experiment

    def refresh(self) -> None:
        """Follow ``botify activate``; unknown names are logged and ignored."""
        try:
            name = decode(self.client.get(ACTIVE_EXPERIMENT_KEY))
        except redis.RedisError as e:
            log.warning("cannot read the active experiment: %s", e)
            return
        name = name or self.config.experiment
        if name not in self.config.experiments:
            log.error("ignoring unknown active experiment %r", name)
            return
        if name != self.name:
            log.info("serving experiment %s", name)
            self.name = name
