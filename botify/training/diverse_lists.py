"""From artist affinities to i2i lists that spread over artists.

A listener discounts every further play of an artist in a session (the simulator by 0.8 per
play), so a list of nearest tracks only, crowded with a few artists, makes short sessions
however good its tracks are: lists must spread over artists. Each list here
holds the tracks of the ``k`` artists with the highest affinity to the key's artist (never
the key's own artist), at most ``per_artist`` each: which tracks of an artist, and which of
equally good artists, is decided by a hash of (key, candidate), so that keys spread over
the catalog instead of all naming the same few tracks, and the result is the same on any
machine and for any batch size. One track per artist (``PER_ARTIST``) spreads the most:
the artist discount makes a second track of an artist worth less than a first of another.
"""

from __future__ import annotations

import numpy as np

from botify.training.affinity import ArtistAffinity

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def pair_hash(left: np.ndarray, right: np.ndarray, seed: int = 0) -> np.ndarray:
    """A 64-bit hash of each (left, right) pair of non-negative integers (splitmix64).

    The same finaliser as the simulator's ``sim/streams.py``, written again here on
    purpose: botify and sim may not import each other (an import-linter contract: they meet
    only over HTTP), no library both depend on offers splitmix64, and another hash would
    change every trained list.
    """

    def mix(z: np.ndarray) -> np.ndarray:
        z = z + _GOLDEN
        with np.errstate(over="ignore"):
            z = (z ^ (z >> np.uint64(30))) * _MIX_1
            z = (z ^ (z >> np.uint64(27))) * _MIX_2
        return z ^ (z >> np.uint64(31))

    base = mix(np.uint64(seed) ^ mix(np.asarray(left, dtype=np.uint64)))
    return mix(base ^ np.asarray(right, dtype=np.uint64))


def ranked_artists(affinity: ArtistAffinity, n: int, seed: int = 0) -> np.ndarray:
    """For every artist, the ``n`` other artists of highest affinity, best first.
    Shape ``(n_artists, min(n, n_artists - 1))``.

    An artist pair the logs say nothing about has its genre pair's affinity, so a row is a
    few observed pairs over a background that is constant per genre. Each row therefore
    looks only at its observed pairs and, genre by genre from the best, at as many of a
    genre's artists as could make the top ``n``: linear in the row's data instead of in the
    number of artists, which a dense sort of every row would be. Among the
    equal artists of one genre the order is the genre's hash order, rotated by a hash of the
    row, so that rows spread over the genre; other ties are broken by a hash of the pair.
    """
    n_artists, genre = affinity.n_artists, affinity.genre_of_artist
    n = min(n, n_artists - 1)
    by_genre = np.lexsort((pair_hash(genre, np.arange(n_artists), seed), genre))
    sizes = np.bincount(genre, minlength=affinity.genre_mean.shape[0])
    starts = np.concatenate(([0], np.cumsum(sizes)))
    strength = affinity.artist_strength
    # The affinity of a pair without data, by the same arithmetic as one with data.
    background = (strength * affinity.genre_mean) / strength
    weights, sums = affinity.pair_weight, affinity.pair_sum
    ranked = np.empty((n_artists, n), dtype=np.int64)
    for artist in range(n_artists):
        row = slice(weights.indptr[artist], weights.indptr[artist + 1])
        observed = weights.indices[row].astype(np.int64)
        prior = affinity.genre_mean[genre[artist], genre[observed]]
        observed_scores = (sums.data[row] + strength * prior) / (weights.data[row] + strength)
        values = background[genre[artist]]
        genre_order = np.lexsort((np.arange(values.size), -values))
        need = n + observed.size + 1
        used = genre_order[: int(np.searchsorted(np.cumsum(sizes[genre_order]), need)) + 1]
        used = used[sizes[used] > 0]
        offsets = pair_hash(np.full(used.size, artist), used, seed) % sizes[used].astype(np.uint64)
        takes = np.minimum(sizes[used], need)
        positions = np.concatenate([np.arange(take) for take in takes])
        members = np.repeat(used, takes)
        rotated = (np.repeat(offsets.astype(np.int64), takes) + positions) % sizes[members]
        others = by_genre[starts[members] + rotated]
        fresh = ~np.isin(others, observed) & (others != artist)
        candidates = np.concatenate([others[fresh], observed])
        scores = np.concatenate([values[members[fresh]], observed_scores])
        # Ties: artists without data first, in rotation order; then by a hash of the pair.
        tie = np.concatenate(
            [
                np.arange(int(fresh.sum()), dtype=np.uint64),
                pair_hash(np.full(observed.size, artist), observed, seed) | np.uint64(1 << 63),
            ]
        )
        ranked[artist] = candidates[np.lexsort((tie, -scores))[:n]]
    return ranked


def track_lists(
    ranked: np.ndarray,
    track_artist: np.ndarray,
    k: int,
    per_artist: int,
    seed: int = 0,
    preferred: np.ndarray | None = None,
    key_group: np.ndarray | None = None,
) -> dict[int, np.ndarray]:
    """Every track's list: up to ``per_artist`` tracks of each of its artist's ranked
    artists, in rank order, cut at ``k``. Which tracks of an artist: the track
    ``preferred[key_group[key], artist]`` first where there is one (-1: none; ``key_group``
    is required with ``preferred``), the others by a hash of (key, artist)."""
    n_tracks = track_artist.size
    by_artist = np.argsort(track_artist, kind="stable")
    counts = np.bincount(track_artist, minlength=ranked.shape[0])
    offsets = np.concatenate(([0], np.cumsum(counts)))
    keys = np.arange(n_tracks)
    artists = ranked[track_artist]  # (tracks, ranked artists)
    sizes = counts[artists]
    start = (pair_hash(keys[:, None], artists, seed + 1) % sizes.astype(np.uint64)).astype(np.int64)
    picks = np.full((n_tracks, artists.shape[1], per_artist), -1, dtype=np.int64)
    first = by_artist[offsets[artists] + start]
    best = (
        np.full(artists.shape, -1) if preferred is None else preferred[key_group[:, None], artists]
    )
    for j in range(per_artist):
        chosen = by_artist[offsets[artists] + (start + j) % sizes]
        if j == 0:
            chosen = np.where(best >= 0, best, chosen)
        else:
            # The hash's first pick stands in for a later one that is the preferred track.
            chosen = np.where(chosen == best, first, chosen)
        picks[:, :, j] = np.where(j < sizes, chosen, -1)
    flat = picks.reshape(n_tracks, -1)
    # Valid picks first, in rank order: a stable sort on "is missing".
    flat = np.take_along_axis(flat, np.argsort(flat < 0, axis=1, kind="stable"), axis=1)[:, :k]
    lengths = (flat >= 0).sum(axis=1)
    return {int(key): flat[key, : lengths[key]] for key in keys}


def preferred_tracks(
    group: np.ndarray,
    track: np.ndarray,
    listened: np.ndarray,
    weight: np.ndarray,
    track_artist: np.ndarray,
    n_groups: int,
    n_artists: int,
    strength: float,
) -> np.ndarray:
    """For every (context group, artist), the artist's track whose recommendations in that
    group's contexts were listened longest; -1 where no track beats the artist's mean.
    Shape ``(n_groups, n_artists)``.

    Rows are recommendations of ``track`` in a context of ``group``, with the time
    ``listened`` (already weighted) and their ``weight``. Two levels of shrinkage with
    ``strength`` pseudo-observations each: a track's mean towards its artist's, and its mean
    in one group towards the track's own, so that a group without data falls back to the
    track's overall record and enough data in a group overrides it. Against one preferred
    track per artist, day 8 of ``bench/learning_inprocess.py`` moved by -0.7% to +13% over
    its twelve worlds (useless labels 37.6 to 42.6, half-wrong 52.8 to 54.7 and 58.3 to
    57.9, the clean world 75.6 to 75.9, tracks far from their artists 31.7 to 32.0): small,
    because even the hidden embeddings' nearest track of each listed artist adds only 10%
    (30.4 to 33.4 on the track-spread world, day 5): which artists a list names matters
    far more. Dense per (group, track): 8 bytes x groups x tracks per array (8 MB for 20
    clusters of 50,000 tracks).
    """
    n_tracks = track_artist.size
    track_sum = np.bincount(track, listened, minlength=n_tracks)
    track_weight = np.bincount(track, weight, minlength=n_tracks)
    artist_sum = np.bincount(track_artist, track_sum, minlength=n_artists)
    artist_weight = np.bincount(track_artist, track_weight, minlength=n_artists)
    artist_mean = np.divide(
        artist_sum, artist_weight, out=np.zeros(n_artists), where=artist_weight > 0
    )
    prior = artist_mean[track_artist]
    overall = (track_sum + strength * prior) / (track_weight + strength)
    cell = group * n_tracks + track
    size = n_groups * n_tracks
    cell_sum = np.bincount(cell, listened, minlength=size).reshape(n_groups, n_tracks)
    cell_weight = np.bincount(cell, weight, minlength=size).reshape(n_groups, n_tracks)
    score = (cell_sum + strength * overall) / (cell_weight + strength)
    better = (track_weight > 0) & (score > prior)
    # Per (group, artist), the best-scoring better track: the last of a sort by
    # (group, artist, score, -id).
    groups, candidates = np.nonzero(better)
    codes = groups * n_artists + track_artist[candidates]
    order = np.lexsort((-candidates, score[groups, candidates], codes))
    preferred = np.full(n_groups * n_artists, -1, dtype=np.int64)
    preferred[codes[order]] = candidates[order]  # later (better) entries overwrite earlier
    return preferred.reshape(n_groups, n_artists)


def rank_within(groups: np.ndarray) -> np.ndarray:
    """Each element's position among the earlier elements of its group (0 for the first)."""
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.ones(groups.size, dtype=bool)
    starts[1:] = sorted_groups[1:] != sorted_groups[:-1]
    first = np.flatnonzero(starts)[np.cumsum(starts) - 1]
    ranks = np.empty(groups.size, dtype=np.int64)
    ranks[order] = np.arange(groups.size) - first
    return ranks


def capped_top(
    keys: np.ndarray,
    candidates: np.ndarray,
    scores: np.ndarray,
    track_artist: np.ndarray,
    k: int,
    per_artist: int,
    seed: int = 0,
) -> dict[int, np.ndarray]:
    """Lists from scored (key, candidate) pairs: best first (ties by hash), never the key's
    own artist, at most ``per_artist`` tracks of an artist, at most ``k`` per key."""
    own = track_artist[candidates] == track_artist[keys]
    keys, candidates, scores = keys[~own], candidates[~own], scores[~own]
    order = np.lexsort((pair_hash(keys, candidates, seed), -scores, keys))
    keys, candidates = keys[order], candidates[order]
    n_artists = int(track_artist.max(initial=0)) + 1
    capped = rank_within(keys * n_artists + track_artist[candidates]) < per_artist
    keys, candidates = keys[capped], candidates[capped]
    kept = rank_within(keys) < k
    keys, candidates = keys[kept], candidates[kept]
    bounds = np.flatnonzero(np.diff(keys)) + 1
    return {
        int(part_keys[0]): part
        for part_keys, part in zip(
            np.split(keys, bounds), np.split(candidates, bounds), strict=True
        )
        if part.size
    }
