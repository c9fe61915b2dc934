"""``botify`` command line: serve, train, deploy, report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from botify.config import CONTROL, Config
from botify.data.catalog import TRACKS_FILE
from botify.data.lists import LIST_KINDS
from botify.training.models import DEFAULT_MODEL, MODELS, PER_ARTIST, K


def _serve(args: argparse.Namespace) -> int:
    from botify.serving.serve import serve

    return serve(host=args.host, port=args.port, workers=args.workers)


def _config_from_env(command: str) -> Config | None:
    """The configuration from the environment, or None (after one line naming the bad
    variable) if it does not parse: every command checks it before doing anything."""
    try:
        return Config.from_env()
    except ValueError as e:
        print(f"botify {command}: {e}", file=sys.stderr)
        return None


def _train(args: argparse.Namespace) -> int:
    from botify.training.command import train_contextual_command

    config = args.config
    return train_contextual_command(
        logs=args.logs,
        out=args.out,
        tracks=args.tracks or config.data_dir / TRACKS_FILE,
        model=args.model,
        k=args.k,
        per_artist=args.per_artist,
        seed=args.seed,
        test_logs=args.test_logs,
        good_time=config.good_time,
        compare=args.compare,
        explore=config.explore,
    )


def _deploy(args: argparse.Namespace) -> int:
    from botify.rollout.commands import deploy_command

    return deploy_command(kind=args.kind, file=args.file, rollback=args.rollback, force=args.force)


def _activate(args: argparse.Namespace) -> int:
    from botify.rollout.commands import activate_command

    return activate_command(args.experiment)


def _report(args: argparse.Namespace) -> int:
    from botify.analysis.report import report_command

    return report_command(
        logs=args.logs,
        experiment=args.experiment,
        control=args.control,
        out=args.out,
        tracks=args.tracks,
        good_time=args.config.good_time,
        sql=args.sql,
        engine=args.engine,
        spark_master=args.spark_master,
    )


def _power(args: argparse.Namespace) -> int:
    from botify.analysis.power import power_command

    return power_command(
        logs=args.logs,
        experiment=args.experiment,
        control=args.control,
        mde=args.mde,
        alpha=args.alpha,
        power=args.power,
    )


def _experiment(args: argparse.Namespace) -> int:
    from botify.experiments.monitor import Monitoring
    from botify.experiments.runner import experiment_command

    if args.look_every is not None and args.look_every < 1:
        print("error: --look-every must be at least 1", file=sys.stderr)
        return 2
    watched = args.monitor or args.stop_early or args.look_every is not None
    monitoring = Monitoring(args.look_every, args.stop_early) if watched else None
    return experiment_command(args.spec, args.out, args.workers, args.worlds, monitoring)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``botify`` sub-command."""
    parser = argparse.ArgumentParser(prog="botify", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP service under gunicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5001)
    serve.add_argument("--workers", type=int, default=2)
    serve.set_defaults(func=_serve)

    train = sub.add_parser("train", help="build recommendation lists from event logs")
    train.add_argument("kind", choices=[k for k, kind in LIST_KINDS.items() if kind.trainable])
    train.add_argument("--logs", type=Path, required=True, help="event-log directory")
    train.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    train.add_argument(
        "--tracks",
        type=Path,
        default=None,
        help="the public catalog (default: $BOTIFY_DATA_DIR/tracks.jsonl)",
    )
    train.add_argument(
        "--model", choices=list(MODELS), default=DEFAULT_MODEL, help="default: %(default)s"
    )
    train.add_argument("--k", type=int, default=K, help="list length per track (%(default)s)")
    train.add_argument(
        "--per-artist",
        type=int,
        default=PER_ARTIST,
        help="tracks of one artist in a list, at most (%(default)s)",
    )
    train.add_argument("--seed", type=int, default=0, help="seed of the tie-breaking hash")
    train.add_argument(
        "--test-logs",
        type=Path,
        default=None,
        help="held-out logs for offline evaluation (default: the last day of --logs)",
    )
    train.add_argument(
        "--compare",
        action="store_true",
        help="evaluate every model offline, not only --model (slower on large logs)",
    )
    train.set_defaults(func=_train)

    deploy = sub.add_parser("deploy", help="switch every replica to new lists, no restart")
    deploy.add_argument("kind", choices=list(LIST_KINDS))
    deploy.add_argument("file", type=Path, nargs="?", help="JSONL lists to deploy")
    deploy.add_argument(
        "--rollback", action="store_true", help="restore the previously deployed version"
    )
    deploy.add_argument(
        "--force", action="store_true", help="deploy even a file without any recommendation"
    )
    deploy.set_defaults(func=_deploy)

    activate = sub.add_parser(
        "activate", help="switch every replica to another experiment, no restart"
    )
    activate.add_argument("experiment", help="a name defined in BOTIFY_EXPERIMENTS")
    activate.set_defaults(func=_activate)

    report = sub.add_parser("report", help="A/B report from event logs")
    report.add_argument("--logs", type=Path, required=True)
    report.add_argument("--experiment", default=None, help="default: the only/first one")
    report.add_argument("--control", default=CONTROL)
    report.add_argument("--out", type=Path, default=None, help="write report.md and PNG here")
    report.add_argument(
        "--tracks", type=Path, default=None, help="tracks.jsonl for artist diagnostics"
    )
    report.add_argument(
        "--sql",
        type=Path,
        default=None,
        help="also write the SQL the analysis ran (analysis.sql, and CSVs) in this directory",
    )
    report.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="where the analysis's SQL runs: DuckDB in this process, or Spark (the spark extra)",
    )
    report.add_argument(
        "--spark-master",
        default=None,
        help="with --engine spark: the cluster's master URL (default: local[*], or the one "
        "spark-submit sets)",
    )
    report.set_defaults(func=_report)

    power = sub.add_parser(
        "power", help="sessions per arm for a given effect, from observed variance (± CUPED)"
    )
    power.add_argument("--logs", type=Path, required=True)
    power.add_argument("--experiment", default=None, help="default: the latest one served")
    power.add_argument("--control", default=CONTROL)
    power.add_argument(
        "--mde", type=float, default=5.0, help="relative effect to detect, %% (%(default)s)"
    )
    power.add_argument("--power", type=float, default=0.8, help="(%(default)s)")
    power.add_argument("--alpha", type=float, default=0.05, help="two-sided (%(default)s)")
    power.set_defaults(func=_power)

    experiment = sub.add_parser("experiment", help="run an experiment spec end to end")
    experiment_sub = experiment.add_subparsers(dest="action", required=True)
    run = experiment_sub.add_parser(
        "run", help="world → service → days (train, deploy, simulate) → report, from a TOML spec"
    )
    run.add_argument("spec", type=Path, help="the experiment spec (TOML)")
    run.add_argument("--out", type=Path, default=None, help="default: experiment-output/NAME")
    run.add_argument("--workers", type=int, default=None, help="service and simulator workers")
    run.add_argument(
        "--worlds", type=int, default=None, help="robustness worlds (default: the spec's)"
    )
    run.add_argument(
        "--monitor",
        action="store_true",
        help="play the report day in chunks and show the running effects after each",
    )
    run.add_argument(
        "--look-every",
        type=int,
        default=None,
        metavar="SESSIONS",
        help="sessions per chunk when monitoring (default: a tenth of the day)",
    )
    run.add_argument(
        "--stop-early",
        action="store_true",
        help="monitor, and stop the report day once every comparison is decided",
    )
    run.set_defaults(func=_experiment)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``botify`` console script."""
    args = build_parser().parse_args(argv)
    args.config = _config_from_env(args.command)
    if args.config is None:
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
