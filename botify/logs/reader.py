"""Reading event logs: every segment of a directory, as events or as typed frames.

``read_events`` walks every segment (all processes, rotated files, at any depth) and skips
(and counts) lines that do not parse, such as a last line torn by a crash: for tools and
tests that want the events one by one. ``load_events`` reads the same segments with DuckDB
(parsing and checking in its engine, not line by line in Python) into frames for training
and analysis, dropping (and counting) events that lack what sessions and metrics need;
everything downstream works on the frames built here.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from botify.config import Config
from botify.logs.schema import COLUMNS, FIELD_CHECKS, MESSAGES

FILE_GLOB = "events-*.jsonl"


@dataclass
class ReadStats:
    """What ``read_events`` saw: files read, events parsed and lines it had to skip."""

    files: int = 0
    events: int = 0
    skipped_lines: int = 0


def log_files(log_dir: Path) -> list[Path]:
    """Every event-log segment under ``log_dir`` (recursively), in a stable order."""
    return sorted(Path(log_dir).rglob(FILE_GLOB))


def read_events(log_dir: Path, stats: ReadStats | None = None) -> Iterator[dict]:
    """Yield every well-formed event of every segment under ``log_dir``.

    Lines that are not a JSON object (a torn last line, garbage) are skipped and counted
    in ``stats.skipped_lines``. Events come file by file; sort by ``timestamp`` if order
    across processes matters.
    """
    stats = stats if stats is not None else ReadStats()
    for path in log_files(log_dir):
        stats.files += 1
        with open(path, "rb") as f:
            for raw in f:
                try:
                    event = json.loads(raw)
                except ValueError:
                    stats.skipped_lines += 1
                    continue
                if not isinstance(event, dict):
                    stats.skipped_lines += 1
                    continue
                stats.events += 1
                yield event


EVENT_COLUMNS = list(COLUMNS)
TEXT_COLUMNS = tuple(name for name, kind in COLUMNS.items() if kind == "category")
_INTEGER = "json_type({v}) IN ('BIGINT', 'UBIGINT')"
_NUMBER = "json_type({v}) IN ('BIGINT', 'UBIGINT', 'DOUBLE')"
# Each checked field's SQL check on the value read (see _read_type), NULL when absent.
_CHECK_SQL = {
    "message": f"{{v}} IN {MESSAGES}",
    # An unsigned integer beyond int64 fails the cast.
    "int64": f"{_INTEGER} AND TRY_CAST({{v}} AS BIGINT) IS NOT NULL",
    "int64_or_null": f"{{v}} IS NULL OR ({_INTEGER} AND TRY_CAST({{v}} AS BIGINT) IS NOT NULL)",
    "fraction": f"{_NUMBER} AND TRY_CAST({{v}} AS DOUBLE) BETWEEN 0 AND 1",
}
# A column from the JSON value of its field, by column type.
_FROM_JSON = {
    "int64": "TRY_CAST({v} AS BIGINT)",  # TRY: invalid rows are cast before dropped
    "float64": "TRY_CAST({v} AS DOUBLE)",
    "number": f"CASE WHEN {_NUMBER} THEN TRY_CAST({{v}} AS DOUBLE) END",
    "Int64": f"CASE WHEN {_INTEGER} THEN TRY_CAST({{v}} AS BIGINT) END",
}
# Columns that need no exact check are read as their type: DuckDB casts while parsing, text
# for a category (a number becomes its text), a number for "number" (a numeric string too,
# anything else NULL).
_READ_AS = {"category": "VARCHAR", "number": "DOUBLE"}


def _read_type(name: str) -> str:
    # Typing while parsing is lenient (5.5 would be read as the integer 6, "5" as 5), so
    # what must be exactly an integer or a number is read as JSON and checked: 3x the
    # reading time of a typed column, measured on the learning loop's logs.
    kind = COLUMNS[name]
    if FIELD_CHECKS.get(name, "message") != "message" or kind not in _READ_AS:
        return "JSON"
    return _READ_AS[kind]


def count_lines(path: Path, block: int = 1 << 24) -> int:
    """Lines of a file as ``for line in file`` counts them (a last line without its newline,
    such as one torn by a crash, counts)."""
    lines, last = 0, b"\n"
    with open(path, "rb") as f:
        while data := f.read(block):
            lines += data.count(b"\n")
            last = data[-1:]
    return lines + (last != b"\n")


def _json_path(key: str) -> str:
    # A quoted member name: experiment names may hold dots or quotes.
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _no_progress_bar(con: duckdb.DuckDBPyConnection) -> None:
    # DuckDB draws a bar on stderr for queries over 2 s: noise in the logs of a nightly run.
    # Under Jupyter it refuses the setting unless ipywidgets is installed, and draws no bar
    # without it either.
    with contextlib.suppress(duckdb.InvalidInputException):
        con.execute("SET enable_progress_bar = false")


# A frame column type's DuckDB type (``botify.logs.schema``'s column kinds).
SQL_TYPES = {
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "number": "DOUBLE",
    "Int64": "BIGINT",
    "category": "VARCHAR",
}


class EventLog:
    """Every well-formed event of a log directory, in the DuckDB table ``events`` of its own
    in-memory database (``open_log``), which spills to disk beyond its memory limit.

    ``events`` has the schema's ``COLUMNS`` (as ``SQL_TYPES``), ``row`` (the event's place in
    file order: files as ``log_files`` orders them, lines in order) and, for each experiment
    name, the event's treatment in a column named by ``experiment_columns``. Analysis and
    training query it (``query``) and pull only their results into pandas.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        experiment_columns: dict[str, str],
        read_stats: ReadStats,
        invalid_events: int,
        spill_dir: Path,
    ) -> None:
        self.con = con
        self.experiment_columns = experiment_columns
        self.read_stats = read_stats
        self.invalid_events = invalid_events
        self._spill_dir = spill_dir
        self.events = int(self.row("SELECT count(*) FROM events")[0])

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """The result of ``sql`` (with ``?`` placeholders for ``params``) as a frame."""
        return self.con.execute(sql, params or []).df()

    def row(self, sql: str, params: list | None = None) -> tuple | None:
        """The first row of ``sql``'s result (None if it has none)."""
        # Fetched to the end: a result left open blocks registering a frame.
        rows = self.con.execute(sql, params or []).fetchall()
        return rows[0] if rows else None

    def close(self) -> None:
        """Close the database and remove what it spilled to disk."""
        self.con.close()
        shutil.rmtree(self._spill_dir, ignore_errors=True)

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(memory_gb: float, threads: int, spill_dir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB database that keeps under ``memory_gb`` (spilling to
    ``spill_dir``) and runs on ``threads`` threads (0: one per core)."""
    settings = {"memory_limit": f"{memory_gb}GB", "temp_directory": str(spill_dir)}
    if threads:
        settings["threads"] = threads
    con = duckdb.connect(config=settings)
    _no_progress_bar(con)
    return con


def open_log(log_dir: Path, memory_gb: float | None = None, threads: int | None = None) -> EventLog:
    """Read every event-log segment under ``log_dir`` (all processes, rotated files) into an
    ``EventLog``: the lines are parsed and checked in DuckDB's engine, not one by one in
    Python, and stay there. ``memory_gb`` and ``threads`` default to ``BOTIFY_LOG_MEMORY_GB``
    and ``BOTIFY_LOG_THREADS`` (``botify.config``).

    Lines that are not a JSON object (torn, garbage, blank) are counted in
    ``read_stats.skipped_lines``; objects that fail the schema's checks (``FIELD_CHECKS``:
    e.g. a message other than next/last, a user that is not an integer) are dropped and
    counted in ``invalid_events``; a line with none of the event's fields is not an event
    (skipped). Numeric text counts as a number in the unchecked number columns.
    """
    config = Config.from_env()
    spill_dir = Path(tempfile.mkdtemp(prefix="botify-log-"))
    con = connect(
        config.log_memory_gb if memory_gb is None else memory_gb,
        config.log_threads if threads is None else threads,
        spill_dir,
    )
    try:
        return _load(con, Path(log_dir), spill_dir)
    except BaseException:
        con.close()
        shutil.rmtree(spill_dir, ignore_errors=True)
        raise


def _load(con: duckdb.DuckDBPyConnection, log_dir: Path, spill_dir: Path) -> EventLog:
    files = log_files(log_dir)
    stats = ReadStats(files=len(files))
    fields = {name: f'"{name}"' for name in (*COLUMNS, "experiments")}
    read_types = {name: _read_type(name) for name in COLUMNS} | {"experiments": "JSON"}
    typed = ", ".join(f"{fields[name]} {SQL_TYPES[kind]}" for name, kind in COLUMNS.items())
    con.execute(f"CREATE TABLE parsed (valid BOOLEAN, {typed}, experiments JSON)")
    if files:
        raw = ", ".join(f"'{name}': '{kind}'" for name, kind in read_types.items())
        valid = " AND ".join(
            f"({_CHECK_SQL[check].format(v=fields[name])})" for name, check in FIELD_CHECKS.items()
        )
        columns = ", ".join(
            _FROM_JSON[kind].format(v=fields[name]) if read_types[name] == "JSON" else fields[name]
            for name, kind in COLUMNS.items()
        )
        # Each line parsed once, straight into the fields it has (JSON values). A line that
        # does not parse, is not an object or has none of the fields is a row of NULLs:
        # not an event.
        con.execute(
            f"""
            INSERT INTO parsed
            SELECT {valid}, {columns}, experiments
            FROM read_json(?, format = 'newline_delimited', ignore_errors = true,
                           columns = {{{raw}}})
            WHERE NOT ({" AND ".join(f"{field} IS NULL" for field in fields.values())})
            """,
            [[str(path) for path in files]],
        )
    stats.events, valid_events = con.execute(
        "SELECT count(*), count(*) FILTER (valid) FROM parsed"
    ).fetchone()
    stats.skipped_lines = sum(count_lines(path) for path in files) - stats.events
    names = [
        row[0]
        for row in con.execute(
            "SELECT DISTINCT unnest(json_keys(experiments)) AS name FROM parsed "
            "WHERE valid AND json_type(experiments) = 'OBJECT' ORDER BY name"
        ).fetchall()
    ]
    experiment_columns = {name: f"x{i}" for i, name in enumerate(names)}
    extracted = "".join(
        f", json_extract_string(experiments, ?) AS {column}"
        for column in experiment_columns.values()
    )
    # rowid: rows are inserted in the order read_json reads them, which is file order.
    con.execute(
        f"CREATE TABLE events AS SELECT rowid AS row, {', '.join(fields[name] for name in COLUMNS)}"
        f"{extracted} FROM parsed WHERE valid",
        [_json_path(name) for name in names],
    )
    con.execute("DROP TABLE parsed")
    return EventLog(con, experiment_columns, stats, stats.events - valid_events, spill_dir)
