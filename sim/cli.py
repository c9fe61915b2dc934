"""``sim`` command line: generate a world, run simulated days against an agent."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time as clock
from pathlib import Path

import pandas as pd

from sim.population import STATE_FILE, PopulationError, PopulationState, load_state
from sim.remote import DEFAULT_URL
from sim.runner import AGENTS, RunSettings, play_day
from sim.stats import format_summary, summarise, write_sessions
from sim.user_model import MAX_SESSION_TRACKS
from sim.world import WorldParamError, WorldParams, check_params, generate_world
from sim.world_files import load_world, write_world


def _on_off(text: str) -> bool:
    """A boolean flag's value: on/off, true/false or 1/0."""
    choices = {"on": True, "true": True, "1": True, "off": False, "false": False, "0": False}
    if text.lower() not in choices:
        raise argparse.ArgumentTypeError(f"expected on or off, got {text!r}")
    return choices[text.lower()]


# `sim world` flags for the world's structure and its users' behaviour: flag → WorldParams
# field(s) (two fields for a LOW HIGH range), type, help. Robustness worlds are one command.
WORLD_FLAGS = {
    "--tracks": (("n_tracks",), int, "number of tracks"),
    "--users": (("n_users",), int, "number of users"),
    "--dim": (("dim",), int, "embedding dimension"),
    "--genres": (("n_genres",), int, "number of genres"),
    "--artist-spread": (("artist_spread",), float, "how far artists stray from their genre"),
    "--track-spread": (("track_spread",), float, "how far tracks stray from their artist"),
    "--shared-weight": (("shared_weight",), float, "weight of the taste every track shares"),
    "--artist-discount": (
        ("artist_discount_gamma",),
        float,
        "listen-time factor per earlier play of the same artist in a session",
    ),
    "--budget": (("session_budget",), int, "session budget (skips before leaving)"),
    "--interest-neighbours": (
        ("interest_neighbours",),
        int,
        "a session's first track is one of this many nearest to its interest",
    ),
    "--max-interests": (("max_interests",), int, "interest tracks per user, at most"),
    "--hop-probability": (
        ("hop_probability",),
        float,
        "chance a next interest is a similar artist",
    ),
    "--genre-label-noise": (
        ("genre_label_noise",),
        float,
        "share of artists the catalog lists under a random genre",
    ),
    "--consume-bias": (
        ("consume_bias_low", "consume_bias_high"),
        float,
        "range LOW HIGH of the users' listening threshold",
    ),
    "--consume-sharpness": (
        ("consume_sharpness_low", "consume_sharpness_high"),
        float,
        "range LOW HIGH of how sharply users tell liked from disliked",
    ),
    "--population": (
        ("population",),
        _on_off,
        "on: users live across days (sim.population); off: each session's user is uniform",
    ),
    "--activity-sigma": (
        ("activity_sigma",),
        float,
        "spread (lognormal sigma) of the users' persistent visit rates",
    ),
    "--return-sensitivity": (
        ("return_sensitivity",),
        float,
        "how much recent satisfaction multiplies visits: exp(this * memory)",
    ),
    "--memory-decay": (
        ("memory_decay",),
        float,
        "share of a user's satisfaction memory kept from one day to the next",
    ),
    "--satisfaction-reference": (
        ("satisfaction_reference",),
        float,
        "session time a user finds neutral",
    ),
    "--churn-rate": (("churn_rate",), float, "daily chance a neutral user leaves for good"),
    "--churn-sensitivity": (
        ("churn_sensitivity",),
        float,
        "how much satisfaction lowers churn: rate * exp(-this * memory)",
    ),
}


def world_params(args: argparse.Namespace) -> WorldParams:
    """The ``WorldParams`` of ``sim world``'s arguments (unset flags keep the defaults)."""
    values = {"seed": args.seed}
    for flag, (fields, _type, _help) in WORLD_FLAGS.items():
        given = getattr(args, flag[2:].replace("-", "_"))
        if given is not None:
            values.update(zip(fields, given if len(fields) > 1 else [given], strict=True))
    return WorldParams(**values)


def _world(args: argparse.Namespace) -> int:
    params = world_params(args)
    started = clock.perf_counter()
    try:
        check_params(params)
        if args.check:
            return 0
        world = generate_world(params)
    except WorldParamError as e:
        flag = next((f for f, (names, _, _) in WORLD_FLAGS.items() if e.field in names), None)
        print(f"sim world: {flag or e.field}: {e}", file=sys.stderr)
        return 2
    write_world(world, args.out)
    changed = {
        name: value
        for name, value in dataclasses.asdict(params).items()
        if value != getattr(WorldParams, name) and name not in ("seed", "n_tracks", "n_users")
    }
    print(
        f"world: {params.n_tracks} tracks, {params.n_users} users, seed {params.seed}"
        + "".join(f", {name}={value}" for name, value in changed.items())
        + f" -> {args.out} in {clock.perf_counter() - started:.1f}s"
    )
    return 0


def _another_day(day: int) -> bool:
    try:
        answer = input(f"day {day} done (retrain now if you like). Run day {day + 1}? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in {"y", "yes"}


def _saved_state(path: Path) -> PopulationState | None:
    return load_state(path) if path.is_file() else None


def _run(args: argparse.Namespace) -> int:
    if args.agent == "console" and args.workers != 1:
        print("sim run: the console agent needs --workers 1", file=sys.stderr)
        return 2
    world = load_world(args.world)
    settings = RunSettings(
        agent=args.agent,
        episodes=args.episodes,
        seed=args.seed,
        workers=args.workers,
        url=args.url,
        max_tracks=args.max_tracks,
        first_session=args.first_session,
        part=args.part,
    )
    state_path = args.state or args.world / STATE_FILE
    state = _saved_state(state_path) if world.params.population else None
    days = []
    day = args.first_day
    last_day = None if args.days is None else args.first_day + args.days - 1
    while True:
        try:
            frame, state = play_day(world, settings, day, state, show_progress=not args.quiet)
        except PopulationError as e:
            print(f"sim run: {state_path}: {e}", file=sys.stderr)
            return 2
        if state is not None:
            state.save(state_path)
        days.append(frame)
        print(format_summary(summarise(days[-1])))
        if day == last_day or (last_day is None and not _another_day(day)):
            break
        day += 1
    sessions = pd.concat(days, ignore_index=True)
    if len(days) > 1:
        print(format_summary(summarise(sessions)))
    if args.out is not None:
        write_sessions(sessions, args.out)
        print(f"per-session stats -> {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``sim`` sub-command."""
    parser = argparse.ArgumentParser(prog="sim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    world = sub.add_parser("world", help="generate a synthetic world")
    world.add_argument("--seed", type=int, required=True)
    world.add_argument("--out", type=Path, required=True, help="directory to write")
    world.add_argument(
        "--check", action="store_true", help="only check the parameters (exit 2 naming a bad one)"
    )
    for flag, (fields, kind, description) in WORLD_FLAGS.items():
        defaults = " ".join(str(getattr(WorldParams, name)) for name in fields)
        world.add_argument(
            flag,
            type=kind,
            nargs=len(fields) if len(fields) > 1 else None,
            metavar=("LOW", "HIGH") if len(fields) > 1 else None,
            help=f"{description} (default {defaults})",
        )
    world.set_defaults(func=_world)

    run = sub.add_parser("run", help="simulate days of sessions")
    run.add_argument("--world", type=Path, required=True, help="directory from `sim world`")
    run.add_argument("--agent", choices=AGENTS, required=True)
    run.add_argument(
        "--episodes",
        type=int,
        required=True,
        help="sessions per day; on a population world, the day's expected visits at neutral "
        "satisfaction (satisfied users come back more, churned users never)",
    )
    run.add_argument("--url", default=DEFAULT_URL, help="botify service (remote agent)")
    run.add_argument("--workers", type=int, default=1, help="parallel processes")
    run.add_argument(
        "--days", type=int, default=None, help="days to run (default: ask after each day)"
    )
    run.add_argument(
        "--first-day",
        type=int,
        default=1,
        help="number of the first day (days differ in sessions; resume a run after retraining)",
    )
    run.add_argument(
        "--first-session",
        type=int,
        default=0,
        help="play sessions N..N+episodes-1 of each day (on a population world: visits N.. "
        "of the day, --part of them): a day played in parts, one after the other, gives the "
        "same sessions as in one run",
    )
    run.add_argument(
        "--part",
        type=int,
        default=None,
        help="on a population world, play at most this many of the day's visits from "
        "--first-session on (default: the rest of the day)",
    )
    run.add_argument(
        "--state",
        type=Path,
        default=None,
        help=f"the population's state between days (default WORLD/{STATE_FILE}): each day "
        "resumes from the one saved by the day before",
    )
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--max-tracks", type=int, default=MAX_SESSION_TRACKS, help="session cap")
    run.add_argument("--out", type=Path, default=None, help="per-session stats, .csv or .jsonl")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``sim`` console script."""
    args = build_parser().parse_args(argv)
    return args.func(args)
