"""The A/B report: markdown text, the effects PNG, and the ``botify report`` command."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from botify.analysis.diagnostics import load_track_artists
from botify.analysis.metrics import GUARDRAIL_METRICS
from botify.analysis.pipeline import AbAnalysis, analyze_experiment, default_experiment
from botify.analysis.plot import save_effects_plot
from botify.analysis.stats import COMPARISON_COLUMNS
from botify.config import Config
from botify.data.catalog import TRACKS_FILE
from botify.logs.reader import EventDatabase, LogMemoryError, open_log

REPORT_FILE = "report.md"
PLOT_FILE = "effects.png"
JSON_FILE = "report.json"
# The figures of a comparison row in report.json, besides its names and flags.
JSON_COLUMNS = (
    "effect",
    "lower",
    "upper",
    "p_value",
    "p_holm",
    "control_mean",
    "treatment_mean",
    "n_control",
    "n_treatment",
    "variance_reduction",
)
# The course's table shape: the comparison columns up to the significance flag.
TABLE_COLUMNS = COMPARISON_COLUMNS[: COMPARISON_COLUMNS.index("significant") + 1]
COUNT_COLUMNS = ("users", "closed_sessions", "open_sessions", "recommendations")
# How the report names the engine the analysis's SQL ran on (``botify report --engine``).
ENGINE_NAMES = {"duckdb": "DuckDB", "spark": "Spark"}
RATE_COLUMNS = ("repeat_rate", "same_artist_rate", "artist_repeat_rate", "skip_rate", "coverage")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured markdown table of already formatted cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _missing(value: float) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _percent(value: float, signed: bool = True) -> str:
    if _missing(value):
        return "n/a"
    return f"{value:+.2f}%" if signed else f"{value:.1f}%"


def _number(value: float) -> str:
    return "n/a" if _missing(value) else f"{value:.4g}"


def _count(value: int) -> str:
    return f"{int(value):,}"


def _effect_cells(row: pd.Series, labels: dict[str, str]) -> list[str]:
    """The formatted ``TABLE_COLUMNS`` of one comparison row."""
    return [
        labels.get(str(row["treatment"]), str(row["treatment"])),
        str(row["metric"]),
        _percent(row["effect"]),
        _percent(row["upper"]),
        _percent(row["lower"]),
        _number(row["control_mean"]),
        _number(row["treatment_mean"]),
        "n/a" if _missing(row["p_holm"]) else ("yes" if row["significant"] else "no"),
    ]


def effects_table(comparison: pd.DataFrame, labels: dict[str, str] | None = None) -> str:
    """The course's table: one row per treatment × metric, effects in % with their CI;
    ``labels`` name the treatments (``T1 anchor``)."""
    rows = [_effect_cells(row, labels or {}) for _, row in comparison.iterrows()]
    return markdown_table(list(TABLE_COLUMNS), rows)


def cuped_section(analysis: AbAnalysis) -> str:
    """The CUPED rows with their variance reduction, or why there are none."""
    pre = analysis.pre_period
    if pre is None or analysis.adjusted is None:
        return (
            "No pre-period (no events before the experiment's first): no CUPED adjustment; "
            "the unadjusted rows above decide."
        )
    labels = treatment_labels(analysis)
    adjusted, plain = analysis.adjusted, analysis.comparison
    narrowing = 1 - (adjusted["upper"] - adjusted["lower"]) / (plain["upper"] - plain["lower"])
    rows = [
        [
            *_effect_cells(row, labels),
            _percent(100 * row["variance_reduction"], signed=False),
            "plain row: CUPED would widen it"
            if row["fallback"]
            else _percent(100 * narrowed, signed=False)
            + (" (θ per arm)" if row["theta"] == "per_arm" else ""),
        ]
        for (_, row), narrowed in zip(adjusted.iterrows(), narrowing, strict=True)
    ]
    thetas = adjusted["theta"].value_counts()
    per_metric = (
        adjusted.groupby("metric", sort=False)["variance_reduction"].agg(["min", "max"]).dropna()
    )
    summary = "; ".join(
        f"{metric} {100 * r['min']:.1f}% to {100 * r['max']:.1f}%"
        for metric, r in per_metric.iterrows()
    )
    text = (
        f"Pre-period: the {_count(pre.events)} events before the experiment's first "
        f"(timestamp {pre.start}); {_count(pre.users_seen)} of its {_count(pre.users)} users "
        "appear in it. Covariate: each user's same metric over the pre-period (users it never "
        "saw: time, sessions and active days 0, other metrics the mean of those it saw); θ "
        "pooled over both arms of each comparison (tea-tasting's); where that would widen the "
        "absolute or relative interval, θ per arm, and where that would too, the plain row: "
        "CUPED never widens an interval (here θ pooled in "
        f"{thetas.get('pooled', 0)} rows, per arm in {thetas.get('per_arm', 0)}, plain in "
        f"{thetas.get('none', 0)}, of {len(adjusted)}). Means are the adjusted means. variance "
        "reduction = 1 - Var(adjusted effect) / Var(unadjusted effect); CI narrowing = 1 - "
        "width ratio of the relative CIs. Holm as above, over these rows. **These rows "
        "decide.**\n\n"
        f"Variance reduction per metric (range over treatments): {summary or 'n/a'}."
    )
    header = [*TABLE_COLUMNS, "variance reduction", "CI narrowing"]
    return text + "\n\n" + markdown_table(header, rows)


def sample_ratio_line(analysis: AbAnalysis) -> str:
    """The SRM verdict with its test statistic and the users per treatment."""
    check = analysis.sample_ratio
    users = " · ".join(f"{name} {_count(n)}" for name, n in check.users.items())
    if check.verdict == "no data":
        return f"**Sample ratio:** not testable (users: {users})"
    verdict = {
        "ok": "OK",
        "warn": "WARNING, p < 0.01: check assignment and logging before trusting effects",
        "alert": "ALERT, p < 0.001: the split is broken, the effects below are not trustworthy",
    }[check.verdict]
    return (
        f"**Sample ratio:** {verdict} (chi-square = {check.chi2:.2f}, p = {check.p_value:.3g}; "
        f"users: {users})"
    )


def guardrail_line(analysis: AbAnalysis, max_increase: float = 0.2) -> str:
    """The p99 latency guardrail: each treatment's p99 and its change vs control."""
    latency = analysis.latency
    parts = []
    for name, row in latency.iterrows():
        if _missing(row["p99_latency_ms"]):
            parts.append(f"{name} n/a")
            continue
        change = "" if name == analysis.control else f" ({_percent(100 * row['change'])})"
        parts.append(f"{name} {row['p99_latency_ms']:.1f} ms{change}")
    breached = [str(name) for name, row in latency.iterrows() if row["breached"]]
    verdict = f"BREACHED by {', '.join(breached)}" if breached else "OK"
    return (
        f"**Guardrail, p99 request latency:** {verdict} "
        f"(limit +{100 * max_increase:.0f}% vs control; {' · '.join(parts)})"
    )


def _diagnostic_cell(column: str, value: object) -> str:
    if column in RATE_COLUMNS:
        return _percent(100 * value, signed=False)
    if column == "recommender":
        return str(value) if isinstance(value, str) and value else "n/a"
    if column in COUNT_COLUMNS:
        return _count(value)
    return _number(value)


def diagnostics_table(diagnostics: pd.DataFrame) -> str:
    """Diagnostics, one row each, one column per treatment (so many treatments stay narrow)."""
    header = ["diagnostic", *[str(name) for name in diagnostics.index]]
    rows = [
        [column, *[_diagnostic_cell(column, value) for value in diagnostics[column]]]
        for column in diagnostics.columns
    ]
    return markdown_table(header, rows)


def served_by_table(served_by: pd.DataFrame) -> str:
    """Which recommender or fallback answered (rows), as % of each treatment's requests."""
    header = ["served_by", *[str(name) for name in served_by.index]]
    rows = [
        [str(source), *[_percent(100 * v, signed=False) for v in served_by[source]]]
        for source in served_by.columns
    ]
    return markdown_table(header, rows)


def render_report(analysis: AbAnalysis, plot_file: str | None = None) -> str:
    """The whole report as markdown."""
    guardrail = analysis.comparison["metric"].isin(GUARDRAIL_METRICS)
    comparisons, guardrail_comparisons = int((~guardrail).sum()), int(guardrail.sum())
    artists = (
        ""
        if analysis.has_artists
        else "\n\nSame-artist diagnostics skipped: no catalog (`--tracks` or "
        f"`$BOTIFY_DATA_DIR/{TRACKS_FILE}`)."
    )
    sections = [
        f"# A/B report: experiment `{analysis.experiment}`, control `{analysis.control}`",
        (
            f"Logs: {_count(analysis.events)} events from {_count(analysis.files)} files; "
            f"{_count(analysis.skipped_lines)} unreadable lines skipped (torn or malformed); "
            + (
                f"{_count(analysis.skipped_files)} paths named like a log file skipped (not "
                "regular files: dangling or looping links, directories, FIFOs); "
                if analysis.skipped_files
                else ""
            )
            + f"{_count(analysis.invalid_events)} events missing required fields dropped; "
            f"{_count(analysis.events_outside)} events served outside this experiment; "
            f"{_count(analysis.users_with_conflicting_treatments)} users with conflicting "
            "treatments excluded.\n"
            f"Sessions: {_count(analysis.closed_sessions)} closed; "
            f"{_count(analysis.open_sessions)} open (no `last`) excluded from the metrics.\n"
            f"Engine: {ENGINE_NAMES.get(analysis.engine, analysis.engine)}."
        ),
        sample_ratio_line(analysis),
        guardrail_line(analysis),
        "## Effects",
        (
            "effect = treatment mean / control mean - 1 over users; lower/upper: 95% CI "
            "(Welch, relative by the delta method); significant: Holm-adjusted p < 0.05 over "
            f"{comparisons} treatment × metric comparisons, and over the {guardrail_comparisons} "
            "latency comparisons as a family of their own (CIs are per comparison)."
        ),
        effects_table(analysis.comparison, treatment_labels(analysis)),
        "### CUPED: adjusted for each user's pre-period",
        cuped_section(analysis),
        "## Diagnostics",
        (
            "Over listened recommended tracks of closed sessions: repeat = already played in "
            "the session; same artist = artist of the track just listened; artist repeat = "
            "artist already played in the session; skip = time < good_time; "
            "repeat/fresh_listen_time = mean time of repeated / not yet played tracks; "
            "coverage = distinct "
            "recommended tracks / catalog." + artists
        ),
        diagnostics_table(analysis.diagnostics),
        "### Served by (share of answered requests)",
        served_by_table(analysis.served_by),
    ]
    if plot_file:
        sections.append(f"![effects with 95% CIs]({plot_file})")
    return "\n\n".join(sections) + "\n"


def _json_value(value: object) -> object:
    # JSON has no NaN: a missing figure is null; numpy scalars become Python numbers.
    if isinstance(value, np.generic):
        value = value.item()
    return None if _missing(value) else value


def treatment_labels(analysis: AbAnalysis) -> dict[str, str]:
    """``T1`` → ``T1 anchor``: each treatment with the recommender it served."""
    recommenders = analysis.diagnostics["recommender"]
    return {
        str(name): f"{name} {recommenders[name]}"
        if isinstance(recommenders.get(name), str) and recommenders[name]
        else str(name)
        for name in [analysis.control, *analysis.treatment_names]
    }


def report_json(analysis: AbAnalysis) -> dict:
    """The machine-readable report: the checks and one row per treatment × metric × method
    (``welch``, and ``cuped`` with a pre-period); ``decided_on`` names the method that decides."""
    recommenders = analysis.diagnostics["recommender"]
    check = analysis.sample_ratio
    rows = []
    tables = [analysis.comparison] + ([] if analysis.adjusted is None else [analysis.adjusted])
    for _, row in pd.concat(tables, ignore_index=True).iterrows():
        rows.append(
            {
                "treatment": row["treatment"],
                "recommender": _json_value(recommenders.get(row["treatment"])),
                "metric": row["metric"],
                **{key: _json_value(row[key]) for key in JSON_COLUMNS},
                "significant": bool(row["significant"]),
                "method": row["method"],
                "fallback": bool(row["fallback"]),
                "theta": row["theta"],
            }
        )
    pre = analysis.pre_period
    return {
        "experiment": analysis.experiment,
        "control": analysis.control,
        "engine": analysis.engine,
        "control_recommender": _json_value(recommenders.get(analysis.control)),
        "sample_ratio": {
            "users": {str(k): int(v) for k, v in check.users.items()},
            "chi2": _json_value(check.chi2),
            "p_value": _json_value(check.p_value),
            "verdict": check.verdict,
        },
        "guardrail": {
            "metric": "p99_latency_ms",
            "breached": [str(name) for name, r in analysis.latency.iterrows() if r["breached"]],
            "treatments": {
                str(name): {key: _json_value(r[key]) for key in ("p99_latency_ms", "change")}
                for name, r in analysis.latency.iterrows()
            },
        },
        "sessions": {"closed": analysis.closed_sessions, "open": analysis.open_sessions},
        "pre_period": None
        if pre is None
        else {
            "start": pre.start,
            "events": pre.events,
            "users_seen": pre.users_seen,
            "users": pre.users,
        },
        "decided_on": str(analysis.decisive["method"].iloc[0]) if len(rows) else None,
        "comparisons": rows,
    }


def write_report(
    analysis: AbAnalysis, out: Path, appendix: str = "", extra_json: dict | None = None
) -> str:
    """Write ``report.md``, ``report.json`` and the effects PNG into ``out``; returns the
    markdown. ``appendix`` (markdown) ends the report and ``extra_json`` adds keys to
    ``report.json``: a caller with more to say (the experiment runner) writes each file once."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    labels = treatment_labels(analysis)
    decisive = analysis.decisive
    comparison = decisive.assign(
        treatment=decisive["treatment"].map(lambda t: labels.get(str(t), str(t)))
    )
    control = labels[str(analysis.control)]
    method = "CUPED" if analysis.adjusted is not None else "unadjusted"
    title = f"Experiment {analysis.experiment}: effect vs control {control} ({method})"
    save_effects_plot(comparison, title, out / PLOT_FILE)
    text = render_report(analysis, PLOT_FILE) + appendix
    (out / REPORT_FILE).write_text(text, encoding="utf-8")
    data = report_json(analysis) | (extra_json or {})
    (out / JSON_FILE).write_text(json.dumps(data, indent=2) + "\n")
    return text


def resolve_tracks(tracks: Path | None) -> Path | None:
    """The catalog to use: ``tracks``, else ``$BOTIFY_DATA_DIR/tracks.jsonl`` if it exists."""
    if tracks is not None:
        return tracks
    data_dir = os.environ.get("BOTIFY_DATA_DIR")
    default = Path(data_dir) / TRACKS_FILE if data_dir else None
    return default if default is not None and default.is_file() else None


def open_engine_log(logs: Path, engine: str, spark_master: str | None = None) -> EventDatabase:
    """The logs under ``logs`` read by ``engine``: DuckDB (``open_log``) or Spark
    (``botify.logs.spark``, on ``spark_master``; default ``local[*]`` or spark-submit's)."""
    if engine == "duckdb":
        return open_log(logs)
    from botify.logs.spark import open_spark_log, spark_session

    return open_spark_log(logs, spark_session(spark_master))


def report_command(
    logs: Path,
    experiment: str | None,
    control: str,
    out: Path | None,
    tracks: Path | None,
    good_time: float = Config.good_time,
    sql: Path | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
) -> int:
    """``botify report``: print the report; with ``out`` also write report.md and the PNG;
    with ``sql`` also the SQL it ran (``EventDatabase.export_sql``), to run elsewhere.

    ``good_time`` is the listen fraction below which the diagnostics count a skip: the
    service's ``BOTIFY_GOOD_TIME``, so the report and the anchor agree on a good listen.
    ``engine`` ``spark`` runs the same statements on Spark (``spark_master``), where it
    reads the logs too; without pyspark or Java that is one error line and exit 2.
    """
    if not Path(logs).is_dir():
        print(f"error: --logs {logs} is not a directory", file=sys.stderr)
        return 2
    if engine == "spark":
        from botify.logs.spark import spark_missing

        missing = spark_missing()
        if missing is not None:
            print(f"error: --engine spark: {missing}", file=sys.stderr)
            return 2
    elif spark_master is not None:
        print("error: --spark-master needs --engine spark", file=sys.stderr)
        return 2
    try:
        with open_engine_log(logs, engine, spark_master) as log:
            if not log.events:
                print(f"error: no readable events under {logs}", file=sys.stderr)
                return 2
            catalog = resolve_tracks(tracks)
            name = experiment or default_experiment(log)
            analysis = analyze_experiment(
                log, name, control, load_track_artists(catalog) if catalog else None, good_time
            )
            if sql is not None:
                print(f"wrote the analysis's SQL to {log.export_sql(Path(sql))}", file=sys.stderr)
    except (ValueError, OSError, LogMemoryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if out is None:
        print(render_report(analysis))
        return 0
    print(write_report(analysis, Path(out)))
    print(f"wrote {REPORT_FILE}, {JSON_FILE} and {PLOT_FILE} in {out}")
    return 0
