"""Learning quality, online over HTTP against the real service (issue 13's figures).

Every online figure comes from ``botify experiment run`` (gunicorn, Redis, the simulator's
remote agent); the oracle and the ceiling read the simulator's hidden files, which only this
benchmark does (botify never does). Parts:

- ``ab``: per world, day 1 (random / sticky_artist, ``--day1`` sessions), train the lists,
  day 2 with every arm (``--day2`` sessions): each arm's session time, its share of the
  oracle's on the same sessions, the same arms served the zero-log prior (each track's list
  the artists of its genre label: what the catalog alone gives) and, with ``--ceiling``,
  the ceiling lists (nearest tracks by the hidden embeddings, one per artist, 50 per
  track); and the off-policy estimate, from day 1's answers, of contextual's listen time
  per recommendation with the trained lists, beside what it got online on day 2.
- ``loop``: day 1 as above, then ``--days`` - 1 days served by ``--loop-arm``, each night
  retrained on all logs so far, then an A/B day of every arm: the learning curve and each
  arm's share of the oracle after the last night.
- ``models``: candidate models trained on the same day-1 logs (the product's learned,
  affinity, genre and co-occurrence models, plus implicit ALS and gensim item2vec here, on
  ``--models-world``), their offline AUC on
  held-out day-1 sessions and their online session time: does the offline metric rank them
  as the A/B does?

    .venv/bin/python bench/learning.py --part ab [--worlds demo,seed7,discount0.6,...]
    .venv/bin/python bench/learning.py --part loop [--days 7] [--loop-arm anchor_session]
    .venv/bin/python bench/learning.py --part models

Figures vary with the machine's speed only in their durations; the session times are the
same on every run (same seeds).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from botify.data.catalog import load_catalog
from botify.data.lists import write_lists
from botify.rollout.experiments import Experiment
from botify.training.command import read_listens
from botify.training.diverse_lists import capped_top
from botify.training.models import PER_ARTIST, K, fit_model
from botify.training.offline_eval import evaluate, evaluation_pairs, heldout_cases, split_by_time

ARMS = {
    "C": "sticky_artist",
    "T1": "random",
    "T2": "contextual",
    "T3": "anchor",
    "T4": "anchor_fresh",
    "T5": "anchor_session",
}
TRAINED = ("contextual", "anchor", "anchor_fresh", "anchor_session")
# Issue 13's worlds: the demo's, another seed, artist discount 0.6 and 0.9; then worlds that
# make the catalog say less: artists far from their genre, few genres, noisy genre labels.
WORLDS = {
    "demo": {"seed": 42},
    "seed7": {"seed": 7},
    "discount0.6": {"seed": 11, "artist_discount": 0.6},
    "discount0.9": {"seed": 13, "artist_discount": 0.9},
    "spread1.5": {"seed": 21, "artist_spread": 1.5},
    "genres4": {"seed": 23, "genres": 4},
    "labels-noise0.5": {"seed": 25, "genre_label_noise": 0.5},
    "labels-noise1.0": {"seed": 27, "genre_label_noise": 1.0},
    "labels-noise0.5-seed41": {"seed": 41, "genre_label_noise": 0.5},
    # Behaviour the worlds above leave at its default: tracks far from their artist (the
    # track within an artist matters), users' interests hopping between similar artists,
    # sessions that end after fewer skips (fewer logs a day).
    "tracks0.8": {"seed": 31, "track_spread": 0.8},
    "hop0.9": {"seed": 33, "hop_probability": 0.9},
    "budget3": {"seed": 35, "budget": 3},
}


def label_prior_lists(catalog, k: int = K, per_artist: int = PER_ARTIST, seed: int = 0):
    """The zero-log prior: what the catalog alone suggests, each track's list the artists of
    its genre label (in the hash order the product uses), one track each. The baseline that
    tells how much of a trained list came from the logs."""
    import scipy.sparse as sp

    from botify.training.affinity import ArtistAffinity
    from botify.training.diverse_lists import ranked_artists, track_lists

    genre = catalog.artist_genre
    n_genres, n_artists = int(genre.max()) + 1, genre.size
    nothing = sp.csr_matrix((n_artists, n_artists))
    same_genre = ArtistAffinity(genre, np.eye(n_genres), nothing, nothing, 1.0, 0.0)
    ranked = ranked_artists(same_genre, k, seed)
    return track_lists(ranked, catalog.track_artist, k, per_artist, seed)


def world_params(world: dict) -> dict:
    """``WorldParams`` fields of a spec's ``[world]`` table (its keys are ``sim world``'s
    flags with ``_`` for ``-``)."""
    from sim.cli import WORLD_FLAGS

    values = {"seed": world["seed"]}
    for key, value in world.items():
        if key != "seed":
            (field,) = WORLD_FLAGS["--" + key.replace("_", "-")][0]
            values[field] = value
    return values


def toml_value(value: object) -> str:
    """A Python value as TOML (the few kinds a spec uses)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


def write_spec(path: Path, name: str, seed: int, world: dict, days: list[dict]) -> Path:
    """A spec file for ``botify experiment run``."""
    lines = [f"name = {toml_value(name)}", f"seed = {seed}", "", "[world]"]
    lines += [f"{key} = {toml_value(value)}" for key, value in world.items()]
    for day in days:
        lines += ["", "[[days]]", *(f"{k} = {toml_value(v)}" for k, v in day.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def run_spec(spec: Path, out: Path) -> float:
    """Run a spec with the product's runner; returns its wall time."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "botify", "experiment", "run", str(spec), "--out", str(out)]
    with open(out.parent / f"{out.name}.log", "w") as log:
        subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - started


def oracle_sessions(world: Path, seed: int, day: int, sessions: int, out: Path) -> pd.DataFrame:
    """The in-process oracle on the same sessions (same seed and day) as a remote day."""
    command = ["run", "--world", str(world), "--agent", "oracle", "--episodes", str(sessions)]
    command += ["--days", "1", "--first-day", str(day), "--seed", str(seed), "--quiet"]
    subprocess.run([sys.executable, "-m", "sim", *command, "--out", str(out)], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    return pd.read_csv(out)


def arm_figures(run: Path, day: int, name: str, arms: dict, oracle: pd.DataFrame) -> dict:
    """Per arm: mean session time, and the oracle's on the arm's own sessions."""
    sessions = pd.read_csv(run / f"day{day}-sessions.csv")
    experiment = Experiment(name, arms)
    sessions["arm"] = [arms[experiment.treatment(int(u))] for u in sessions["user"]]
    joined = sessions.merge(oracle[["session", "time"]], on="session", suffixes=("", "_oracle"))
    figures = {}
    for arm, group in joined.groupby("arm"):
        figures[arm] = {
            "sessions": len(group),
            "time": float(group["time"].mean()),
            "oracle": float(group["time_oracle"].mean()),
        }
    return figures


def nearest_lists(
    embeddings: np.ndarray, artist: np.ndarray, k: int = K, per_artist: int = PER_ARTIST
) -> dict[int, np.ndarray]:
    """Lists from the hidden embeddings: nearest tracks, ``per_artist`` per artist, never the
    key's own artist (the product's diversity rule), ``k`` per track: the ceiling of i2i
    lists for a policy that follows one anchor track."""
    embeddings = embeddings.astype(np.float64)
    keys, candidates, scores = [], [], []
    for start in range(0, len(embeddings), 512):
        block = embeddings[start : start + 512] @ embeddings.T
        top = np.argpartition(-block, 400, axis=1)[:, :400]
        keys.append(np.repeat(np.arange(start, start + len(block)), 400))
        candidates.append(top.ravel())
        scores.append(np.take_along_axis(block, top, axis=1).ravel())
    keys, candidates, scores = (np.concatenate(a) for a in (keys, candidates, scores))
    itself = keys == candidates
    return capped_top(keys[~itself], candidates[~itself], scores[~itself], artist, k, per_artist)


def ceiling_lists(world: Path, out: Path) -> Path:
    """``nearest_lists`` of a world directory's hidden embeddings, written to ``out``."""
    embeddings = np.load(world / "embeddings.npy")
    write_lists(nearest_lists(embeddings, load_catalog(world).track_artist), out)
    return out


def off_policy_check(run: Path, world: Path, explore: float) -> dict:
    """The off-policy estimate, from day 1's logged answers, of what the lists trained on
    day 1 get as ``contextual``, beside what contextual got on day 2 online (mean listen
    time per recommendation)."""
    from botify.data.lists import load_lists
    from botify.logs.reader import open_log
    from botify.training.listens import sessions_listens
    from botify.training.off_policy import estimate, logged_answers

    with open_log(run / "logs") as log:
        day2_start = log.row("SELECT min(timestamp) FROM events WHERE experiment = 'AB'")[0]
        listens = sessions_listens(log)
    starts = listens.session_starts()
    day1 = listens.select_sessions(starts < day2_start)
    catalog = load_catalog(world)
    lists = load_lists(run / "contextual-day2.jsonl", catalog)
    as_dict = {key: lists.get(key) for key in range(catalog.size)}
    _, snips = estimate(logged_answers(day1), as_dict, catalog.size, explore)
    sessions = pd.read_csv(run / "day2-sessions.csv")
    experiment = Experiment("AB", ARMS)
    arm = np.array([ARMS[experiment.treatment(int(u))] for u in sessions["user"]])
    contextual = sessions[arm == "contextual"]
    online = float(contextual["time"].sum() / contextual["tracks"].sum())
    return {"snips": snips.value, "lower": snips.lower, "upper": snips.upper, "online": online}


def ab_part(
    root: Path, worlds: list[str], day1: int, day2: int, seed: int, ceiling: bool
) -> list[dict]:
    """Part ``ab``: one row per world and arm: the lists trained on day 1, the zero-log
    prior's (``label_prior_lists``) and, with ``ceiling``, the hidden embeddings'."""
    from botify.config import Config

    rows = []
    for world_name in worlds:
        params = WORLDS[world_name]
        days = [
            {"name": "DAY1", "sessions": day1, "arms": {"C": "random", "T1": "sticky_artist"}},
            {"name": "AB", "sessions": day2, "train": ["contextual"], "arms": ARMS},
        ]
        base = root / "ab" / world_name
        spec = write_spec(base / "spec.toml", world_name, seed, params, days)
        seconds = run_spec(spec, base / "trained")
        world = base / "trained" / "world"
        oracle = oracle_sessions(world, seed, 2, day2, base / "oracle.csv")
        trained = arm_figures(base / "trained", 2, "AB", ARMS, oracle)
        ope = off_policy_check(base / "trained", world, Config.explore)
        others = {}
        prior_file = base / "prior.jsonl"
        write_lists(label_prior_lists(load_catalog(world)), prior_file)
        variants = {"prior": prior_file}
        if ceiling:
            variants["ceiling"] = ceiling_lists(world, base / "ceiling.jsonl")
        for variant, lists_file in variants.items():
            days[1] = {"name": "AB", "sessions": day2, "arms": ARMS,
                       "deploy": {"contextual": str(lists_file)}}  # fmt: skip
            spec = write_spec(base / f"{variant}-spec.toml", world_name, seed, params, days)
            run_spec(spec, base / variant)
            others[variant] = arm_figures(base / variant, 2, "AB", ARMS, oracle)
        for arm, figures in trained.items():
            rows.append(
                {
                    "world": world_name,
                    "arm": arm,
                    "sessions": figures["sessions"],
                    "time": figures["time"],
                    "oracle_share": figures["time"] / figures["oracle"],
                    "prior_time": others["prior"][arm]["time"],
                    "ceiling_time": others["ceiling"][arm]["time"] if ceiling else np.nan,
                    "run_s": seconds,
                    "ope": ope,
                }
            )
        print_ab(rows)
    return rows


def print_ab(rows: list[dict]) -> None:
    """The part ``ab`` table, and the issue's targets per world."""
    frame = pd.DataFrame(rows)
    print("\n| world | arm | sessions | session time | share of oracle | zero-log prior "
          "| ceiling lists |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|")
    for _, r in frame.iterrows():
        print(
            f"| {r['world']} | {r['arm']} | {r['sessions']} | {r['time']:.2f} "
            f"| {r['oracle_share']:.1%} | {r['prior_time']:.2f} | {r['ceiling_time']:.2f} |"
        )
    print("\n| world | best trained arm | × its zero-log prior | × max(random, sticky) "
          "| off-policy estimate, contextual (95% CI) | online, day 2 |")  # fmt: skip
    print("|---|---|---:|---:|---|---:|")
    for world, group in frame.groupby("world", sort=False):
        time_of = group.set_index("arm")["time"]
        prior_of = group.set_index("arm")["prior_time"]
        best = time_of[list(TRAINED)].idxmax()
        baseline = max(time_of["random"], time_of["sticky_artist"])
        ope = group["ope"].iloc[0]
        print(
            f"| {world} | {best} {time_of[best]:.2f} | {time_of[best] / prior_of[best]:.1f} "
            f"| {time_of[best] / baseline:.1f} | {ope['snips']:.3f} "
            f"[{ope['lower']:.3f}, {ope['upper']:.3f}] | {ope['online']:.3f} |"
        )


def loop_part(root: Path, world_name: str, days: int, day1: int, per_day: int, arm: str,
              seed: int) -> dict:  # fmt: skip
    """Part ``loop``: the learning curve and the last day's A/B."""
    params = WORLDS[world_name]
    spec_days = [{"name": "DAY1", "sessions": day1, "arms": {"C": "random", "T1": "sticky_artist"}}]
    for day in range(2, days + 1):
        spec_days.append(
            {"name": f"DAY{day}", "sessions": per_day, "train": ["contextual"], "arms": {"C": arm}}
        )
    spec_days.append({"name": "AB", "sessions": per_day, "train": ["contextual"], "arms": ARMS})
    base = root / "loop" / world_name
    spec = write_spec(base / "spec.toml", f"loop-{world_name}", seed, params, spec_days)
    seconds = run_spec(spec, base / "run")
    run = base / "run"
    curve = []
    for day in range(1, days + 1):
        sessions = pd.read_csv(run / f"day{day}-sessions.csv")
        curve.append((day, float(sessions["time"].mean())))
    last = days + 1
    oracle = oracle_sessions(run / "world", seed, last, per_day, base / "oracle.csv")
    figures = arm_figures(run, last, "AB", ARMS, oracle)
    print(f"\nlearning loop on {world_name}: {days} days ({day1} then {per_day} sessions a day, "
          f"served by {arm}, retrained every night), {seconds:.0f} s")  # fmt: skip
    print("\n| day | served by | session time |\n|---:|---|---:|")
    for day, value in curve:
        print(f"| {day} | {'random / sticky_artist' if day == 1 else arm} | {value:.2f} |")
    print(f"\nday {last}, every arm after {days} nights of training:")
    print("\n| arm | sessions | session time | share of oracle |\n|---|---:|---:|---:|")
    for arm_name, f in figures.items():
        print(f"| {arm_name} | {f['sessions']} | {f['time']:.2f} | {f['time'] / f['oracle']:.1%} |")
    return {"curve": curve, "last": figures, "seconds": seconds}


def als_model(listens, catalog, seed: int = 0):
    """Implicit ALS on the session × track "played" matrix (what botify trained before)."""
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    _, rows = np.unique(listens.session, return_inverse=True)
    matrix = sp.csr_matrix(
        (np.ones(rows.size, dtype=np.float32), (rows, listens.track)),
        shape=(int(rows.max()) + 1, catalog.size),
    )
    matrix.data[:] = 1.0
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(factors=64, regularization=0.05, alpha=10.0,
                                        iterations=8, random_state=seed)  # fmt: skip
        model.fit(matrix, show_progress=False)
    return np.asarray(model.item_factors, dtype=np.float64)


def item2vec_model(listens, catalog, seed: int = 0, good_time: float = 0.5):
    """gensim word2vec (skip-gram) over each session's well-listened tracks."""
    from gensim.models import Word2Vec

    frame = pd.DataFrame({"session": listens.session, "track": listens.track})
    frame = frame[listens.time >= good_time]
    sentences = [
        [str(t) for t in group] for _, group in frame.groupby("session")["track"] if len(group) > 1
    ]
    model = Word2Vec(sentences, vector_size=32, window=20, min_count=1, sg=1, negative=10,
                     epochs=20, seed=seed, workers=1, sample=0)  # fmt: skip
    vectors = np.zeros((catalog.size, 32))
    keys = np.array([int(key) for key in model.wv.index_to_key])
    vectors[keys] = model.wv.vectors
    return vectors


def vector_model(vectors: np.ndarray, catalog):
    """Scorer and lists of a model of track vectors (cosine; one per artist, 50 per track)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    seen = np.flatnonzero(norms.ravel() > 0)

    def score(left, right):
        return np.einsum("ij,ij->i", unit[left], unit[right])

    def lists(k, per_artist, seed):
        keys, candidates, scores = [], [], []
        for start in range(0, seen.size, 512):
            batch = seen[start : start + 512]
            block = unit[batch] @ unit[seen].T
            top = np.argpartition(-block, min(300, seen.size - 1), axis=1)[:, :300]
            keys.append(np.repeat(batch, top.shape[1]))
            candidates.append(seen[top].ravel())
            scores.append(np.take_along_axis(block, top, axis=1).ravel())
        keys, candidates, scores = (np.concatenate(a) for a in (keys, candidates, scores))
        mask = keys != candidates
        return capped_top(keys[mask], candidates[mask], scores[mask], catalog.track_artist, k,
                          per_artist, seed)  # fmt: skip

    return score, lists


def models_part(root: Path, day1: int, day2: int, seed: int, world_name: str) -> list[dict]:
    """Part ``models``: offline AUC and online session time of each candidate model."""
    base = root / "models"
    day_one = [{"name": "DAY1", "sessions": day1, "arms": {"C": "random", "T1": "sticky_artist"}}]
    spec = write_spec(base / "day1.toml", "day1", seed, WORLDS[world_name], day_one)
    run_spec(spec, base / "day1")
    world, logs = base / "day1" / "world", base / "day1" / "logs"
    catalog = load_catalog(world)
    listens = read_listens(logs)[0]
    split = split_by_time(listens)
    train, test = listens.select_sessions(~split.test), listens.select_sessions(split.test)
    cases = heldout_cases(test, catalog.track_artist)
    pairs = evaluation_pairs(test)

    def build(name, data):
        if name in ("als", "item2vec"):
            make = als_model if name == "als" else item2vec_model
            return vector_model(make(data, catalog, seed), catalog)
        fitted = fit_model(name, data, catalog)
        return fitted.score, fitted.lists

    arms = {"C": "contextual", "T1": "anchor_fresh"}
    rows = []
    for name in ("learned", "affinity", "genre", "cooccurrence", "als", "item2vec"):
        score, lists = build(name, train)
        offline = evaluate(score, lists(K, PER_ARTIST, seed), cases, pairs, catalog.size)
        _, full_lists = build(name, listens)
        lists_file = base / f"{name}.jsonl"
        write_lists(full_lists(K, PER_ARTIST, seed), lists_file)
        days = [*day_one, {"name": "AB", "sessions": day2, "arms": arms,
                           "deploy": {"contextual": str(lists_file)}}]  # fmt: skip
        spec = write_spec(base / f"{name}.toml", name, seed, WORLDS[world_name], days)
        run_spec(spec, base / name)
        sessions = pd.read_csv(base / name / "day2-sessions.csv")
        experiment = Experiment("AB", arms)
        sessions["arm"] = [arms[experiment.treatment(int(u))] for u in sessions["user"]]
        online = sessions.groupby("arm")["time"].mean()
        rows.append({"model": name, "auc": offline.auc, "top_time": offline.top_time,
                     "hit_rate": offline.hit_rate, "contextual": online["contextual"],
                     "anchor_fresh": online["anchor_fresh"]})  # fmt: skip
    frame = pd.DataFrame(rows)
    print("\n| model | AUC | listen time, top 10% | hit-rate@10 | online contextual "
          "| online anchor_fresh |\n|---|---:|---:|---:|---:|---:|")  # fmt: skip
    for _, r in frame.iterrows():
        print(f"| {r['model']} | {r['auc']:.3f} | {r['top_time']:.3f} | {r['hit_rate']:.3f} "
              f"| {r['contextual']:.2f} | {r['anchor_fresh']:.2f} |")  # fmt: skip
    for metric in ("auc", "top_time", "hit_rate"):
        for arm in ("contextual", "anchor_fresh"):
            tau = kendalltau(frame[metric], frame[arm]).statistic
            print(f"Kendall's tau, offline {metric} vs online {arm}: {tau:+.2f}")
    return rows


def main() -> None:
    """Run the chosen parts and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["ab", "loop", "models", "all"], default="ab")
    parser.add_argument("--worlds", default=",".join(WORLDS), help="part ab's worlds")
    parser.add_argument("--day1", type=int, default=5000)
    parser.add_argument("--day2", type=int, default=6000)
    parser.add_argument("--days", type=int, default=7, help="part loop's days")
    parser.add_argument("--per-day", type=int, default=5000, help="part loop's sessions a day")
    parser.add_argument("--loop-arm", default="anchor_session")
    parser.add_argument("--loop-world", default="demo", choices=list(WORLDS))
    parser.add_argument("--models-world", default="demo", choices=list(WORLDS))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--ceiling", action="store_true", help="part ab: also serve the hidden embeddings' lists"
    )
    parser.add_argument("--out", type=Path, default=Path("bench-output/learning"))
    args = parser.parse_args()
    # Specs name their list files by absolute path (a spec's paths start at its folder).
    args.out = args.out.resolve()
    results = {}
    if args.part in ("ab", "all"):
        worlds = args.worlds.split(",")
        results["ab"] = ab_part(args.out, worlds, args.day1, args.day2, args.seed, args.ceiling)
    if args.part in ("loop", "all"):
        results["loop"] = loop_part(args.out, args.loop_world, args.days, args.day1,
                                    args.per_day, args.loop_arm, args.seed)  # fmt: skip
    if args.part in ("models", "all"):
        results["models"] = models_part(
            args.out, args.day1, args.day2, args.seed, args.models_world
        )
    (args.out / f"results-{args.part}.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
