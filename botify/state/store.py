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
    The views of ``STATE_VIEWS`` (``played``, ``good_listens``, ``listens``) are filled only
    for a recommender that ``needs`` them.
    """

    request: int
    session: int
    since: int
    anchor: int | None
    fav_artist: str | None
    fav_artist_last: int | None
    played: frozenset[int] = frozenset()
    good_listens: tuple[tuple[int, float], ...] = ()
    listens: tuple[tuple[int, float], ...] = ()


# How many of the session's last good listens the state keeps (``good_listens``).
GOOD_LISTENS_KEPT = 10


@dataclass(frozen=True)
class StateView:
    """A part of the user's state the script returns only to recommenders that need it."""

    description: str
    # The script's reply for the view (None: nothing kept yet) → the value of the
    # ``UserState`` field of its name.
    decode: Callable[[object], object]


def _to_int(value) -> int | None:
    return None if value is None else int(value)


def _to_str(value) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _pairs(items: Iterable[bytes | str]) -> tuple[tuple[int, float], ...]:
    """``"track:time"`` entries as (track, time) pairs."""
    return tuple(
        (int(track), float(time)) for track, time in (_to_str(i).split(":") for i in items)
    )


def _blob(raw: bytes | str | None) -> list[str]:
    """The entries of a view kept as one string, each followed by a comma."""
    return _to_str(raw).split(",")[:-1] if raw else []


# What a recommender may declare in ``needs``: a ``UserState`` field name → its view, in
# the order of the script's reply. The script keeps each view as the session goes
# (``played`` and ``good_listens`` as one string each), so that what a request reads does
# not grow with the session unless it asks for ``listens``.
STATE_VIEWS = {
    "played": StateView(
        "the tracks played in the session so far, this request's included",
        lambda raw: frozenset(map(int, _blob(raw))),
    ),
    "good_listens": StateView(
        f"the session's last {GOOD_LISTENS_KEPT} good (track, time) listens in order "
        "(time >= BOTIFY_GOOD_TIME), this request's included if good",
        lambda raw: _pairs(_blob(raw)),
    ),
    "listens": StateView(
        "the session's (track, time) listens in order, this request's included",
        lambda raw: _pairs(raw or ()),
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
                " ".join(needs),
                GOOD_LISTENS_KEPT,
            ],
        )
        request, session, anchor, fav, fav_last, since, *views = reply
        return UserState(
            request=int(request),
            session=int(session),
            since=int(since),
            anchor=_to_int(anchor) if anchor else None,
            fav_artist=_to_str(fav),
            fav_artist_last=_to_int(fav_last),
            **{
                name: view.decode(raw)
                for (name, view), raw in zip(STATE_VIEWS.items(), views, strict=True)
                if name in needs
            },
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
