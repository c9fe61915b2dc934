"""Recommenders by name: what an experiment's treatment map refers to.

The built-in recommenders, plus every plugin (``module:Class`` or an entry-point name) that
a configured experiment names, built once at start-up so that an arm that cannot be served
stops the service before it answers anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from botify.config import Config
from botify.data.catalog import Catalog, build_catalog
from botify.data.lists import LIST_KINDS, RecommendationLists
from botify.recommenders.anchor import (
    AnchorRecommender,
    FreshAnchorRecommender,
    SessionAnchorRecommender,
    most_popular,
)
from botify.recommenders.base import Recommender
from botify.recommenders.baselines import (
    ListRecommender,
    ListsSource,
    RandomRecommender,
    StickyArtistRecommender,
    TopPopRecommender,
)
from botify.recommenders.exploration import ExploringRecommender
from botify.recommenders.plugins import (
    PluginContext,
    PluginError,
    build_plugin,
    load_plugin_class,
)
from botify.state.store import check_needs

# The recommenders that serve trained lists, and so explore (see ``exploration``).
LIST_BASED = frozenset({*LIST_KINDS, "anchor", "anchor_popular", "anchor_fresh", "anchor_session"})


def build_recommenders(
    catalog: Catalog, lists: Mapping[str, ListsSource], config: Config
) -> dict[str, Recommender]:
    """Every recommender the service offers, keyed by the name experiments use.

    ``lists`` gives the lists served now by kind (``LIST_KINDS``); a kind it leaves out has
    none, so its recommender falls back.
    """
    unknown = sorted(set(lists) - set(LIST_KINDS))
    if unknown:
        raise ValueError(f"unknown list kinds {unknown}; known: {', '.join(LIST_KINDS)}")
    source = {kind: lists.get(kind, _no_lists) for kind in LIST_KINDS}
    contextual = source["contextual"]
    random = RandomRecommender(catalog)
    recommenders: list[Recommender] = [
        random,
        TopPopRecommender(catalog, config.toppop_n),
        StickyArtistRecommender(catalog, random),
        *(ListRecommender(kind, source[kind], random) for kind in LIST_KINDS),
        AnchorRecommender(catalog, contextual, random),
        AnchorRecommender(
            catalog, contextual, random, name="anchor_popular", choose=most_popular(catalog)
        ),
        FreshAnchorRecommender(catalog, contextual, random),
        SessionAnchorRecommender(catalog, contextual, random),
    ]
    if config.explore > 0:
        recommenders = [
            ExploringRecommender(r, catalog.size, config.explore) if r.name in LIST_BASED else r
            for r in recommenders
        ]
    built_in = {r.name for r in recommenders}
    context = PluginContext(catalog, source, config)
    named = sorted({name for arms in config.experiments.values() for name in arms.values()})
    try:
        recommenders += [
            build_plugin(name, context, random) for name in named if name not in built_in
        ]
    except PluginError as e:
        raise PluginError(f"{e}; built in: {', '.join(sorted(built_in))}") from None
    for recommender in recommenders:
        # Here, at start-up, rather than on the request that would first need it.
        check_needs(recommender.name, recommender.needs)
    return {r.name: r for r in recommenders}


def _no_lists() -> RecommendationLists | None:
    return None


def check_recommender_names(names: Iterable[str]) -> None:
    """Raise ``ValueError`` (``PluginError``) naming the first of ``names`` that is neither a
    built-in recommender nor a plugin class that imports, has ``recommend_next`` and needs
    only known state (building it needs the real catalog: the service does that)."""
    catalog = build_catalog([{"track": 0, "artist": "-", "title": "-", "genre": "-"}])
    built_in = build_recommenders(catalog, {}, Config(experiments={}))
    for name in names:
        if name not in built_in:
            cls = load_plugin_class(name)
            if not callable(getattr(cls, "recommend_next", None)):
                raise PluginError(f"{name!r} has no recommend_next(request) method")
            check_needs(name, getattr(cls, "needs", ()))
