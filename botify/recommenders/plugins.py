"""Recommenders written outside botify: ``module:Class`` arms and installed entry points.

An experiment arm ``"my_module:MyRecommender"`` is imported from ``PYTHONPATH`` (``botify
experiment run`` adds the spec's directory); an installed package can also name a class in
the entry-point group ``botify.recommenders`` and be used by that name. The class is built
with a ``PluginContext`` and has ``recommend_next(request)`` (``request.user``, ``.track``,
``.time``, ``.rng``, ``.state``) returning a track id or a ``Recommendation``; a class
attribute ``needs`` asks for user-state views (``botify.state.store.STATE_VIEWS``).

A plugin is guarded, not trusted: an answer that raises or is not a catalog track degrades
that one request to a random track, logged as ``served_by: random_plugin_error``, never a
500, and the error is logged for the plugin's author.
"""

from __future__ import annotations

import importlib
import logging
import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib.metadata import entry_points

from botify.config import Config
from botify.data.catalog import Catalog
from botify.recommenders.base import Recommendation, Request
from botify.recommenders.baselines import ListsSource, RandomRecommender

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "botify.recommenders"
PLUGIN_ERROR = "random_plugin_error"


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


class PluginRecommender:
    """A plugin instance behind the recommender interface, with its answers checked."""

    def __init__(self, name: str, instance: object, last_resort: RandomRecommender) -> None:
        if not callable(getattr(instance, "recommend_next", None)):
            raise PluginError(f"{name!r} has no recommend_next(request) method")
        self.name = name
        self.needs = frozenset(getattr(instance, "needs", ()))
        self.instance = instance
        self.last_resort = last_resort
        self.failures = 0

    def recommend_next(self, request: Request) -> Recommendation:
        """The plugin's answer, or a random track if it raised or answered a non-track."""
        try:
            answer = self.instance.recommend_next(request)
            if isinstance(answer, Recommendation):
                recommendation = replace(answer, track=_track_id(answer.track))
            else:
                recommendation = Recommendation(_track_id(answer), self.name)
            if not 0 <= recommendation.track < self.last_resort.catalog.size:
                raise ValueError(f"track {recommendation.track} is not in the catalog")
        except Exception:
            self.failures += 1
            # The first failure with its trace; then one line per power of ten, so a plugin
            # failing on every request does not bury the log.
            if self.failures == 1:
                log.exception("recommender %s failed for user %d", self.name, request.user)
            elif math.log10(self.failures).is_integer():
                log.error("recommender %s has failed %d times", self.name, self.failures)
            return self.last_resort.fallback(request, PLUGIN_ERROR)
        return recommendation


def build_plugin(name: str, context: PluginContext, last_resort: RandomRecommender):
    """Load and build the plugin ``name`` (``PluginError`` when it cannot be)."""
    cls = load_plugin_class(name)
    try:
        instance = cls(context)
    except Exception as e:
        raise PluginError(f"building {name!r} failed: {e!r}") from None
    return PluginRecommender(name, instance, last_resort)
