"""Reading event logs: every segment of a directory, as events or as a database.

``read_events`` walks every segment (all processes, rotated files, at any depth) and skips
(and counts) lines that do not parse, such as a last line torn by a crash: for tools and
tests that want the events one by one. ``open_log`` reads the same segments with DuckDB
(parsing and checking in its engine, not line by line in Python) into the table of an
``EventDatabase``, dropping (and counting) events that lack what sessions and metrics need.
Training and analysis query that table in SQL and pull only their results into pandas, so
memory stays bounded however long the logs (the README's "Logs at scale" has the figures).
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import duckdb
import pandas as pd

from botify.config import Config
from botify.logs.schema import COLUMNS, FIELD_CHECKS, MESSAGES

FILE_GLOB = "events-*.jsonl"


# A line longer than this is no event (an event is under 1 KiB): skipped and counted, as
# DuckDB refuses a whole file over a line longer than its ``maximum_object_size``.
MAX_LINE_BYTES = 16 * 1024 * 1024


@dataclass
class ReadStats:
    """What ``read_events`` saw: files read, events parsed and lines it had to skip; and
    the paths named like segments that are no regular files (dangling or looping links,
    directories, FIFOs), skipped."""

    files: int = 0
    events: int = 0
    skipped_lines: int = 0
    skipped_files: list[Path] = field(default_factory=list)


def _is_regular_file(path: Path) -> bool:
    # stat follows a link; a FIFO is never opened (reading one would wait for a writer).
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:  # dangling or looping link, no permission
        return False


def segments(log_dir: Path) -> tuple[list[Path], list[Path]]:
    """The event-log segments under ``log_dir`` (recursively), in a stable order, and the
    paths named like one that are not regular files (skipped)."""
    found = sorted(Path(log_dir).rglob(FILE_GLOB))
    files = [path for path in found if _is_regular_file(path)]
    return files, [path for path in found if path not in set(files)]


def log_files(log_dir: Path) -> list[Path]:
    """Every event-log segment under ``log_dir`` (recursively), in a stable order."""
    return segments(log_dir)[0]


def bounded_lines(f: BinaryIO, stats: ReadStats) -> Iterator[bytes]:
    """The lines of ``f``, without those over ``MAX_LINE_BYTES`` or holding NUL bytes (as a
    crash can leave at a file's end): those are counted in ``stats.skipped_lines``, and a
    line is never held whole past the limit."""
    while line := f.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES:
            while line and not line.endswith(b"\n"):
                line = f.readline(1 << 20)
            stats.skipped_lines += 1
        elif b"\0" in line:
            stats.skipped_lines += 1
        else:
            yield line


def read_events(log_dir: Path, stats: ReadStats | None = None) -> Iterator[dict]:
    """Yield every well-formed event of every segment under ``log_dir``.

    Lines that are not a JSON object (a torn last line, garbage) are skipped and counted
    in ``stats.skipped_lines``; blank lines are no lines of the log, as for ``open_log``.
    Events come file by file; sort by ``timestamp`` if order across processes matters.
    """
    stats = stats if stats is not None else ReadStats()
    files, stats.skipped_files = segments(log_dir)
    for path in files:
        stats.files += 1
        with open(path, "rb") as f:
            for raw in bounded_lines(f, stats):
                if not raw.strip():
                    continue
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
_INTEGER = "('BIGINT', 'UBIGINT')"
_NUMBER = "('BIGINT', 'UBIGINT', 'DOUBLE')"
# Each checked field's SQL check on the parts of the value read (see _read_type): its text
# {v} (a typed field), or its JSON type {t} and its value cast to BIGINT {i} or DOUBLE {d}
# (NULL where the cast fails); all NULL when the field is absent.
_CHECK_SQL = {
    "message": f"{{v}} IN {MESSAGES}",
    # An unsigned integer beyond int64 fails the cast.
    "int64": f"{{t}} IN {_INTEGER} AND {{i}} IS NOT NULL",
    "int64_or_null": f"{{t}} IS NULL OR ({{t}} IN {_INTEGER} AND {{i}} IS NOT NULL)",
    "fraction": f"{{t}} IN {_NUMBER} AND {{d}} BETWEEN 0 AND 1",
}
# A column from the parts of its field's JSON value, by column type.
_FROM_JSON = {
    "int64": "{i}",
    "float64": "{d}",
    "number": f"CASE WHEN {{t}} IN {_NUMBER} THEN {{d}} END",
    "Int64": f"CASE WHEN {{t}} IN {_INTEGER} THEN {{i}} END",
}
# A number column read typed: Python's json writes NaN, which DuckDB reads as a NaN; the
# schema makes it missing (NULL), as it was in pandas, where NaN is missing.
_FROM_TYPED = {"number": "CASE WHEN NOT isnan({v}) THEN {v} END"}
# The parts of a field's value, computed once: a JSON value is parsed for its type and for
# each cast, not once more per use of it.
_PARTS = {
    "JSON": {
        "t": "json_type({f})",
        "i": "TRY_CAST({f} AS BIGINT)",
        "d": "TRY_CAST({f} AS DOUBLE)",
    },
}
# Columns that need no exact check are read as their type: DuckDB casts while parsing, text
# for a category (a number becomes its text), a number for "number" (a numeric string too,
# anything else NULL).
_READ_AS = {"category": "VARCHAR", "number": "DOUBLE"}


def _read_type(name: str) -> str:
    # Typing while parsing is lenient (5.5 would be read as the integer 6, "5" as 5), so
    # what must be exactly an integer or a number is read as JSON and checked; the other
    # columns are read typed, which is several times faster.
    kind = COLUMNS[name]
    if FIELD_CHECKS.get(name, "message") != "message" or kind not in _READ_AS:
        return "JSON"
    return _READ_AS[kind]


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


class LogMemoryError(MemoryError):
    """DuckDB needed more memory than ``BOTIFY_LOG_MEMORY_GB`` allows."""


def sql_literal(value: object) -> str:
    """``value`` (a string, a number or a list of them) as an SQL literal."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list):
        return "[" + ", ".join(map(sql_literal, value)) + "]"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"no SQL literal for {value!r}")
    return repr(value)


def inline(sql: str, params: list | None) -> str:
    """``sql`` with each ``?`` replaced by the literal of its parameter (``sql`` itself
    without parameters: a ``?`` in a literal is no placeholder there)."""
    if not params:
        return sql
    pieces, values = sql.split("?"), [sql_literal(value) for value in params or []]
    if len(pieces) != len(values) + 1:
        raise ValueError(f"{len(values)} parameters for {len(pieces) - 1} placeholders")
    return pieces[0] + "".join(v + piece for v, piece in zip(values, pieces[1:], strict=True))


class EventDatabase:
    """Every well-formed event of a log directory, in the DuckDB table ``events`` of a
    database of its own in a temporary directory (``open_log``), removed on ``close``.

    ``events`` has the schema's ``COLUMNS`` (as ``SQL_TYPES``) and, for each experiment
    name, the event's treatment in a column named by ``experiment_columns``; its rows come
    in no particular order (keeping file order cost 15% of the reading time). Analysis and
    training query it (``execute``, ``query``, ``row``) and pull only their results into
    pandas; small frames they need in SQL are ``register``-ed. Every statement is kept in
    ``statements`` (parameters inlined), so ``export_sql`` can write the whole analysis as a
    script to run on another SQL engine.
    """

    engine = "duckdb"  # the engine its statements run on, as the report names it

    def __init__(self, con: duckdb.DuckDBPyConnection, directory: Path) -> None:
        self.con = con
        self.experiment_columns: dict[str, str] = {}
        self.read_stats = ReadStats()
        self.invalid_events = 0
        self.events = 0
        self.statements: list[str] = []
        self.frames: dict[str, pd.DataFrame] = {}
        self._registered: dict[str, pd.DataFrame] = {}
        self._directory = directory

    def execute(self, sql: str, params: list | None = None) -> duckdb.DuckDBPyConnection:
        """Run ``sql`` (with ``?`` placeholders for ``params``)."""
        self.statements.append(inline(sql, params))
        try:
            return self.con.execute(sql, params or [])
        except duckdb.OutOfMemoryException as error:
            limit = self.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
            raise LogMemoryError(
                f"reading the logs needs more memory than its limit of {limit}: raise "
                f"BOTIFY_LOG_MEMORY_GB ({str(error).splitlines()[0]})"
            ) from None

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """The result of ``sql`` (with ``?`` placeholders for ``params``) as a frame."""
        return self.execute(sql, params).df()

    def row(self, sql: str, params: list | None = None) -> tuple | None:
        """The first row of ``sql``'s result (None if it has none)."""
        # Fetched to the end: a result left open blocks registering a frame.
        rows = self.execute(sql, params).fetchall()
        return rows[0] if rows else None

    def register(self, name: str, frame: pd.DataFrame) -> str:
        """Make ``frame`` queryable as the relation ``name``; returns ``name``."""
        if name in self._registered and self._registered[name].equals(frame):
            return name
        self._registered[name] = frame
        self._attach(name, frame)
        # In a script, the frame is a CSV file beside it, one per registration.
        file = f"{name}-{len(self.frames)}.csv"
        self.frames[file] = frame
        self.statements.append(
            f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM read_csv({sql_literal(file)})"
        )
        return name

    def _attach(self, name: str, frame: pd.DataFrame) -> None:
        # The engine's side of ``register``.
        self.con.register(name, frame)

    def export_sql(self, directory: Path) -> Path:
        """Write ``statements`` as ``directory/analysis.sql`` and the registered frames as CSV
        files beside it; returns the script's path."""
        directory.mkdir(parents=True, exist_ok=True)
        for file, frame in self.frames.items():
            frame.to_csv(directory / file, index=False)
        script = directory / "analysis.sql"
        script.write_text("".join(f"{statement.strip()};\n\n" for statement in self.statements))
        return script

    def close(self) -> None:
        """Close the database and remove its directory."""
        self.con.close()
        shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> EventDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_duckdb(memory_gb: float, threads: int, directory: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB database in a file of ``directory`` that keeps under ``memory_gb`` (spilling
    to ``directory``) and runs on ``threads`` threads (0: one per core).

    A file, not memory: DuckDB compresses what it stores in a file and not what it keeps in
    memory, so the events take a fraction of the space and the peak memory stays lower, for
    a small cost in time.
    """
    settings = {
        "memory_limit": f"{memory_gb}GB",
        "temp_directory": str(directory),
        # Keeping the insertion order slows reading down and nothing needs it: every query
        # that needs an order says which.
        "preserve_insertion_order": False,
    }
    if threads:
        settings["threads"] = threads
    con = duckdb.connect(str(directory / "events.duckdb"), config=settings)
    _no_progress_bar(con)
    return con


def open_log(
    log_dir: Path, memory_gb: float | None = None, threads: int | None = None
) -> EventDatabase:
    """Read every event-log segment under ``log_dir`` (all processes, rotated files) into an
    ``EventDatabase``: the lines are parsed and checked in DuckDB's engine, not one by one in
    Python, and stay there. ``memory_gb`` and ``threads`` default to ``BOTIFY_LOG_MEMORY_GB``
    and ``BOTIFY_LOG_THREADS`` (``botify.config``).

    Lines that are not a JSON object (torn, garbage) are counted in
    ``read_stats.skipped_lines``; objects that fail the schema's checks (``FIELD_CHECKS``:
    e.g. a message other than next/last, a user that is not an integer) are dropped and
    counted in ``invalid_events``; a line with none of the event's fields is not an event
    (skipped). Numeric text counts as a number in the unchecked number columns.
    """
    config = Config.from_env()
    directory = Path(tempfile.mkdtemp(prefix="botify-log-"))
    con = open_duckdb(
        config.log_memory_gb if memory_gb is None else memory_gb,
        config.log_threads if threads is None else threads,
        directory,
    )
    return read_into(EventDatabase(con, directory), _insert_events, Path(log_dir))


def read_into(
    log: EventDatabase, read: Callable[[EventDatabase, Path], None], log_dir: Path
) -> EventDatabase:
    """``log`` once ``read`` has filled it from ``log_dir``; closed (its directory removed)
    if that fails, whatever the engine."""
    try:
        read(log, log_dir)
        return log
    except BaseException:
        log.close()
        raise


def _parts(name: str, parts_by_type: dict, field: str) -> dict[str, tuple[str, str]]:
    # The parts of field ``name`` (see _CHECK_SQL): part → (SQL on the field read, alias).
    # ``parts_by_type`` gives an engine's SQL of each part by the type the field is read as
    # (a typed field: its value {v} as read); ``field`` the SQL of the field's value read.
    parts = parts_by_type.get(_read_type(name), {"v": "{f}"})
    return {
        part: (expression.format(f=field.format(name=name)), f'"{name}:{part}"')
        for part, expression in parts.items()
    }


def _aliases(name: str) -> dict[str, str]:
    return {part: f'"{name}:{part}"' for part in _PARTS.get(_read_type(name), {"v": ""})}


def checked_event_sql(
    parts_by_type: dict = _PARTS, field: str = '"{name}"'
) -> tuple[str, str, str]:
    """The SQL that turns the fields read from a line into an event's columns, for an engine
    that reads a field's value with ``field`` (``{name}``: the field's name) and computes the
    parts of the ``_CHECK_SQL`` with ``parts_by_type``: the select list of the parts (each
    aliased), the condition that the parts pass the schema's checks (``FIELD_CHECKS``), and
    the select list of the ``COLUMNS`` from the parts, in order. One source of the checks
    for DuckDB (``open_log``) and Spark (``botify.logs.spark``)."""
    read_types = {name: _read_type(name) for name in COLUMNS}
    parts = ", ".join(
        f"{expression} AS {alias}"
        for name in COLUMNS
        for expression, alias in _parts(name, parts_by_type, field).values()
    )
    valid = " AND ".join(
        f"({_CHECK_SQL[check].format(**_aliases(name))})" for name, check in FIELD_CHECKS.items()
    )
    columns = ", ".join(
        (
            _FROM_JSON[kind].format(**_aliases(name))
            if read_types[name] == "JSON"
            else _FROM_TYPED.get(kind, "{v}").format(**_aliases(name))
        )
        + f' AS "{name}"'
        for name, kind in COLUMNS.items()
    )
    return parts, valid, columns


def events_columns(
    names: list[str], extract: str, path: Callable[[str], str], quote: str = '"'
) -> tuple[dict[str, str], str]:
    """The column of each experiment of ``names`` (``x0``, ``x1``, ...) and the select list
    of the ``events`` view from ``parsed``: the ``COLUMNS`` (quoted with ``quote``) and each
    experiment's treatment, by an engine's ``extract`` of a member of ``experiments``
    (``{path}``: the literal of its JSON path, ``path(name)``)."""
    experiment_columns = {name: f"x{i}" for i, name in enumerate(names)}
    columns = [f"{quote}{name}{quote}" for name in COLUMNS] + [
        extract.format(path=sql_literal(path(name))) + f" AS {column}"
        for name, column in experiment_columns.items()
    ]
    return experiment_columns, ", ".join(columns)


def _bounded_copy(path: Path, directory: Path, stats: ReadStats) -> Path:
    """A copy of the segment ``path`` in ``directory`` without its lines over
    ``MAX_LINE_BYTES`` or holding NUL bytes (counted in ``stats.skipped_lines``)."""
    copy = directory / f"bounded-{len(list(directory.glob('bounded-*')))}.jsonl"
    with open(path, "rb") as source, open(copy, "wb") as target:
        target.writelines(bounded_lines(source, stats))
    return copy


def _insert_segments(log: EventDatabase, insert_sql: str, files: list[Path]) -> None:
    """Run ``insert_sql`` (one ``?``: the list of files) over ``files``: all at once, and
    only when DuckDB refuses that (a line longer than its ``maximum_object_size``, such as
    a file's tail of NUL bytes), file by file, a refused file read from its bounded copy.
    A refused statement inserts nothing."""
    try:
        log.execute(insert_sql, [[str(path) for path in files]])
        return
    except duckdb.Error:
        log.statements.pop()
    for path in files:
        try:
            log.execute(insert_sql, [[str(path)]])
        except duckdb.Error as error:
            log.statements.pop()
            logging.getLogger(__name__).warning(
                "%s: skipping its lines over %d bytes or with NUL bytes (%s)",
                path,
                MAX_LINE_BYTES,
                str(error).splitlines()[0],
            )
            bounded = _bounded_copy(path, log._directory, log.read_stats)
            log.execute(insert_sql, [[str(bounded)]])


def readable_segments(log_dir: Path, stats: ReadStats) -> list[Path]:
    """The segments under ``log_dir`` to read, counted in ``stats``; the paths named like
    one that are no regular files are skipped with a warning each (for every engine)."""
    files, stats.skipped_files = segments(log_dir)
    for path in stats.skipped_files:
        logging.getLogger(__name__).warning(
            "skipping %s: named like a log segment but not a regular file", path
        )
    stats.files = len(files)
    return files


def _insert_events(log: EventDatabase, log_dir: Path) -> None:
    # Parse and check every segment under ``log_dir`` into the database's events table.
    stats = log.read_stats
    files = readable_segments(log_dir, stats)
    read_types = {name: _read_type(name) for name in COLUMNS} | {"experiments": "JSON"}
    typed = ", ".join(f'"{name}" {SQL_TYPES[kind]}' for name, kind in COLUMNS.items())
    log.execute(f"CREATE TABLE parsed (event BOOLEAN, valid BOOLEAN, {typed}, experiments JSON)")
    if files:
        raw = ", ".join(f"'{name}': '{kind}'" for name, kind in read_types.items())
        parts, valid, columns = checked_event_sql()
        present = " OR ".join(f'"{name}" IS NOT NULL' for name in (*COLUMNS, "experiments"))
        # Each line parsed once, straight into the fields it has (JSON values). A line that
        # does not parse or is not an object is a row of NULLs, like one that has none of
        # the fields: not an event. Blank lines are no rows.
        insert_sql = f"""
            INSERT INTO parsed
            SELECT event, event AND {valid}, {columns}, experiments FROM (
                SELECT {present} AS event, {parts}, experiments
                FROM read_json(?, format = 'newline_delimited', ignore_errors = true,
                               columns = {{{raw}}})
            )
            """
        _insert_segments(log, insert_sql, files)
    dropped = stats.skipped_lines
    lines, stats.events, valid_events = log.execute(
        "SELECT count(*), count(*) FILTER (event), count(*) FILTER (valid) FROM parsed"
    ).fetchall()[0]
    stats.skipped_lines = dropped + lines - stats.events
    names = [
        row[0]
        for row in log.execute(
            "SELECT DISTINCT unnest(json_keys(experiments)) AS name FROM ("
            "SELECT DISTINCT experiments FROM parsed "
            "WHERE valid AND json_type(experiments) = 'OBJECT') ORDER BY name"
        ).fetchall()
    ]
    experiment_columns, columns = events_columns(
        names, "json_extract_string(experiments, {path})", _json_path
    )
    # A view, not a copy: an experiment's column is extracted where a query reads it, which
    # is cheap, while a copy of the table would double its memory.
    log.execute(f"CREATE VIEW events AS SELECT {columns} FROM parsed WHERE valid")
    log.experiment_columns = experiment_columns
    log.invalid_events = stats.events - valid_events
    log.events = int(log.row("SELECT count(*) FROM events")[0])
