"""``botify experiment run SPEC.toml``: a whole experiment from a spec, end to end.

world (``sim world``) → Redis (embedded unless ``BOTIFY_REDIS_URL``) → the service under
gunicorn, knowing every day's experiment → for each day: retrain on all logs so far and
deploy (if the day says so), activate the day's experiment, simulate the day over HTTP
(``sim run --agent remote``) → the A/B report of the report day, the per-day table and plot.
Every process it starts is stopped at the end, on failure and on Ctrl-C. A spec that cannot
run is one line naming the key, exit 2, before anything starts. ``--worlds N`` (or
``[robustness] worlds``) reruns the whole experiment on N further worlds with other seeds
and behaviour (``botify.experiments.robustness``) and tables whether each effect holds on all.
``--monitor`` plays the report day in chunks with a look after each
(``botify.experiments.monitor``);
``--stop-early`` ends the day once every comparison is decided. Without them a day is one
``sim run``, as always.

Output under ``--out``: ``report.md`` / ``report.json`` / ``effects.png`` (the A/B),
``days.png`` (session time per day and arm), ``logs/``, ``day<N>-sessions.csv`` (the
simulator's per-session figures), the trained lists, and ``worlds/<i>/`` per robustness world.
The runner marks, locks and clears that directory itself and refuses any other
(``botify.experiments.output``); every process it starts gets SIGTERM if the runner dies,
even by SIGKILL (``botify.serving.lifeline``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import requests

from botify.analysis.days import DAY_TABLE_NOTE, day_markdown, day_table, save_days_plot
from botify.analysis.diagnostics import load_track_artists
from botify.analysis.pipeline import AbAnalysis, analyze_experiment
from botify.analysis.report import write_report
from botify.analysis.sequential import MONITOR_METRIC
from botify.config import Config
from botify.data.catalog import TRACKS_FILE, load_catalog
from botify.experiments.monitor import LiveView, Monitoring, Watch, look_lines
from botify.experiments.output import OutputDirectory, OutputError
from botify.experiments.robustness import describe, holds_table, robustness_worlds
from botify.experiments.spec import ExperimentSpec, SpecError, check_overrides, load_spec
from botify.logs.reader import open_log
from botify.recommenders.plugins import PluginError
from botify.recommenders.registry import check_recommender_names
from botify.rollout.deploy import activate, publish
from botify.serving.lifeline import die_with_parent
from botify.serving.redis_server import RedisServer
from botify.serving.service_process import ServiceProcess
from botify.state.client import connect
from botify.training.command import TrainingError, train_lists

DAYS_PLOT = "days.png"


class StageError(RuntimeError):
    """A stage of the run failed; the message says which and why."""


def stage(title: str) -> float:
    """Announce a stage; returns its start time."""
    print(f"\n=== {title}", flush=True)
    return time.perf_counter()


def done(started: float) -> None:
    """Say how long the stage took."""
    print(f"    ({time.perf_counter() - started:.0f} s)", flush=True)


def run_module(*command: str, env: dict[str, str] | None = None) -> None:
    """Run ``python -m COMMAND`` with its output shown; a failure is a ``StageError``."""
    finished = subprocess.run([sys.executable, "-m", *command], env=env, preexec_fn=die_with_parent)
    if finished.returncode != 0:
        raise StageError(f"`{' '.join(command[:2])}` exited with code {finished.returncode}")


def world_flags(params: dict) -> list[str]:
    """``sim world`` flags of a spec's ``[world]`` table (``a_b = x`` → ``--a-b x``)."""
    flags = []
    for key, value in params.items():
        values = value if isinstance(value, list) else [value]
        flags += [f"--{key.replace('_', '-')}", *(str(v) for v in values)]
    return flags


def check_world(params: dict) -> None:
    """``sim world --check``: a ``SpecError`` naming the parameter it refuses."""
    seed = str(params.get("seed", 0))
    rest = {key: value for key, value in params.items() if key != "seed"}
    checked = subprocess.run(
        [sys.executable, "-m", "sim", "world", "--seed", seed, "--out", "-", "--check"]
        + world_flags(rest),
        capture_output=True,
        text=True,
        preexec_fn=die_with_parent,
    )
    if checked.returncode != 0:
        reason = checked.stderr.strip().splitlines()[-1] if checked.stderr.strip() else ""
        raise SpecError(f"world: {reason.removeprefix('sim world: ').removeprefix('sim: ')}")


def check_spec(spec: ExperimentSpec) -> None:
    """Everything that can be checked before anything starts (``SpecError``)."""
    if spec.world_path is None:
        check_world(spec.world_params)
    sys.path.insert(0, str(spec.directory))
    try:
        check_recommender_names(sorted(spec.recommenders))
    except (PluginError, ValueError) as e:
        raise SpecError(f"days.arms: {e}") from None
    finally:
        sys.path.remove(str(spec.directory))


def wait_until_serving(
    url: str, experiment: str, versions: dict[str, str], timeout_s: float = 60
) -> None:
    """Wait until every worker serves ``experiment`` with the deployed list ``versions``.

    Requests land on any worker, so twenty agreeing answers in a row mean all switched.
    """
    deadline = time.monotonic() + timeout_s
    agreeing = 0
    with requests.Session() as http:
        while agreeing < 20:
            try:
                health = http.get(f"{url}/health", timeout=5).json()
            except requests.RequestException:
                # A slow answer on a busy machine is not an answer yet: ask again until the
                # deadline, rather than fail a whole run on one slow poll.
                health = {"experiment": None, "recommendations": {}}
            served = health["recommendations"]
            switched = health["experiment"] == experiment and all(
                served.get(kind) == version for kind, version in versions.items()
            )
            agreeing = agreeing + 1 if switched else 0
            if time.monotonic() > deadline:
                raise StageError(f"the service did not switch to {experiment} / {versions}")
            time.sleep(0.05)


@dataclass(frozen=True)
class WorldRun:
    """What one run of the spec on one world produced."""

    out: Path
    world: Path
    analysis: AbAnalysis
    days: pd.DataFrame
    watch: Watch | None = None


def _sim_run(
    spec: ExperimentSpec, day: int, world: Path, url: str, workers: int, episodes: int, out: Path
) -> list[str]:
    """``sim run`` of ``episodes`` sessions of ``day`` against the service, stats to ``out``.

    The population's state between days stays beside the world (``sim run``'s default), so
    a later ``sim run --first-day N`` on that world (the in-process oracle of
    ``bench/learning.py``) replays day N's visits from the same state."""
    return ["sim", "run", "--world", str(world), "--agent", "remote", "--url", url,
            "--episodes", str(episodes), "--workers", str(workers), "--days", "1",
            "--first-day", str(day), "--seed", str(spec.seed), "--out", str(out)]  # fmt: skip


def _simulate_day(spec: ExperimentSpec, day: int, world: Path, url: str, out: Path, workers: int):
    sessions = spec.days[day - 1].sessions
    run_module(*_sim_run(spec, day, world, url, workers, sessions, out / f"day{day}-sessions.csv"))


def _simulate_watched(
    spec: ExperimentSpec,
    world: Path,
    url: str,
    out: Path,
    workers: int,
    watch: Watch,
) -> None:
    """The report day in chunks (``sim run --first-session --part``), a look after each
    chunk, until a chunk finds the day's visits exhausted."""
    day = spec.report_day
    total = spec.days[day - 1].sessions
    chunk = watch.monitoring.chunk(total)
    view = LiveView()
    parts = []
    first = 0
    while True:
        part = out / f"day{day}-sessions-from-{first}.csv"
        played = subprocess.run(
            [sys.executable, "-m", *_sim_run(spec, day, world, url, workers, total, part)]
            + ["--first-session", str(first), "--part", str(chunk), "--quiet"],
            capture_output=True,
            text=True,
            preexec_fn=die_with_parent,
        )
        if played.returncode != 0:
            print(played.stdout + played.stderr, file=sys.stderr)
            raise StageError(f"`sim run` (sessions from {first}) exited with {played.returncode}")
        parts.append(part)
        sessions = len(pd.read_csv(part))
        first += sessions
        look = watch.look(out / "logs", first)
        view.show(look_lines(look, watch))
        if watch.monitoring.stop_early and look.all_decided:
            print(f"    every comparison decided: stopped after {look.sessions:,} sessions")
            break
        if sessions < chunk:
            break
    pd.concat([pd.read_csv(part) for part in parts], ignore_index=True).to_csv(
        out / f"day{day}-sessions.csv", index=False
    )
    for part in parts:
        part.unlink()


def monitoring_markdown(watch: Watch) -> str:
    """The report's section on the looks taken while the report day ran."""
    last = watch.looks[-1]
    stopped = watch.monitoring.stop_early and last.all_decided
    outcome = (
        f"stopped early at look {last.number}: every comparison decided after "
        f"{last.sessions:,} of {watch.total_sessions:,} sessions ({last.seconds:.0f} s)"
        if stopped
        else f"ran all {watch.total_sessions:,} sessions ({last.seconds:.0f} s)"
    )
    lines = [
        f"Looks after every chunk of sessions; running effect of every treatment on "
        f"{watch.looks[0].effects['method'].iloc[0]} {MONITOR_METRIC} per user with always-valid "
        f"{1 - watch.monitoring.alpha:.0%} confidence sequences (Waudby-Smith et al., "
        f"Bonferroni over the treatments, tuned for {watch.n_star:,.0f} users); "
        f"{outcome}. The fixed-horizon p-values above assume the day's size was fixed in "
        "advance; after an early stop, trust these intervals.",
        "",
        "```",
    ]
    for look in watch.looks:
        lines += look_lines(look, watch)
    return "\n".join([*lines, "```"])


def _train_and_deploy(
    spec: ExperimentSpec, day: int, world: Path, logs: Path, out: Path, client, config: Config
) -> dict[str, str]:
    versions = {}
    catalog = load_catalog(world)
    for kind in spec.days[day - 1].train:
        lists = out / f"{kind}-day{day}.jsonl"
        # The offline evaluation is the training command's report for a person choosing a
        # model; an experiment's nightly retrain only needs the lists.
        try:
            trained = train_lists(
                logs,
                lists,
                world / TRACKS_FILE,
                seed=spec.seed,
                good_time=config.good_time,
                evaluate=False,
            )
        except TrainingError as e:
            raise StageError(f"training {kind} before day {day} failed: {e}") from None
        print(f"    {trained.logs.summary()}\n    {trained.summary()}")
        versions[kind] = publish(client, config, catalog, kind, lists)
        print(f"    deployed {kind} version {versions[kind]}")
    for kind, lists in spec.days[day - 1].deploy.items():
        versions[kind] = publish(client, config, catalog, kind, lists)
        print(f"    deployed {kind} version {versions[kind]} from {lists}")
    return versions


def run_world(
    spec: ExperimentSpec,
    world_params: dict | None,
    out: Path,
    workers: int,
    monitoring: Monitoring | None = None,
    keep_fds: tuple[int, ...] = (),
) -> WorldRun:
    """The whole spec on one world (generated from ``world_params``, else ``spec.world_path``);
    with ``monitoring``, the report day is watched (``_simulate_watched``). ``out`` is new
    or emptied by ``OutputDirectory.claim``; the service and Redis inherit ``keep_fds``
    (its lock)."""
    out.mkdir(parents=True, exist_ok=True)
    started = stage(f"world: {world_params or spec.world_path}")
    if world_params is None:
        world = spec.world_path
    else:
        world = out / "world"
        seed = str(world_params.get("seed", spec.seed))
        rest = {key: value for key, value in world_params.items() if key != "seed"}
        run_module("sim", "world", "--seed", seed, "--out", str(world), *world_flags(rest))
    done(started)

    logs = out / "logs"
    redis_url = os.environ.get("BOTIFY_REDIS_URL")
    embedded = service = watch = None
    try:
        started = stage("Redis and the service (gunicorn; embedded Redis unless set)")
        if redis_url:
            print(f"    using BOTIFY_REDIS_URL={redis_url} (earlier state affects answers)")
        else:
            embedded = RedisServer(out / "redis", pass_fds=keep_fds).start()
            redis_url = embedded.url
            print(f"    started a fresh embedded redis-server ({embedded.binary}) at {redis_url}")
        python_path = os.pathsep.join(
            p for p in (str(spec.directory), os.environ.get("PYTHONPATH")) if p
        )
        env = {
            "BOTIFY_REDIS_URL": redis_url,
            "BOTIFY_EXPERIMENTS": json.dumps(spec.experiments),
            "BOTIFY_EXPERIMENT": spec.days[0].name,
            "BOTIFY_SEED": str(spec.seed),
            # An experiment measures recommenders, not the machine: a state call slowed by
            # a load spike past the service's 0.5 s default would get a degraded, random
            # answer, and the same spec another table. Users can still set their own.
            "BOTIFY_REDIS_TIMEOUT_S": os.environ.get("BOTIFY_REDIS_TIMEOUT_S", "5"),
            "PYTHONPATH": python_path,
        }
        service = ServiceProcess(
            world, logs, out / "redis", workers=workers, env=env, pass_fds=keep_fds
        ).start()
        config = _service_config(world, redis_url, spec)
        client = connect(redis_url, config)
        print(f"    serving at {service.url}")
        done(started)
        for day, day_spec in enumerate(spec.days, start=1):
            started = stage(
                f"day {day}: {day_spec.sessions} sessions, experiment {day_spec.name} "
                f"{day_spec.arms}"
                + (f", retrain {', '.join(day_spec.train)}" if day_spec.train else "")
            )
            versions = _train_and_deploy(spec, day, world, logs, out, client, config)
            if day > 1 and day_spec.name != spec.days[day - 2].name:
                activate(client, config, day_spec.name)
            wait_until_serving(service.url, day_spec.name, versions)
            if monitoring is not None and day == spec.report_day:
                watch = Watch(
                    experiment=day_spec.name,
                    control=spec.control,
                    total_sessions=day_spec.sessions,
                    # Users of a comparison at the planned end: about its two arms' sessions.
                    n_star=2 * day_spec.sessions / len(day_spec.arms),
                    monitoring=monitoring,
                    labels={t: f"{t} {name}" for t, name in day_spec.arms.items()},
                )
                _simulate_watched(spec, world, service.url, out, workers, watch)
            else:
                _simulate_day(spec, day, world, service.url, out, workers)
            done(started)
    finally:
        if service is not None:
            service.stop()
        if embedded is not None:
            embedded.close()

    report_days = ", ".join(str(day) for day in spec.report_days)
    started = stage(f"report: day {report_days}, experiment {spec.report.name}")
    with open_log(logs) as log:
        analysis = analyze_experiment(
            log,
            spec.report.name,
            spec.control,
            load_track_artists(world / TRACKS_FILE),
            config.good_time,
        )
        days = day_table(log, [day.name for day in spec.days])
    save_days_plot(days, f"{spec.name}: session time and retention per day", out / DAYS_PLOT)
    done(started)
    return WorldRun(out, world, analysis, days, watch)


def write_world_report(run: WorldRun, robustness: tuple[str, dict] | None = None) -> str:
    """Write ``run``'s report files, each once: the A/B report (``write_report``) followed
    by the days, the monitoring looks (if watched) and ``robustness`` (its markdown section
    and its ``report.json`` entry); returns the markdown."""
    appendix = (
        f"\n## Days\n\n{DAY_TABLE_NOTE}\n\n{day_markdown(run.days)}\n"
        f"\n![session time and retention per day]({DAYS_PLOT})\n"
    )
    extra_json = {}
    if run.watch is not None:
        appendix += f"\n## Monitoring\n\n{monitoring_markdown(run.watch)}\n"
        extra_json["monitoring"] = run.watch.to_json()
    if robustness is not None:
        section, extra_json["robustness"] = robustness
        appendix += section
    return write_report(run.analysis, run.out, appendix, extra_json)


def _service_config(world: Path, redis_url: str, spec: ExperimentSpec) -> Config:
    """The runner's view of the service's settings, for deploy, activate and the report."""
    return replace(
        Config.from_env(),
        redis_url=redis_url,
        data_dir=world,
        experiments=spec.experiments,
        experiment=spec.days[0].name,
        seed=spec.seed,
    )


def run_experiment(
    spec: ExperimentSpec,
    output: OutputDirectory,
    workers: int,
    worlds: int,
    monitoring: Monitoring | None = None,
) -> int:
    """Run ``spec`` on its world and ``worlds`` robustness worlds into the claimed
    ``output``; returns the exit code.

    ``monitoring`` watches the report day on the spec's own world only."""
    total = time.perf_counter()
    out, keep_fds = output.path, (output.lock.fileno(),)
    params = None if spec.world_path else spec.world_params
    main = run_world(spec, params, out, workers, monitoring, keep_fds)
    others = []
    base = dict(spec.world_params) if spec.world_path is None else {"seed": spec.seed}
    for number, params in enumerate(robustness_worlds(base, worlds), start=1):
        label = f"world {number}: {describe(params, base)}"
        print(f"\n##### robustness {label}", flush=True)
        world_out = out / "worlds" / str(number)
        run = run_world(spec, params, world_out, workers, keep_fds=keep_fds)
        write_world_report(run)
        others.append((label, run))
    robustness = None
    if others:
        table, data = holds_table(main.analysis, [(label, run.analysis) for label, run in others])
        robustness = (
            f"\n## Does the effect hold on every world?\n\n{data['metric']} vs control on "
            f"{len(others)} further worlds (a cell: effect [95% CI], holds = significant with "
            f"the same sign as on the spec's own world).\n\n{table}\n",
            data,
        )
    text = write_world_report(main, robustness)
    print("\n" + text)
    print(f"experiment {spec.name} finished in {time.perf_counter() - total:.0f} s; see {out}/")
    return 0


def experiment_command(
    spec_path: Path,
    out: Path | None,
    workers: int | None,
    worlds: int | None,
    monitoring: Monitoring | None = None,
):
    """``botify experiment run``: check the spec and the output directory, run it, stop
    everything on any exit."""
    try:
        check_overrides(workers, worlds)
        spec = load_spec(spec_path)
        check_spec(spec)
    except SpecError as e:
        print(f"botify experiment: {spec_path}: {e}", file=sys.stderr)
        return 2
    output = OutputDirectory(out or Path("experiment-output") / spec.name, spec.name)
    try:
        output.claim()
    except OutputError as e:
        print(f"botify experiment: {e}", file=sys.stderr)
        return 2
    # `kill` (SIGTERM) stops the run as Ctrl-C does: without this, the service, Redis and
    # the simulator outlived a terminated runner. (A runner started in the background by a
    # non-interactive shell ignores SIGINT, so SIGTERM is how such a run is stopped.)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return run_experiment(
            spec,
            output,
            workers or spec.workers,
            spec.robustness_worlds if worlds is None else worlds,
            monitoring,
        )
    except KeyboardInterrupt:
        print("\ninterrupted; every process the run started has been stopped", file=sys.stderr)
        return 130
    except (StageError, RuntimeError, ValueError, OSError) as e:
        print(f"\nbotify experiment: failed: {e}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        output.release()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
