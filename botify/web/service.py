"""The request path of ``/next`` and ``/last``: state update, recommendation, event log.

``Service`` holds what a worker keeps in memory (catalog, lists, experiments,
recommenders) and the two I/O edges (Redis, the event log). Each call of ``next`` or
``last`` makes one Redis round trip and writes one log line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import redis

from botify.config import Config
from botify.data.catalog import Catalog
from botify.logs.schema import Event
from botify.logs.writer import EventLog, LogUnavailable
from botify.recommenders.base import Recommendation, Recommender, Request
from botify.recommenders.baselines import RandomRecommender
from botify.recommenders.registry import build_recommenders
from botify.recommenders.rng import request_rng
from botify.rollout.experiments import Experiment, assignments
from botify.rollout.follow import (
    ActiveExperiment,
    ControlPlane,
    DeployedLists,
    Poller,
    ServedExperiments,
)
from botify.state.store import UserState, UserStateStore
from botify.web.memory import MemoryGuard

log = logging.getLogger(__name__)

DEGRADED = "random_redis_unavailable"


@dataclass(frozen=True)
class Answered:
    """One answered ``/next`` or ``/last``: what its event line records.

    ``started`` is the ``time.perf_counter()`` of the request's arrival, ``state`` None when
    Redis was unreachable, ``recommendation`` None for ``/last``, ``at`` the client's
    timestamp of the listen (ms; None: the service's clock dates the event).
    """

    message: str
    user: int
    track: int
    listened: float
    started: float
    experiment: Experiment
    recommender: Recommender
    state: UserState | None
    recommendation: Recommendation | None = None
    at: int | None = None

    def event(self, experiments: Iterable[Experiment]) -> Event:
        """The event record of this answer (docs/events.md), stamped now; ``experiments``:
        every configured experiment, for the user's treatment in each."""
        state, r = self.state, self.recommendation
        request_count, session, epoch = (
            (state.request, state.session, state.since) if state else (None, None, None)
        )
        recommended, served_by, version, candidates, propensity = (
            (r.track, r.served_by, r.model_version, r.candidates, r.propensity)
            if r
            else (None,) * 5
        )
        return Event(
            message=self.message,
            timestamp=int(time.time() * 1000) if self.at is None else self.at,
            user=self.user,
            track=self.track,
            time=self.listened,
            latency=time.perf_counter() - self.started,
            recommendation=recommended,
            recommender=self.recommender.name,
            served_by=served_by,
            model_version=version,
            experiment=self.experiment.name,
            experiments=assignments(experiments, self.user),
            request=request_count,
            session=session,
            candidates=candidates,
            degraded=state is None,
            epoch=epoch,
            propensity=propensity,
        )


@dataclass
class Service:
    """Everything one worker needs to answer requests."""

    config: Config
    catalog: Catalog
    client: redis.Redis
    lists: dict[str, DeployedLists]
    event_log: EventLog
    # The durable record's reader that ``lists`` share (one made here when None).
    control: ControlPlane | None = None

    def __post_init__(self) -> None:
        if self.control is None:
            self.control = ControlPlane(self.client, self.config)
        self.active_experiment = ActiveExperiment(self.client, self.config, self.control)
        served = ServedExperiments(self.client, self.config)
        watched = [*self.lists.values(), self.active_experiment, served]
        for setting in watched:
            setting.refresh()
        # Measured from the worker's poller on, not in the process that builds the app.
        self.memory = MemoryGuard(self.config.worker_max_rss_mb)
        self.poller = Poller(self.config.deploy_check_s, [*watched, self.memory])
        self.store = UserStateStore(self.client, self.config)
        self.recommenders = build_recommenders(
            self.catalog, {kind: lists.current for kind, lists in self.lists.items()}, self.config
        )
        # The degraded answer when Redis is unreachable.
        self.random: RandomRecommender = self.recommenders["random"]
        # Every arm names a recommender: build_recommenders built each one or refused.
        self.experiments = {
            name: Experiment(name, arms) for name, arms in self.config.experiments.items()
        }

    def get_ready(self) -> None:
        """Load what is deployed now (lists, active experiment) and follow it from here on:
        a forked worker calls this before it takes connections (``botify.serving.worker``).

        Every worker follows deployments from its start, not from its first request: a
        worker that kept-alive clients never reach must still answer ``/health`` truly.
        """
        for setting in self.poller.watched:
            setting.refresh()
        self.poller.ensure_running()

    @property
    def active(self) -> Experiment:
        """The experiment being served now (``botify activate`` switches it)."""
        return self.experiments[self.active_experiment.name]

    def next(
        self, user: int, track: int, listened: float, started: float, at: int | None = None
    ) -> dict:
        """``/next``: apply the listen, recommend the next track, log; the answer's body.
        ``at`` is the client's timestamp of the listen (ms; None: the service's clock).

        When Redis is unreachable the answer degrades to a random track and the event
        says so, instead of failing the request.
        """
        self._refuse_while_log_fails()
        experiment = self.active
        recommender = self.recommenders[experiment.recommender(user)]
        artist = self.catalog.artist_of(track)
        state = self._update(
            user,
            lambda: self.store.on_next(user, track, listened, artist, recommender.needs),
        )
        rng = request_rng(self.config.seed, user, track, state.request if state else 0)
        request = Request(user, track, listened, rng, state)
        if state is None:
            recommendation = self.random.fallback(request, DEGRADED)
        else:
            recommendation = recommender.recommend_next(request)
        answered = Answered(
            "next", user, track, listened, started, experiment, recommender, state, recommendation,
            at,
        )  # fmt: skip
        self.event_log.write(answered.event(self.experiments.values()))
        return {"user": user, "track": recommendation.track, "recommender": recommender.name}

    def last(
        self, user: int, track: int, listened: float, started: float, at: int | None = None
    ) -> dict:
        """``/last``: apply the session's final listen (ending the session) and log it."""
        self._refuse_while_log_fails()
        experiment = self.active
        recommender = self.recommenders[experiment.recommender(user)]
        artist = self.catalog.artist_of(track)
        state = self._update(user, lambda: self.store.on_last(user, track, listened, artist))
        answered = Answered(
            "last", user, track, listened, started, experiment, recommender, state, None, at
        )
        self.event_log.write(answered.event(self.experiments.values()))
        return {"user": user}

    def _refuse_while_log_fails(self) -> None:
        """Raise ``LogUnavailable`` while the event log is failing, before the request
        changes any state: a request that cannot be logged is refused, not answered."""
        if self.event_log.error is not None:
            error = self.event_log.check()
            if error is not None:
                raise LogUnavailable(error)

    def _update(self, user: int, update: Callable[[], UserState]) -> UserState | None:
        """The user's state after ``update`` (a store call); None when Redis is unreachable."""
        try:
            return update()
        except redis.RedisError as e:
            log.warning("Redis unavailable, degraded answer for user %d: %s", user, e)
            return None

    def health(self) -> tuple[bool, dict]:
        """Whether Redis answers and runs the state script (a Redis refusing writes answers
        PING), the event log can be written and the worker is within its memory limit; and
        the body of ``/health``."""
        try:
            self.client.ping()
        except redis.RedisError as e:
            redis_status = f"unavailable: {e}"
        else:
            try:
                self.store.probe()
                redis_status = "ok"
            except redis.RedisError as e:
                redis_status = f"the state script fails: {e}"
        log_status = self.event_log.check() or "ok"
        disagreements = [self.control.problem] if self.control.problem else []
        disagreements += [
            setting.disagreement
            for setting in [*self.lists.values(), self.active_experiment]
            if setting.disagreement
        ]
        memory_status = self.memory.status()
        ok = redis_status == "ok" and log_status == "ok" and memory_status == "ok"
        return ok, {
            "status": "ok" if ok else "degraded",
            "redis": redis_status,
            "log": log_status,
            "tracks": self.catalog.size,
            "experiment": self.active.name,
            # The durable record is corrupt, or Redis and the record disagree: served from
            # the record (or its last good copy), said here.
            "control": "; ".join(disagreements) or "ok",
            "recommendations": {kind: lists.version for kind, lists in self.lists.items()},
            "memory": memory_status,
        }
