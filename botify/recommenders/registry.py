"""Recommenders by name: what an experiment's treatment map refers to."""

from __future__ import annotations

from botify.config import Config
from botify.data.catalog import Catalog
from botify.recommenders.anchor import AnchorRecommender, FreshAnchorRecommender, most_popular
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
    catalog: Catalog, contextual: ListsSource, indexed: ListsSource, config: Config
) -> dict[str, Recommender]:
    """Every recommender the service offers, keyed by the name experiments use."""
    random = RandomRecommender(catalog)
    recommenders: list[Recommender] = [
        random,
        TopPopRecommender(catalog, config.toppop_n),
        StickyArtistRecommender(catalog, random),
        ListRecommender("indexed", indexed, by_user=True, last_resort=random),
        ListRecommender("contextual", contextual, by_user=False, last_resort=random),
        AnchorRecommender(catalog, contextual, random),
        AnchorRecommender(
            catalog, contextual, random, name="anchor_popular", choose=most_popular(catalog)
        ),
        FreshAnchorRecommender(catalog, contextual, random),
    ]
    for recommender in recommenders:
        # Here, at start-up, rather than on the request that would first need it.
        check_needs(recommender.name, recommender.needs)
    return {r.name: r for r in recommenders}
