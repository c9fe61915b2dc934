"""What the logs say about pairs of tracks: how long a recommendation was listened in context.

A session's listens are ``first (1.0), r1 (t1), r2 (t2), ...``: the user's own first track,
then each recommended track with the fraction listened. The first track tells most about
what the user wants in this session; a later track listened at least ``good_time`` tells
it too. So each recommended track ``r`` with listen time ``t`` is feedback on the pair
(context, ``r``) for two contexts: the session's first track and the last well-listened
track before ``r`` (the anchor the service itself would use; one context when they are
the same). A skip is feedback as much as a long listen: ``t`` near 0 says the pair is bad.

Only a recommendation whose artist has not played yet in the session, and which is not a
repeat, is kept: a listener gives a repeat no time and discounts every further play of an
artist, so those times say more about the session's history than about the pair (on the
demo world's day-1 logs this keeps 54% of the recommendations; the rest are mostly
sticky_artist's same-artist picks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from botify.config import Config
from botify.training.listens import Listens


@dataclass(frozen=True)
class Feedback:
    """One row per (context track, recommended track) pair, with the recommendation's listen
    time and a weight (1 / the number of contexts of that recommendation)."""

    context: np.ndarray
    track: np.ndarray
    time: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return int(self.track.size)


def first_in_group(groups: np.ndarray) -> np.ndarray:
    """Whether each row is the first of its value of ``groups`` (in row order)."""
    _, first = np.unique(groups, return_index=True)
    mask = np.zeros(groups.size, dtype=bool)
    mask[first] = True
    return mask


def session_positions(session: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's position in its session (0 for the first listen) and its session's first row."""
    starts = np.ones(session.size, dtype=bool)
    starts[1:] = session[1:] != session[:-1]
    first_row = np.flatnonzero(starts)[np.cumsum(starts) - 1]
    return np.arange(session.size) - first_row, first_row


def feedback_from_listens(
    listens: Listens,
    track_artist: np.ndarray,
    good_time: float = Config.good_time,
    anchor_context: bool = True,
) -> Feedback:
    """The (context, recommendation, listen time) pairs of ``listens`` (see the module doc).

    ``track_artist`` maps a track id to an integer artist code. Without ``anchor_context``
    the session's first track is the only context (what offline evaluation scores).
    """
    session, track, time = listens.session, listens.track, listens.time
    position, first_row = session_positions(session)
    n_artists = int(track_artist.max(initial=0)) + 1
    fresh_artist = first_in_group(session * n_artists + track_artist[track])
    fresh_track = first_in_group(session * (int(track.max(initial=0)) + 1) + track)
    # The last row before each row whose listen was good (the first listen always is).
    good_rows = np.where((time >= good_time) | (position == 0), np.arange(session.size), -1)
    last_good = np.maximum.accumulate(good_rows)
    anchor_row = np.empty_like(last_good)
    anchor_row[0:1] = 0
    anchor_row[1:] = last_good[:-1]

    kept = np.flatnonzero((position > 0) & fresh_artist & fresh_track)
    first_context = track[first_row[kept]]
    anchors = track[anchor_row[kept]]
    two = (anchors != first_context) & anchor_context
    weight = np.where(two, 0.5, 1.0)
    extra = kept[two]
    return Feedback(
        context=np.concatenate([first_context, anchors[two]]),
        track=np.concatenate([track[kept], track[extra]]),
        time=np.concatenate([time[kept], time[extra]]),
        weight=np.concatenate([weight, weight[two]]),
    )


def first_track_pairs(listens: Listens) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of first tracks of one user's consecutive sessions: what the user chose
    before any recommender did, twice. (Consecutive pairs only, so that a user with many
    sessions adds as many pairs as sessions, not their square.) Empty without users."""
    if listens.user is None or not len(listens):
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    position, _ = session_positions(listens.session)
    first = np.flatnonzero(position == 0)
    user, track = listens.user[first], listens.track[first]
    # Sessions are numbered in the order of (user, first event): a user's are adjacent.
    same_user = user[1:] == user[:-1]
    return track[:-1][same_user], track[1:][same_user]
