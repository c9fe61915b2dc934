"""The event logs on Spark: the same ``EventDatabase`` whose statements run on a Spark cluster.

``open_spark_log`` reads every segment with Spark (on its executors: the driver sees no
line), parses each line into a VARIANT and checks it with the schema's checks
(``botify.logs.reader.checked_event_sql``, the SQL DuckDB runs, on Spark's parts of a JSON
value), and keeps the events as the temporary view ``events``. A ``SparkEventDatabase``
then takes the analysis's statements as they are written, in DuckDB's dialect, and
transpiles each with sqlglot when it runs: the SQL has one source, and ``export_sql``
writes the same script as on DuckDB. A ``CREATE TABLE`` becomes a view of a checkpointed
result (computed once, like DuckDB's table, so a window's ties fall the same way for
every statement that reads it); only the results the analysis pulls (per session, per
user, per treatment) come back to the driver.

pyspark and a Java runtime are an extra (``pip install -e '.[spark]'`` and Debian's
``openjdk-17-jre-headless``); ``spark_missing`` says what is absent.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import pandas as pd
import sqlglot
from sqlglot import exp

from botify.logs.reader import (
    COLUMNS,
    EventDatabase,
    ReadStats,
    checked_event_sql,
    events_columns,
    inline,
    read_into,
    readable_segments,
)

ENGINE = "spark"
DEFAULT_MASTER = "local[*]"
# A field's JSON type in DuckDB's words (``_CHECK_SQL`` compares with those), from the
# type Spark gave its VARIANT: a JSON integer in int64's range is a BIGINT; any other number
# (5.0, 0.5, 1e25, an integer beyond int64) a DECIMAL or a DOUBLE, which fails an integer
# check as DuckDB's DOUBLE (or UBIGINT beyond int64) does.
_JSON_TYPE = (
    "CASE WHEN {s} IN ('BIGINT', 'INT', 'SMALLINT', 'TINYINT') THEN 'BIGINT' "
    "WHEN {s} IN ('DOUBLE', 'FLOAT') OR {s} LIKE 'DECIMAL%' THEN 'DOUBLE' ELSE {s} END"
)
# Python's json writes NaN and Infinity, which are no JSON and which Spark's parser refuses
# (the whole line) while DuckDB reads them as numbers: outside strings, they become strings
# that a number column casts to the same NaN / infinity and that fail a check as DuckDB's.
_NON_NUMBERS = "(?<=[:,\\[]\\s{0,8})(-?Infinity|NaN)(?=\\s*[,}\\]])"

# Spark's SQL of the parts of a field's value ``{f}`` (a VARIANT), by the type the reader
# reads the field as (``botify.logs.reader._read_type``).
SPARK_PARTS = {
    "JSON": {
        "t": _JSON_TYPE.format(s="schema_of_variant({f})"),
        "i": "try_variant_get({f}, '$', 'bigint')",
        "d": "try_variant_get({f}, '$', 'double')",
    },
    "VARCHAR": {
        "v": "CASE WHEN schema_of_variant({f}) = 'STRING' THEN variant_get({f}, '$', 'string') "
        "ELSE to_json({f}) END"
    },
    "DOUBLE": {"v": "try_variant_get({f}, '$', 'double')"},
}
# A field of the parsed line ``line``: NULL where it is absent or JSON's null (a VARIANT
# null is no SQL NULL), as DuckDB reads both.
_FIELD = (
    "CASE WHEN schema_of_variant(variant_get(line, '$.{name}')) != 'VOID' "
    "THEN variant_get(line, '$.{name}') END"
)


def spark_missing() -> str | None:
    """What ``--engine spark`` lacks on this machine (None when pyspark and Java are there)."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed: pip install -e '.[spark]'"
    if shutil.which("java") is None:
        return "no Java runtime: apt-get install openjdk-17-jre-headless (or set JAVA_HOME)"
    return None


def spark_session(master: str | None = None, app_name: str = "botify-report", **conf: str):
    """The Spark session the analysis runs on (``getOrCreate``: one per process), its UI
    off; ``master`` None keeps the one spark-submit set, else ``DEFAULT_MASTER``; ``conf``
    adds settings (e.g. ``spark.sql.shuffle.partitions``)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    # spark-submit starts the JVM first and hands its port to the Python it runs.
    if master is not None or "PYSPARK_GATEWAY_PORT" not in os.environ:
        builder = builder.master(master or DEFAULT_MASTER)
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.log.level": "ERROR",
        # Results come to the driver as Arrow batches, not row by row.
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # DuckDB's semantics: a failed cast is NULL, not an error (the statements use
        # TRY_CAST where they mean it; ANSI mode would fail on the reading's casts).
        "spark.sql.ansi.enabled": "false",
        **conf,
    }
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _exact_percentile(node: exp.Expression) -> exp.Expression:
    # DuckDB's quantile_cont is Spark's percentile: both exact, interpolating linearly at
    # (n - 1) * q.
    if isinstance(node, exp.PercentileCont):
        return exp.Anonymous(this="percentile", expressions=[node.this, node.expression])
    return node


def _inline_windows(node: exp.Expression) -> exp.Expression:
    # Spark refuses a named window extended with a frame, OVER (w ROWS ...): each use of a
    # WINDOW clause's name gets the window's partition and order.
    if not isinstance(node, exp.Select) or not node.args.get("windows"):
        return node
    named = {window.this.name: window for window in node.args["windows"]}
    node = node.copy()
    for window in node.find_all(exp.Window):
        alias = window.args.get("alias")
        definition = named.get(alias.name) if alias is not None else None
        if definition is not None and window.parent_select is node:
            window.set("alias", None)
            window.set("partition_by", [e.copy() for e in definition.args["partition_by"]])
            window.set("order", definition.args["order"].copy())
    node.set("windows", None)
    return node


def to_spark(sql: str) -> exp.Expression:
    """``sql`` (DuckDB's dialect, no placeholders) as a Spark SQL syntax tree."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    return tree.transform(_inline_windows).transform(_exact_percentile)


@contextlib.contextmanager
def _pandas_quiet():
    # pyspark warns about pandas 3 on every conversion; the frames here are plain.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PySpark does not yet", FutureWarning)
        yield


class SparkEventDatabase(EventDatabase):
    """An ``EventDatabase`` whose ``events`` and statements are on Spark (``open_spark_log``).

    ``execute`` returns the statement's Spark DataFrame; ``query`` and ``row`` bring its
    rows to the driver. ``close`` drops the views and cached results it made, and leaves
    the Spark session running for the next log.
    """

    engine = ENGINE

    def __init__(self, spark, directory: Path) -> None:
        super().__init__(spark, directory)
        self.spark = spark
        self._views: list[str] = []
        self._kept: dict[str, object] = {}

    def _view(self, name: str, frame) -> None:
        frame.createOrReplaceTempView(name)
        self._views.append(name)

    def execute(self, sql: str, params: list | None = None):
        """Run ``sql`` (DuckDB's dialect, ``?`` placeholders for ``params``) on Spark."""
        statement = inline(sql, params)
        self.statements.append(statement)
        tree = to_spark(statement)
        if isinstance(tree, exp.Create):
            name = tree.this.name
            frame = self.spark.sql(tree.expression.sql(dialect="spark"))
            if tree.kind == "TABLE":
                # Computed once, as DuckDB's table is: every later statement sees the
                # same rows (a window's tied rows numbered once).
                previous = self._kept.pop(name, None)
                frame = frame.localCheckpoint(eager=True)
                self._kept[name] = frame
                if previous is not None:
                    previous.unpersist()
            self._view(name, frame)
            return frame
        return self.spark.sql(tree.sql(dialect="spark"))

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """The result of ``sql`` as a pandas frame on the driver."""
        frame = self.execute(sql, params)
        with _pandas_quiet():
            return frame.toPandas()

    def row(self, sql: str, params: list | None = None) -> tuple | None:
        """The first row of ``sql``'s result (None if it has none)."""
        rows = self.execute(sql, params).take(1)
        return tuple(rows[0]) if rows else None

    def _attach(self, name: str, frame: pd.DataFrame) -> None:
        # A small table of the driver's (treatments, artists), sent to the executors.
        with _pandas_quiet():
            self._view(name, self.spark.createDataFrame(frame))

    def close(self) -> None:
        """Drop the views and results of this log; the Spark session stays up."""
        for name in set(self._views):
            self.spark.catalog.dropTempView(name)
        for frame in self._kept.values():
            frame.unpersist()
        self._views.clear()
        self._kept.clear()
        shutil.rmtree(self._directory, ignore_errors=True)


def _json_path(key: str) -> str:
    # Spark's JSON path of a member whatever its name (dots, quotes): $['name'].
    return "$['" + key.replace("\\", "\\\\").replace("'", "\\'") + "']"


def open_spark_log(log_dir: Path, spark) -> SparkEventDatabase:
    """Read every event-log segment under ``log_dir`` with ``spark`` into a
    ``SparkEventDatabase``: the lines parsed and checked as ``open_log`` does (the same
    checks, the same counts of skipped lines and invalid events)."""
    directory = Path(tempfile.mkdtemp(prefix="botify-spark-"))
    return read_into(SparkEventDatabase(spark, directory), _read_events, Path(log_dir))


def _read_events(log: SparkEventDatabase, log_dir: Path) -> None:
    stats: ReadStats = log.read_stats
    files = readable_segments(log_dir, stats)
    spark = log.spark
    if not files:
        typed = ", ".join(f"CAST(NULL AS STRING) AS `{name}`" for name in COLUMNS)
        log._view("events", spark.sql(f"SELECT {typed} WHERE FALSE"))
        return
    lines = spark.read.text([str(path) for path in files])
    log._view("log_lines", lines)
    parts, valid, columns = checked_event_sql(SPARK_PARTS, _FIELD)
    # DuckDB quotes names with double quotes; Spark with backquotes.
    parts, valid, columns = (s.replace('"', "`") for s in (parts, valid, columns))
    # A line that does not parse, is not an object or has none of the fields is no event;
    # blank lines are no lines of the log.
    present = " OR ".join(f"{_FIELD.format(name=name)} IS NOT NULL" for name in COLUMNS)
    experiments = _FIELD.format(name="experiments")
    parsed = spark.sql(
        f"""
        SELECT event, event AND {valid} AS valid, {columns}, experiments FROM (
            SELECT coalesce(schema_of_variant(line) LIKE 'OBJECT%' AND ({present}
                OR {experiments} IS NOT NULL), FALSE) AS event, {parts},
                CASE WHEN schema_of_variant({experiments}) LIKE 'OBJECT%'
                    THEN to_json({experiments}) END AS experiments
            FROM (SELECT try_parse_json(regexp_replace(value, r'{_NON_NUMBERS}', '"$1"')) AS line
                FROM log_lines WHERE trim(value) != '')
        )
        """
    ).localCheckpoint(eager=True)
    log._kept["parsed"] = parsed
    log._view("parsed", parsed)
    lines_read, stats.events, valid_events = spark.sql(
        "SELECT count(*), count_if(event), count_if(valid) FROM parsed"
    ).first()
    stats.skipped_lines = lines_read - stats.events
    names = [
        row[0]
        for row in spark.sql(
            "SELECT DISTINCT explode(json_object_keys(experiments)) AS name FROM "
            "(SELECT DISTINCT experiments FROM parsed WHERE valid) ORDER BY name"
        ).collect()
    ]
    experiment_columns, columns = events_columns(
        names, "get_json_object(experiments, {path})", _json_path, quote="`"
    )
    log._view("events", spark.sql(f"SELECT {columns} FROM parsed WHERE valid"))
    log.experiment_columns = experiment_columns
    log.invalid_events = stats.events - valid_events
    log.events = int(spark.sql("SELECT count(*) FROM events").first()[0])
