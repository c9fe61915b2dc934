"""How every worker follows what is deployed: list versions and the active experiment.

A daemon thread per (forked) worker polls once per ``BOTIFY_DEPLOY_CHECK_S`` and
refreshes each watched setting; requests only read attributes. A new list version is
loaded beside the old one and swapped in by one reference assignment, so no request waits
for a load or sees half a list, and a version that fails to load is logged while the old
one keeps serving.

What to serve comes from Redis (one read a poll) checked against the durable record
(``botify.rollout.control``, re-read only when its file changes): when the record says
something, it wins. Redis without the key (its data lost) is given the record back; Redis
saying something else is logged and reported by ``/health`` (``disagreement``), and the
worker keeps serving the record's choice instead of silently reverting.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from typing import Protocol

import redis

from botify.config import Config
from botify.data.catalog import Catalog
from botify.data.lists import ListsError, RecommendationLists, load_lists
from botify.rollout.control import ControlRecord, RecordReader, mirror
from botify.rollout.keys import (
    ACTIVE_EXPERIMENT_KEY,
    SERVED_EXPERIMENTS_KEY,
    decode,
    deploy_key,
    deployed_file,
)

log = logging.getLogger(__name__)
# Redis could not be read: the record alone decides.
UNREADABLE = object()


def reconcile(what: str, in_redis: object, recorded: str | None) -> tuple[object, str | None]:
    """What to serve for a setting, from Redis's value (``UNREADABLE`` when Redis failed,
    None when it lacks the key) and the durable record's (None: not recorded); and the
    disagreement to report, if any. The record wins whenever it says something."""
    if recorded is None:
        return (None if in_redis is UNREADABLE else in_redis), None
    if in_redis in (UNREADABLE, None, recorded):
        return recorded, None
    return (
        recorded,
        f"Redis says {what} {in_redis}, the durable record {recorded}: serving {recorded}",
    )


class ControlPlane:
    """A worker's view of the durable record, and the repair of a Redis that lost it.

    One per worker, shared by every followed setting: what is wrong with the record's file
    is logged once per change (not once a poll), and ``problem`` says it to ``/health``.
    """

    def __init__(self, client: redis.Redis, config: Config) -> None:
        self.client = client
        self.reader = RecordReader(config.data_dir)
        self.problem: str | None = None

    def record(self) -> ControlRecord | None:
        """The durable record (its last good copy when the file is corrupt; None when
        there is none)."""
        record = self.reader.read()
        if self.reader.problem != self.problem:
            if self.reader.problem is not None:
                log.error("control record: %s", self.reader.problem)
            else:
                log.info("control record %s readable again", self.reader.path)
            self.problem = self.reader.problem
        return record

    def restore(self, what: str) -> None:
        """Give Redis the record back after it lost ``what`` (flushed, restarted empty)."""
        record = self.record()
        if record is None:
            return
        log.warning("Redis has no %s (its data was lost?): restoring it from the record", what)
        try:
            mirror(self.client, record)
        except redis.RedisError as e:
            log.warning("cannot restore the control plane into Redis: %s", e)


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

    def __init__(
        self,
        kind: str,
        client: redis.Redis,
        config: Config,
        catalog: Catalog,
        control: ControlPlane | None = None,
    ) -> None:
        self.kind = kind
        self.client = client
        self.config = config
        self.catalog = catalog
        self.control = control or ControlPlane(client, config)
        self.disagreement: str | None = None
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
            in_redis = decode(self.client.lindex(deploy_key(self.kind), 0))
        except redis.RedisError as e:
            log.warning("cannot read the deployed %s version: %s", self.kind, e)
            in_redis = UNREADABLE
        record = self.control.record()
        recorded = record.head(self.kind) if record else None
        version, disagreement = reconcile(f"{self.kind} version", in_redis, recorded)
        if in_redis is None and recorded is not None:
            self.control.restore(f"deployed {self.kind} version")
        if disagreement != self.disagreement and disagreement:
            log.error("%s", disagreement)
        self.disagreement = disagreement
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
    """The name of the experiment being served: the record's or Redis's choice, else the
    configured one."""

    def __init__(
        self, client: redis.Redis, config: Config, control: ControlPlane | None = None
    ) -> None:
        self.client = client
        self.config = config
        self.control = control or ControlPlane(client, config)
        self.disagreement: str | None = None
        self.name = config.experiment

    def refresh(self) -> None:
        """Follow ``botify activate``; unknown names are logged and ignored."""
        try:
            in_redis = decode(self.client.get(ACTIVE_EXPERIMENT_KEY))
        except redis.RedisError as e:
            log.warning("cannot read the active experiment: %s", e)
            in_redis = UNREADABLE
        record = self.control.record()
        recorded = record.active if record else None
        name, disagreement = reconcile("experiment", in_redis, recorded)
        if in_redis is None and recorded is not None:
            self.control.restore("active experiment")
        if disagreement != self.disagreement and disagreement:
            log.error("%s", disagreement)
        self.disagreement = disagreement
        if in_redis is UNREADABLE and recorded is None:
            return
        name = name or self.config.experiment
        if name not in self.config.experiments:
            log.error("ignoring unknown active experiment %r", name)
            return
        if name != self.name:
            log.info("serving experiment %s", name)
            self.name = name


class ServedExperiments:
    """Announces in Redis, on every poll, the experiments this worker can serve, so that
    ``botify activate`` refuses a name the running service does not know."""

    def __init__(self, client: redis.Redis, config: Config) -> None:
        self.client = client
        self.names = sorted(config.experiments)

    def refresh(self) -> None:
        """Say (again) what this worker serves, with the time it said it."""
        worker = f"{socket.gethostname()}:{os.getpid()}"
        announcement = {"experiments": self.names, "at": int(time.time() * 1000)}
        try:
            self.client.hset(SERVED_EXPERIMENTS_KEY, worker, json.dumps(announcement))
        except redis.RedisError as e:
            log.warning("cannot announce the served experiments: %s", e)
