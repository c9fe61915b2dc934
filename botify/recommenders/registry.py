"""Recommenders by name: what an experiment's treatment map refers to."""

from __future__ import annotations

from collections.abc import Mapping

from botify.config import Config
from botify.data.catalog import Catalog
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
from botify.state.store import check_needs


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
        SessionAnchorRecommender(catalog, contextual, random, config.good_time),
    ]
    for recommender in recommenders:
        # Here, at start-up, rather than on the request that would first need it.
        check_needs(recommender.name, recommender.needs)
    return {r.name: r for r in recommenders}


def _no_lists() -> RecommendationLists | None:
    return None
