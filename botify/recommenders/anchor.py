"""The seed's "anchor" recommender (docs/recommenders.md) and its variants.

Steps 1–3 of the anchor (artist rating, last good track, fails, best track, the anchor choice)
run inside the atomic Redis script (``botify/state/listen.lua``); what arrives here is their
result in ``request.state``. This module does steps 4–5: the candidates from the anchor's
i2i list, else the favourite artist's tracks except the user's last one of that artist,
and the pick among them.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator

import numpy as np

from botify.data.catalog import Catalog
from botify.data.lists import RecommendationLists
from botify.recommenders.base import Recommendation, Request, uniform_pick
from botify.recommenders.baselines import RANDOM_FALLBACK, ListsSource, RandomRecommender

_EMPTY = np.empty(0, dtype=np.int64)

# Picks among the candidates: the answer, served_by and model version given.
Chooser = Callable[[random.Random, np.ndarray, str, str | None], Recommendation]


def candidate_sources(
    request: Request, catalog: Catalog, lists: RecommendationLists | None
) -> Iterator[tuple[np.ndarray, str]]:
    """The anchor's steps 4–5 in order: the anchor's i2i list, then the favourite artist's tracks
    except the user's last one of that artist. Each with its source name; a source is
    computed only when the ones before it did not do."""
    state = request.state
    anchor = state.anchor if state is not None and state.anchor is not None else request.track
    yield (lists.get(anchor) if lists is not None else _EMPTY), "i2i"
    if state is not None and state.fav_artist is not None:
        tracks = catalog.tracks_of(state.fav_artist)
        yield tracks[tracks != state.fav_artist_last], "fav_artist"


class AnchorRecommender:
    """The anchor: a random candidate of the anchor's i2i list or the favourite artist."""

    needs: frozenset[str] = frozenset()

    def __init__(
        self,
        catalog: Catalog,
        i2i: ListsSource,
        last_resort: RandomRecommender,
        name: str = "anchor",
        choose: Chooser = uniform_pick,
    ) -> None:
        self.name = name
        self.catalog = catalog
        self.i2i = i2i
        self.last_resort = last_resort
        self.choose = choose

    def candidates(
        self, request: Request, lists: RecommendationLists | None
    ) -> tuple[np.ndarray, str]:
        """The candidates to choose from and their source (``i2i``, ``fav_artist``, ``none``)."""
        for candidates, source in candidate_sources(request, self.catalog, lists):
            if len(candidates):
                return candidates, source
        return _EMPTY, "none"

    def recommend_next(self, request: Request) -> Recommendation:
        """The chosen candidate, or random when there is none."""
        lists = self.i2i()
        candidates, source = self.candidates(request, lists)
        if len(candidates) == 0:
            return self.last_resort.fallback(request, RANDOM_FALLBACK)
        served_by = self.name if source == "i2i" else f"{self.name}_{source}"
        version = lists.version if source == "i2i" else None
        return self.choose(request.rng, candidates, served_by, version)


def most_popular(catalog: Catalog) -> Chooser:
    """A chooser that takes the most popular candidate (the first of equals): a
    deterministic choice, propensity 1."""

    def choose(
        _rng: random.Random, candidates: np.ndarray, served_by: str, version: str | None
    ) -> Recommendation:
        track = int(candidates[int(np.argmax(catalog.popularity[candidates]))])
        return Recommendation(
            track, served_by, len(candidates), version, 1.0, np.array([track], dtype=np.int64)
        )

    return choose


def unplayed_first(
    candidates: np.ndarray, played: frozenset[int], played_artists: set[int], catalog: Catalog
) -> np.ndarray:
    """The candidates not played in the session, those of artists not played yet only if
    there are any (empty when every candidate was played).

    Set lookups, not ``np.isin``: for lists of tens of tracks and sessions of tens of
    tracks they cost far less than the sorting ``np.isin`` does.
    """
    unplayed = candidates[[track not in played for track in candidates.tolist()]]
    artists = catalog.track_artist[unplayed].tolist()
    new_artist = [artist not in played_artists for artist in artists]
    return unplayed[new_artist] if any(new_artist) else unplayed


class FreshAnchorRecommender(AnchorRecommender):
    """Anchor that never repeats a track of the session and spreads artists.

    The simulated (and real) listener gives a replayed track no time and discounts every
    further play of an artist, so among the anchor's candidates it drops tracks already
    played in the session and prefers artists not yet played; when that empties the
    list it widens to the favourite artist's tracks, then to a random track.
    """

    needs = frozenset({"played"})

    def __init__(
        self,
        catalog: Catalog,
        i2i: ListsSource,
        last_resort: RandomRecommender,
        name: str = "anchor_fresh",
    ) -> None:
        super().__init__(catalog, i2i, last_resort, name=name)

    def candidates(
        self, request: Request, lists: RecommendationLists | None
    ) -> tuple[np.ndarray, str]:
        """Unplayed candidates, new artists first; source as for anchor."""
        played = request.state.played if request.state is not None else frozenset()
        played_artists = set(self.catalog.track_artist[list(played)].tolist())
        for candidates, source in candidate_sources(request, self.catalog, lists):
            fresh = unplayed_first(candidates, played, played_artists, self.catalog)
            if fresh.size:
                return fresh, source
        return _EMPTY, "none"


class SessionAnchorRecommender(FreshAnchorRecommender):
    """anchor_fresh whose anchor is the whole session so far, not only its last good track.

    A session's listens all come from one interest; each well-listened track (the user's
    own first track included) is evidence of it. The candidates are the i2i lists of the
    session's last ``GOOD_LISTENS_KEPT`` good tracks (kept by the state script), each
    weighted by the listen time of the track whose list names it, so a track that several
    good tracks point to outranks one that a single list names. It takes the best-weighted
    candidate that is not played yet, of an artist not played yet when there is one (ties:
    the request's rng), and falls back as anchor_fresh does. The whole session is what helps
    where one track says little about the interest: on a world whose artists stray far from
    their genres, where a single good track's list often leads away.
    """

    needs = frozenset({"played", "good_listens"})

    def __init__(
        self,
        catalog: Catalog,
        i2i: ListsSource,
        last_resort: RandomRecommender,
    ) -> None:
        super().__init__(catalog, i2i, last_resort, name="anchor_session")

    def candidates(
        self, request: Request, lists: RecommendationLists | None
    ) -> tuple[np.ndarray, str]:
        """The best candidates of the good tracks' lists; else as anchor_fresh."""
        state = request.state
        played = state.played if state is not None else frozenset()
        played_artists = set(self.catalog.track_artist[list(played)].tolist())
        good = state.good_listens if state is not None else ()
        if lists is not None and good:
            named = [(lists.get(track), time) for track, time in good]
            tracks = np.concatenate([items for items, _ in named])
            weights = np.repeat([time for _, time in named], [items.size for items, _ in named])
            unique, which = np.unique(tracks, return_inverse=True)
            # bincount adds in input order: the same weights on every machine.
            score = np.bincount(which, weights, minlength=unique.size)
            order = np.argsort(-score, kind="stable")
            best = self._best(unique[order].tolist(), score[order].tolist(), played, played_artists)
            if best.size:
                return best, "i2i"
        for candidates, source in itertools.islice(
            candidate_sources(request, self.catalog, lists), 1, None
        ):
            fresh = unplayed_first(candidates, played, played_artists, self.catalog)
            if fresh.size:
                return fresh, source
        return _EMPTY, "none"

    def _best(
        self, ranked: list[int], scores: list[float], played: frozenset[int], artists: set[int]
    ) -> np.ndarray:
        """The best-scored unplayed candidates (``ranked`` best first), of artists not yet
        played if any; a walk down the ranking stops at the first worse score."""
        track_artist = self.catalog.track_artist
        for new_artist_only in (True, False):
            best, picks = None, []
            for track, value in zip(ranked, scores, strict=True):
                if best is not None and value < best:
                    break
                if track in played or (new_artist_only and int(track_artist[track]) in artists):
                    continue
                best = value
                picks.append(track)
            if picks:
                return np.array(picks, dtype=np.int64)
        return _EMPTY
