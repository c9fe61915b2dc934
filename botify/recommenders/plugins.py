"""Recommenders written outside botify: ``module:Class`` arms and installed entry points.

An experiment arm ``"my_module:MyRecommender"`` is imported from ``PYTHONPATH`` (``botify
experiment run`` adds the spec's directory); an installed package can also name a class in
the entry-point group ``botify.recommenders`` and be used by that name. The class is built
with a ``PluginContext`` and has ``recommend_next(request)`` (``request.user``, ``.track``,
``.time``, ``.rng``, ``.state``) returning a track id or a ``Recommendation``; a class
attribute ``needs`` asks for user-state views (``botify.state.store.STATE_VIEWS``).

A plugin is guarded, not trusted: an answer that raises, is not a catalog track, has a field
of the wrong type (numpy integers and strings are taken as ``int`` and ``str``) or does not
come within ``BOTIFY_PLUGIN_TIMEOUT_S`` degrades that one request to a random track, logged
as ``served_by: random_plugin_error``, never a 500, and the error is logged for the plugin's
author. A plugin that leaks memory is bounded by ``BOTIFY_WORKER_MAX_RSS_MB``
(``botify.web.memory``).
"""

from __future__ import annotations

import importlib
import logging
import math
import operator
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from importlib.metadata import entry_points

from botify.config import Config
from botify.data.catalog import Catalog
from botify.recommenders.base import Recommendation, Request
from botify.recommenders.baselines import ListsSource, RandomRecommender

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "botify.recommenders"
PLUGIN_ERROR = "random_plugin_error"
# Threads per plugin and worker: as many as a worker's request threads.
PLUGIN_THREADS = 4


class PluginError(ValueError):
    """A plugin recommender cannot be loaded or built."""


@dataclass(frozen=True)
class PluginContext:
    """What a plugin is built with.

    ``catalog``: ``artist_of(track)``, ``tracks_of(artist)`` (an array), ``size``,
    ``popularity`` (an array by track), ``genres``; ``lists``: the deployed lists by kind,
    each a function returning the lists served now (``.get(key)`` → an id array), or None;
    ``config``: the service's ``Config``.
    """

    catalog: Catalog
    lists: Mapping[str, ListsSource]
    config: Config


def is_plugin_name(name: str) -> bool:
    """Whether an arm names a ``module:Class`` plugin."""
    return ":" in name


def load_plugin_class(name: str) -> type:
    """The class an arm names: ``module:Class``, or an entry point of ``botify.recommenders``."""
    if is_plugin_name(name):
        module_name, _, attribute = name.partition(":")
        try:
            module = importlib.import_module(module_name)
        except Exception as e:  # any error while importing the user's module
            raise PluginError(f"cannot import {module_name!r} for {name!r}: {e!r}") from None
        try:
            return getattr(module, attribute)
        except AttributeError:
            raise PluginError(f"module {module_name!r} has no {attribute!r}") from None
    found = entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not found:
        raise PluginError(
            f"unknown recommender {name!r}: not built in, not an entry point of "
            f"{ENTRY_POINT_GROUP}, and not module:Class"
        )
    try:
        return next(iter(found)).load()
    except Exception as e:
        raise PluginError(f"cannot load entry point {name!r}: {e!r}") from None


def _track_id(value: object) -> int:
    # operator.index takes ints and numpy integers but refuses floats ("3.7" is no track).
    if isinstance(value, bool):
        raise TypeError("a bool is not a track id")
    return operator.index(value)


def normalised(answer: object, name: str) -> Recommendation:
    """A plugin's answer (a track id or a ``Recommendation``) as a ``Recommendation`` of
    plain Python values, as the event log writes them: numpy integers and strings become
    ``int`` and ``str``; ``TypeError``/``ValueError`` naming a field of another type."""
    if not isinstance(answer, Recommendation):
        return Recommendation(_track_id(answer), name)
    if not isinstance(answer.served_by, str):
        raise TypeError(f"served_by must be a str, got {type(answer.served_by).__name__}")
    if answer.model_version is not None and not isinstance(answer.model_version, str):
        raise TypeError(
            f"model_version must be a str or None, got {type(answer.model_version).__name__}"
        )
    candidates = _track_id(answer.candidates)
    if candidates < 0:
        raise ValueError(f"candidates must be >= 0, got {candidates}")
    return Recommendation(
        track=_track_id(answer.track),
        served_by=str(answer.served_by),
        candidates=candidates,
        model_version=None if answer.model_version is None else str(answer.model_version),
    )


class PluginTimeout(Exception):
    """A plugin did not answer within its time budget."""


class PluginRecommender:
    """A plugin instance behind the recommender interface, with its answers checked and
    each call bounded by ``timeout_s``.

    A call runs on a small pool of threads of its own while the request's thread waits at
    most ``timeout_s``: a plugin that hangs costs its users a fallback after that long,
    never a request thread (other arms and ``/health`` keep answering). Calls of a plugin
    that hangs for good queue behind its stuck threads and time out in turn.
    """

    def __init__(
        self,
        name: str,
        instance: object,
        last_resort: RandomRecommender,
        timeout_s: float = Config.plugin_timeout_s,
    ) -> None:
        if not callable(getattr(instance, "recommend_next", None)):
            raise PluginError(f"{name!r} has no recommend_next(request) method")
        self.name = name
        self.needs = frozenset(getattr(instance, "needs", ()))
        self.instance = instance
        self.last_resort = last_resort
        self.timeout_s = timeout_s
        self.failures = 0
        self._calls: ThreadPoolExecutor | None = None
        self._pid: int | None = None

    def _pool(self) -> ThreadPoolExecutor:
        # One per process: a pool made before gunicorn forks would have no threads after.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._calls = ThreadPoolExecutor(PLUGIN_THREADS, thread_name_prefix=self.name)
        return self._calls

    def _call(self, request: Request) -> object:
        future = self._pool().submit(self.instance.recommend_next, request)
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout:
            future.cancel()
            raise PluginTimeout(
                f"no answer within BOTIFY_PLUGIN_TIMEOUT_S={self.timeout_s:g} s"
            ) from None

    def recommend_next(self, request: Request) -> Recommendation:
        """The plugin's answer, or a random track if it raised, answered a non-track or a
        field of the wrong type, or did not answer in time."""
        try:
            recommendation = normalised(self._call(request), self.name)
            if not 0 <= recommendation.track < self.last_resort.catalog.size:
                raise ValueError(f"track {recommendation.track} is not in the catalog")
        except Exception as e:
            self.failures += 1
            # The first failure with its trace; then one line per power of ten, so a plugin
            # failing on every request does not bury the log.
            if self.failures == 1:
                log.error(
                    "recommender %s failed for user %d: %r",
                    self.name,
                    request.user,
                    e,
                    exc_info=not isinstance(e, PluginTimeout),
                )
            elif math.log10(self.failures).is_integer():
                log.error(
                    "recommender %s has failed %d times (last: %r)", self.name, self.failures, e
                )
            return self.last_resort.fallback(request, PLUGIN_ERROR)
        return recommendation


def build_plugin(name: str, context: PluginContext, last_resort: RandomRecommender):
    """Load and build the plugin ``name`` (``PluginError`` when it cannot be)."""
    cls = load_plugin_class(name)
    try:
        instance = cls(context)
    except Exception as e:
        raise PluginError(f"building {name!r} failed: {e!r}") from None
    return PluginRecommender(name, instance, last_resort, context.config.plugin_timeout_s)
