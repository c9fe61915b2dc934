"""The request path of ``/next`` and ``/last``: state update, recommendation, event log.

``Service`` holds what a worker keeps in memory (catalog, lists, experiments,
recommenders) and the two I/O edges (Redis, the event log). Each call of ``next`` or
``last`` makes one Redis round trip and writes one log line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
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
from botify.rollout.follow import ActiveExperiment, DeployedLists, Poller, ServedExperiments
from botify.state.store import UserState, UserStateStore

log = logging.getLogger(__name__)

DEGRADED = "random_redis_unavailable"


@dataclass
class Service:
    """Everything one worker needs to answer requests."""

    config: Config
    catalog: Catalog
    client: redis.Redis
    lists: dict[str, DeployedLists]
    event_log: EventLog

    def __post_init__(self) -> None:
        self.active_experiment = ActiveExperiment(self.client, self.config)
        served = ServedExperiments(self.client, self.config)
        watched = [*self.lists.values(), self.active_experiment, served]
        for setting in watched:
            setting.refresh()
        self.poller = Poller(self.config.deploy_check_s, watched)
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
        self._log_ready()
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
        self._log("next", user, track, listened, started, experiment, recommender, state,
                  recommendation, at)  # fmt: skip
        return {"user": user, "track": recommendation.track, "recommender": recommender.name}

    def last(
        self, user: int, track: int, listened: float, started: float, at: int | None = None
    ) -> dict:
        """``/last``: apply the session's final listen (ending the session) and log it."""
        self._log_ready()
        experiment = self.active
        recommender = self.recommenders[experiment.recommender(user)]
        artist = self.catalog.artist_of(track)
        state = self._update(user, lambda: self.store.on_last(user, track, listened, artist))
        self._log("last", user, track, listened, started, experiment, recommender, state, None, at)
        return {"user": user}

    def _log_ready(self) -> None:
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

    def _log(
        self,
        message: str,
        user: int,
        track: int,
        listened: float,
        started: float,
        experiment: Experiment,
        recommender: Recommender,
        state: UserState | None,
        recommendation: Recommendation | None,
        at: int | None = None,
    ) -> None:
        """Write the request's event: the one place where a SPEC §6 record is built.

        ``state`` is None when Redis was unreachable, ``recommendation`` None for ``/last``,
        ``at`` None unless the client dated the listen (else the service's clock dates it).
        """
        request_count, session, epoch = (
            (state.request, state.session, state.since) if state else (None, None, None)
        )
        r = recommendation
        recommended, served_by, version, candidates = (
            (r.track, r.served_by, r.model_version, r.candidates) if r else (None,) * 4
        )
        self.event_log.write(
            Event(
                message=message,
                timestamp=int(time.time() * 1000) if at is None else at,
                user=user,
                track=track,
                time=listened,
                latency=time.perf_counter() - started,
                recommendation=recommended,
                recommender=recommender.name,
                served_by=served_by,
                model_version=version,
                experiment=experiment.name,
                experiments=assignments(self.experiments.values(), user),
                request=request_count,
                session=session,
                candidates=candidates,
                degraded=state is None,
                epoch=epoch,
            )
        )

    def health(self) -> tuple[bool, dict]:
        """Whether Redis answers and runs the state script (a Redis refusing writes answers
        PING), and the event log can be written; and the body of ``/health``."""
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
        disagreements = [
            setting.disagreement
            for setting in [*self.lists.values(), self.active_experiment]
            if setting.disagreement
        ]
        ok = redis_status == "ok" and log_status == "ok"
        return ok, {
            "status": "ok" if ok else "degraded",
            "redis": redis_status,
            "log": log_status,
            "tracks": self.catalog.size,
            "experiment": self.active.name,
            # Redis and the durable record disagree: served from the record, said here.
            "control": "; ".join(disagreements) or "ok",
            "recommendations": {kind: lists.version for kind, lists in self.lists.items()},
        }
