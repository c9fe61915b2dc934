"""The learning loop in one process: minutes per world where the HTTP loop takes an hour.

``bench/learning.py --part loop`` runs the product end to end (gunicorn, Redis, the remote
simulator); a week of 5,000 sessions a day is about an hour per world on 2 cores. This
benchmark plays the same loop in-process so that every world can be measured: day 1 of
random / sticky_artist sessions, then each night ``fit_model`` on all listens so far (the
training ``botify train contextual`` runs) and a day served by a re-implementation of
``anchor_fresh`` (the service's steps 1–5: last good track, fails, best track, the anchor's
list without the session's tracks, new artists first, a uniform pick; ``--explore`` of the
answers a random track). The simulator's own user model decides every listen. What it
leaves out of the service: the favourite-artist fallback (a random track instead). The days
are served by anchor_fresh, as in the HTTP loop; the last day's sessions are played again by
anchor_session (``session_best``, re-implemented too), the HTTP loop's best arm.

Per world it prints the session time of each day, the zero-log prior's (each track's list
the artists of its catalog genre, ``learning.label_prior_lists``, served on day 2), and, on
the last day's sessions, the oracle's, anchor_session's on the trained lists, and both
policies' on the ceiling lists (``learning.nearest_lists``: the hidden embeddings' nearest
tracks, one per artist: what perfect i2i lists give each policy). The oracle, the ceiling
and the genre labels' truth come from the simulator's hidden world, which only this
benchmark reads; no model parameter is tuned on them.

    .venv/bin/python bench/learning_inprocess.py [--worlds demo,labels-noise0.5,...]
        [--days 7] [--per-day 5000] [--model learned] [--explore 0.01]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import deque
from pathlib import Path

import numpy as np
from learning import WORLDS, label_prior_lists, nearest_lists, world_params

from botify.data.catalog import build_catalog
from botify.state.store import GOOD_LISTENS_KEPT
from botify.training.listens import Listens
from botify.training.models import DEFAULT_MODEL, MODELS, PER_ARTIST, K, fit_model
from sim.engine import run_batch
from sim.policies import OraclePolicy
from sim.streams import Stream, session_keys, uniforms
from sim.user_model import (
    MAX_SESSION_TRACKS,
    budget_draws,
    budget_drops,
    listen_time,
    plan_sessions,
    plan_users,
)
from sim.world import World, WorldParams, generate_world
from sim.world_files import track_rows

DAY_MS = 86_400_000
GOOD_TIME, MAX_FAILS = 0.5, 3


def session_best(
    lists: dict,
    good: deque,
    played: set[int],
    artist_plays: dict[int, int],
    track_artist: np.ndarray,
) -> list[int]:
    """anchor_session's best candidates (``SessionAnchorRecommender``): the tracks of the
    good listens' lists, each weighted by the listen time of the track whose list names it,
    the best-weighted unplayed ones, of artists not played yet if any (ids ascending)."""
    score: dict[int, float] = {}
    for track, weight in good:
        for candidate in lists.get(track, np.empty(0, dtype=np.int64)).tolist():
            score[candidate] = score.get(candidate, 0.0) + weight
    unplayed = [t for t in score if t not in played]
    fresh = [t for t in unplayed if int(track_artist[t]) not in artist_plays]
    among = fresh or unplayed
    top = max((score[t] for t in among), default=None)
    return sorted(t for t in among if score[t] == top)


def play_day(
    world: World,
    seed: int,
    day: int,
    n: int,
    lists: dict | None,
    explore: float,
    oracle: bool = False,
    session_anchor: bool = False,
) -> tuple[Listens, np.ndarray, float]:
    """One day of ``n`` sessions: day-1 baselines when ``lists`` is None (even sessions
    random, odd sticky_artist), else anchor_fresh on ``lists`` (``session_anchor``:
    anchor_session). Returns the listens, each session's time and the oracle's mean on the
    same sessions (NaN unless ``oracle``)."""
    keys = session_keys(seed, day, np.arange(n))
    plan = plan_sessions(world, keys, plan_users(world.users, keys))
    users, embeddings = world.users, world.embeddings.astype(np.float64)
    track_artist = world.catalog.track_artist
    n_tracks = track_artist.size
    by_artist = np.argsort(track_artist, kind="stable")
    counts = np.bincount(track_artist)
    offsets = np.concatenate(([0], np.cumsum(counts)))
    rows: dict[str, list] = {name: [] for name in ("session", "track", "time", "user")}
    totals = np.zeros(n)
    for i in range(n):
        user, first = int(plan.users[i]), int(plan.first_tracks[i])
        interest = embeddings[plan.interest_tracks[i]]
        budget = int(users.session_budget[user])
        played, artist_plays = {first}, {int(track_artist[first]): 1}
        last_good, best, best_time, fails, anchor, previous = first, first, 1.0, 0, first, first
        listened = [(first, 1.0)]
        good = deque([(first, 1.0)], maxlen=GOOD_LISTENS_KEPT)
        # The agent's draws: a stream of its own per session, like the service's per-request rng.
        draws = uniforms(
            np.full(3 * MAX_SESSION_TRACKS, keys[i]),
            Stream.AGENT,
            np.arange(3 * MAX_SESSION_TRACKS),
        )
        step = 0
        while budget > 0 and step < MAX_SESSION_TRACKS:
            u1, u2, u3 = draws[3 * step : 3 * step + 3]
            if lists is None and i % 2 == 0:
                answer = int(u1 * n_tracks)
            elif lists is None:
                artist = track_artist[previous]
                answer = int(by_artist[offsets[artist] + int(u1 * counts[artist])])
            elif u2 < explore:
                answer = int(u3 * n_tracks)
            elif session_anchor and (
                picks := session_best(lists, good, played, artist_plays, track_artist)
            ):
                answer = picks[int(u1 * len(picks))]
            else:
                candidates = [t for t in lists.get(anchor, ()).tolist() if t not in played]
                fresh = [t for t in candidates if int(track_artist[t]) not in artist_plays]
                candidates = fresh or candidates
                answer = (
                    int(candidates[int(u1 * len(candidates))]) if candidates else int(u3 * n_tracks)
                )
            artist = int(track_artist[answer])
            time = float(
                listen_time(
                    float(embeddings[answer] @ interest),
                    users.consume_bias[user],
                    users.consume_sharpness[user],
                    users.artist_discount_gamma[user],
                    artist_plays.get(artist, 0),
                    answer in played,
                )
            )
            budget -= int(budget_drops(time, budget_draws(keys[i : i + 1], step))[0])
            step += 1
            played.add(answer)
            artist_plays[artist] = artist_plays.get(artist, 0) + 1
            totals[i] += time
            listened.append((answer, time))
            # The anchor's steps 2-3 (botify/state/listen.lua).
            if time >= GOOD_TIME:
                last_good, fails, anchor = answer, 0, answer
                good.append((answer, time))
            else:
                anchor, fails = last_good, fails + 1
            if time > best_time:
                best, best_time = answer, time
            if fails >= MAX_FAILS:
                anchor = best
            previous = answer
        for track, time in listened:
            rows["session"].append(day * 1_000_000 + i)
            rows["track"].append(track)
            rows["time"].append(time)
            rows["user"].append(user)
    session = np.array(rows["session"])
    listens = Listens(
        session=session,
        track=np.array(rows["track"]),
        time=np.array(rows["time"]),
        timestamp=day * DAY_MS + session % 1_000_000,
        user=np.array(rows["user"]),
    )
    best_mean = float(run_batch(world, plan, OraclePolicy(world)).time.mean()) if oracle else np.nan
    return listens, totals, best_mean


def all_listens(days: list[Listens]) -> Listens:
    """Listens of several days, ordered by (user, session) as the log reader orders them."""
    user = np.concatenate([d.user for d in days])
    session = np.concatenate([d.session for d in days])
    order = np.lexsort((np.arange(user.size), session, user))
    session = session[order]
    starts = np.ones(session.size, dtype=bool)
    starts[1:] = session[1:] != session[:-1]
    return Listens(
        session=np.cumsum(starts) - 1,
        track=np.concatenate([d.track for d in days])[order],
        time=np.concatenate([d.time for d in days])[order],
        timestamp=np.concatenate([d.timestamp for d in days])[order],
        user=user[order],
    )


def run_world(name: str, args: argparse.Namespace) -> dict:
    """The loop on one world: per-day session time, the zero-log prior, the oracle."""
    params = WorldParams(**world_params(WORLDS[name]))
    world = generate_world(params)
    catalog = build_catalog(track_rows(world.catalog))
    seed = params.seed
    days, curve, train_s = [], [], []
    listens, totals, _ = play_day(world, seed, 1, args.per_day, None, args.explore)
    days.append(listens)
    curve.append(float(totals.mean()))
    _, prior, _ = play_day(world, seed, 2, args.per_day, label_prior_lists(catalog), args.explore)
    oracle, last_day = np.nan, {}
    for day in range(2, args.days + 2):
        started = time.perf_counter()
        lists = fit_model(args.model, all_listens(days), catalog).lists(K, PER_ARTIST, 0)
        train_s.append(time.perf_counter() - started)
        last = day == args.days + 1
        listens, totals, oracle_mean = play_day(
            world, seed, day, args.per_day, lists, args.explore, oracle=last
        )
        days.append(listens)
        curve.append(float(totals.mean()))
        if last:
            oracle = oracle_mean
            best = nearest_lists(world.embeddings, world.catalog.track_artist, K, PER_ARTIST)
            for label, served, session_anchor in (
                ("session", lists, True),
                ("ceiling", best, False),
                ("ceiling_session", best, True),
            ):
                times = play_day(
                    world,
                    seed,
                    day,
                    args.per_day,
                    served,
                    args.explore,
                    session_anchor=session_anchor,
                )[1]
                last_day[label] = float(times.mean())
        print(f"  {name} day {day}: {curve[-1]:.2f}", flush=True)
    return {
        "world": name,
        "curve": curve,
        "prior_day2": float(prior.mean()),
        "oracle": oracle,
        **last_day,
        "train_s": train_s,
    }


def main() -> None:
    """Run the loop on each world and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", default=",".join(WORLDS))
    parser.add_argument("--days", type=int, default=7, help="days served by the lists")
    parser.add_argument("--per-day", type=int, default=5000)
    parser.add_argument("--model", choices=list(MODELS), default=DEFAULT_MODEL)
    parser.add_argument("--explore", type=float, default=0.0)
    parser.add_argument("--out", type=Path, default=Path("bench-output/learning-inprocess"))
    args = parser.parse_args()
    results = [run_world(name, args) for name in args.worlds.split(",")]
    print(
        f"\nmodel {args.model}, exploration {args.explore}, {args.per_day} sessions a day; "
        "anchor_fresh's session time (in-process):\n"
    )
    header = " | ".join(f"day {d}" for d in range(2, args.days + 2))
    print(f"| world | day 1 | zero-log prior | {header} | oracle | last day / oracle |")
    print("|---|" + "---:|" * (args.days + 4))
    for r in results:
        days = " | ".join(f"{v:.1f}" for v in r["curve"][1:])
        print(
            f"| {r['world']} | {r['curve'][0]:.2f} | {r['prior_day2']:.2f} | {days} "
            f"| {r['oracle']:.1f} | {r['curve'][-1] / r['oracle']:.1%} |"
        )
    print(
        f"\nday {args.days + 1}, the same sessions: the trained lists and the ceiling lists "
        "(hidden embeddings) under anchor_fresh and anchor_session; share of the oracle:\n"
    )
    print("| world | trained, fresh | trained, session | ceiling, fresh | ceiling, session |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        cells = [r["curve"][-1], r["session"], r["ceiling"], r["ceiling_session"]]
        print(
            f"| {r['world']} | "
            + " | ".join(f"{v:.1f} ({v / r['oracle']:.1%})" for v in cells)
            + " |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"results-{args.model}-explore{args.explore}.json"
    (args.out / name).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
