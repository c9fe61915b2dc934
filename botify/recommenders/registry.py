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


def build_recommenders(
    catalog: Catalog, contextual: ListsSource, indexed: ListsSource, config: Config
) -> dict[str, Recommender]:
    """Every recommender the service offers, keyed by the name experiments use."""
    fallback = RandomRecommender(catalog)
    recommenders: list[Recommender] = [
        fallback,
        TopPopRecommender(catalog, config.toppop_n),
        StickyArtistRecommender(catalog, fallback),
        ListRecommender("indexed", indexed, by_user=True, fallback=fallback),
        ListRecommender("contextual", contextual, by_user=False, fallback=fallback),
        AnchorRecommender(catalog, contextual, fallback),
        AnchorRecommender(
            catalog, contextual, fallback, name="anchor_popular", choose=most_popular(catalog)
        ),
        FreshAnchorRecommender(catalog, contextual, fallback),
    ]
    return {r.name: r for r in recommenders}
