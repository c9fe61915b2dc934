"""The baseline recommenders (docs/recommenders.md), each with its fallback."""

from __future__ import annotations

from collections.abc import Callable

from botify.data.catalog import Catalog
from botify.data.lists import LIST_KINDS, RecommendationLists
from botify.recommenders.base import Recommendation, Request, uniform_pick

ListsSource = Callable[[], RecommendationLists | None]
# served_by of a random track answered because a recommender had no data for the request.
RANDOM_FALLBACK = "random_fallback"


class RandomRecommender:
    """A uniformly random catalog track; also every other recommender's last resort."""

    name = "random"
    needs: frozenset[str] = frozenset()

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def recommend_next(self, request: Request) -> Recommendation:
        """A random track."""
        return self.fallback(request, self.name)

    def fallback(self, request: Request, reason: str) -> Recommendation:
        """A random track served instead of another recommender's, labelled ``reason``
        (the event's ``served_by``: ``random_fallback``, ``random_redis_unavailable``)."""
        size = self.catalog.size
        return Recommendation(request.rng.randrange(size), reason, propensity=1.0 / size)


class TopPopRecommender:
    """A random track among the ``n`` most popular of the catalog."""

    name = "toppop"
    needs: frozenset[str] = frozenset()

    def __init__(self, catalog: Catalog, n: int) -> None:
        self.top = catalog.top_popular(n)

    def recommend_next(self, request: Request) -> Recommendation:
        """A random top-``n`` track."""
        return uniform_pick(request.rng, self.top, self.name)


class StickyArtistRecommender:
    """A random other track of the previous track's artist."""

    name = "sticky_artist"
    needs: frozenset[str] = frozenset()

    def __init__(self, catalog: Catalog, last_resort: RandomRecommender) -> None:
        self.catalog = catalog
        self.last_resort = last_resort

    def recommend_next(self, request: Request) -> Recommendation:
        """A track of the same artist, or random when the artist has no other track."""
        tracks = self.catalog.tracks_of(self.catalog.artist_of(request.track))
        others = tracks[tracks != request.track]
        if len(others) == 0:
            return self.last_resort.fallback(request, RANDOM_FALLBACK)
        return uniform_pick(request.rng, others, self.name)


class ListRecommender:
    """A random track from a precomputed list keyed by the previous track or by the user.

    One per kind of ``LIST_KINDS``, named after it: ``contextual`` uses the deployed i2i
    lists (key: the previous track), ``indexed`` per-user lists (key: the user). Without a
    list the pick falls back to random.
    """

    needs: frozenset[str] = frozenset()

    def __init__(self, kind: str, lists: ListsSource, last_resort: RandomRecommender) -> None:
        self.name = kind
        self.lists = lists
        self.key_field = LIST_KINDS[kind].key_field
        self.last_resort = last_resort

    def recommend_next(self, request: Request) -> Recommendation:
        """A random list entry, or random when there is no list for the key."""
        lists = self.lists()
        key = getattr(request, self.key_field)
        candidates = lists.get(key) if lists is not None else ()
        if len(candidates) == 0:
            return self.last_resort.fallback(request, RANDOM_FALLBACK)
        return uniform_pick(request.rng, candidates, self.name, lists.version)
