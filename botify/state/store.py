"""Per-user state in Redis hashes, updated by one atomic Lua script per request.

Keys of user 42 share the hash tag ``{42}`` (``user:{42}:state``, ``user:{42}:artists``,
``user:{42}:listens``) so the script's keys live on one Redis Cluster slot. redis-py's
``Script`` (on Redis Cluster) and ``ThreadLocalScript`` (on one server) call EVALSHA and
reload the script by themselves after a NOSCRIPT error (for example after ``SCRIPT FLUSH``
or a Redis restart), so each request is one round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import redis

from botify.config import Config
from botify.state.script import ThreadLocalScript

LISTEN_LUA = (Path(__file__).parent / "listen.lua").read_text()
# The key tag of /health's probe of the script: not an integer, so never a user's.
PROBE_USER = "health"


def state_keys(user: int | str) -> list[str]:
    """The Redis keys holding ``user``'s state: session/anchor hash, artist ratings, and the
    session's listens."""
    return [f"user:{{{user}}}:state", f"user:{{{user}}}:artists", f"user:{{{user}}}:listens"]


@dataclass(frozen=True)
class UserState:
    """What one request learned about its user, after the state update.

    ``request`` counts the user's requests (1 for the first ever), ``session`` counts the
    sessions the user has ended before this one, ``since`` when these counters started (ms):
    a Redis that lost its data restarts them, with a later ``since``. ``anchor`` is the
    anchor track chosen by the anchor's steps 2–3 (docs/recommenders.md; None for ``/last``).
    The views of ``STATE_VIEWS`` (``played``, ``listens``) are filled only for a recommender that
    ``needs`` them.
    """

    request: int
    session: int
    since: int
    anchor: int | None
    fav_artist: str | None
    fav_artist_last: int | None
    played: frozenset[int] = frozenset()
    listens: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class StateView:
    """A part of the user's state the script returns only to recommenders that need it."""

    description: str
    # The session's listens, in order → the value of the ``UserState`` field of its name.
    decode: Callable[[list[tuple[int, float]]], object]


def _parse_listens(items: list) -> list[tuple[int, float]]:
    """The script's ``"track:time"`` entries as (track, time) pairs."""
    pairs = []
    for item in items:
        track, time = (item.decode() if isinstance(item, bytes) else item).split(":")
        pairs.append((int(track), float(time)))
    return pairs


# What a recommender may declare in ``needs``: a ``UserState`` field name → its view. Every
# view is derived from the session's listens, which the script appends to its reply when
# any view is needed (ARGV[8]), so a new view touches only this table and ``UserState``.
STATE_VIEWS = {
    "played": StateView(
        "the tracks played in the session so far, this request's included",
        lambda listens: frozenset(track for track, _ in listens),
    ),
    "listens": StateView(
        "the session's (track, time) listens in order, this request's included",
        tuple,
    ),
}


def check_needs(recommender: str, needs: Iterable[str]) -> None:
    """Fail (``ValueError``) if ``recommender`` needs a view the store cannot return."""
    unknown = sorted(set(needs) - set(STATE_VIEWS))
    if unknown:
        raise ValueError(
            f"recommender {recommender!r} needs unknown user state {unknown}; "
            f"the store returns: {', '.join(STATE_VIEWS)}"
        )


def _to_int(value) -> int | None:
    return None if value is None else int(value)


def _to_str(value) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class UserStateStore:
    """Applies listen events to user state in Redis; one round trip per event."""

    def __init__(self, client: redis.Redis | redis.RedisCluster, config: Config) -> None:
        self.client = client
        self.config = config
        if isinstance(client, redis.RedisCluster):
            script = client.register_script(LISTEN_LUA)
            self._script = lambda keys, args: script(keys=keys, args=args)
        else:
            self._script = ThreadLocalScript(client, LISTEN_LUA)

    def _listen(
        self,
        user: int | str,
        track: int,
        time: float,
        artist: str,
        last: bool,
        needs: frozenset[str],
    ) -> UserState:
        c = self.config
        reply = self._script(
            state_keys(user),
            [
                track,
                repr(float(time)),
                artist,
                repr(c.good_time),
                c.max_fails,
                c.state_ttl_s,
                "1" if last else "0",
                "1" if needs else "0",
            ],
        )
        request, session, anchor, fav, fav_last, since, *items = reply
        listens = _parse_listens(items)
        return UserState(
            request=int(request),
            session=int(session),
            since=int(since),
            anchor=_to_int(anchor) if anchor else None,
            fav_artist=_to_str(fav),
            fav_artist_last=_to_int(fav_last),
            **{name: view.decode(listens) for name, view in STATE_VIEWS.items() if name in needs},
        )

    def on_next(
        self,
        user: int,
        track: int,
        time: float,
        artist: str,
        needs: frozenset[str] = frozenset(),
    ) -> UserState:
        """Record that ``user`` listened to ``time`` of ``track`` and continues the session;
        the state comes with the views of ``STATE_VIEWS`` named in ``needs``."""
        return self._listen(user, track, time, artist, last=False, needs=needs)

    def probe(self) -> None:
        """Run the state script on keys of no user (``user:{health}:*``): raises what a
        request's update would, e.g. a Redis that refuses writes (maxmemory, a replica)
        while it still answers PING."""
        self._listen(PROBE_USER, 0, 1.0, PROBE_USER, last=True, needs=frozenset())

    def on_last(self, user: int, track: int, time: float, artist: str) -> UserState:
        """Record the session's final listen and clear the session-scoped fields."""
        return self._listen(user, track, time, artist, last=True, needs=frozenset())
