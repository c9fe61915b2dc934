"""Reading event logs: every segment of a directory, as events or as typed frames.

``read_events`` walks every segment (all processes, rotated files, at any depth) and skips
(and counts) lines that do not parse, such as a last line torn by a crash. ``load_events``
turns them into frames for training and analysis, dropping (and counting) events that lack
what sessions and metrics need; everything downstream works on the frames built here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import pandas as pd

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


EVENT_COLUMNS = (
    "message",
    "timestamp",
    "user",
    "track",
    "time",
    "latency",
    "recommendation",
    "recommender",
    "served_by",
    "request",
    "candidates",
    "experiment",
)
# An event without these, well typed, cannot be placed in a session or scored: it is dropped
# (and counted) rather than guessed at.
REQUIRED_INT_FIELDS = ("timestamp", "user", "track")
MESSAGES = ("next", "last")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _is_int64(value: object) -> bool:
    return type(value) is int and INT64_MIN <= value <= INT64_MAX


def is_valid_event(event: dict) -> bool:
    """Whether ``event`` has what sessions and metrics need: a ``next``/``last`` message,
    integer ``timestamp``, ``user`` and ``track``, a ``time`` in [0, 1], and a ``request``
    counter that is an integer or absent (degraded answers have none)."""
    if event.get("message") not in MESSAGES:
        return False
    if not all(_is_int64(event.get(field)) for field in REQUIRED_INT_FIELDS):
        return False
    request = event.get("request")
    if request is not None and not _is_int64(request):
        return False
    time = event.get("time")
    # NaN fails the comparison too.
    return type(time) in (int, float) and 0.0 <= time <= 1.0


@dataclass(frozen=True)
class EventLogFrame:
    """Every well-formed event of a log directory.

    ``events`` has one row per event with ``EVENT_COLUMNS``; ``experiments`` is aligned with
    it row by row and has one column per experiment name holding the event's treatment.
    """

    events: pd.DataFrame
    experiments: pd.DataFrame
    read_stats: ReadStats
    invalid_events: int


TEXT_COLUMNS = ("message", "recommender", "served_by", "experiment")


def _as_categories(frame: pd.DataFrame, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    # A few distinct strings repeated millions of times: categories hold each once.
    return frame.astype({column: "category" for column in columns or frame.columns})


def _typed(chunk: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns as numbers and text as categories, chunk by chunk, to bound memory."""
    chunk = chunk.astype(
        {"timestamp": "int64", "user": "int64", "track": "int64", "time": "float64"}
    )
    for column in ("latency", "request", "candidates"):
        chunk[column] = pd.to_numeric(chunk[column], errors="coerce")
    chunk["recommendation"] = pd.to_numeric(chunk["recommendation"], errors="coerce").astype(
        "Int64"
    )
    return _as_categories(chunk, TEXT_COLUMNS)


def load_events(log_dir: Path, chunk_size: int = 20_000) -> EventLogFrame:
    """Read every event-log segment under ``log_dir`` (all processes, rotated files).

    Lines that do not parse are counted in ``read_stats.skipped_lines``; parsed events that
    fail ``is_valid_event`` are dropped and counted in ``invalid_events``.
    """
    stats = ReadStats()
    stream = read_events(Path(log_dir), stats)
    # Converting in chunks keeps memory near the frames' size instead of millions of dicts.
    event_chunks: list[pd.DataFrame] = []
    experiment_chunks: list[pd.DataFrame] = []
    invalid = 0
    while parsed := list(islice(stream, chunk_size)):
        chunk = [event for event in parsed if is_valid_event(event)]
        invalid += len(parsed) - len(chunk)
        event_chunks.append(_typed(pd.DataFrame.from_records(chunk, columns=list(EVENT_COLUMNS))))
        experiment_chunks.append(
            _as_categories(
                pd.DataFrame.from_records([record.get("experiments") or {} for record in chunk])
            )
        )
    if not event_chunks:
        event_chunks = [_typed(pd.DataFrame(columns=list(EVENT_COLUMNS)))]
    events = _as_categories(pd.concat(event_chunks, ignore_index=True), TEXT_COLUMNS)
    experiments = pd.concat([pd.DataFrame(), *experiment_chunks], ignore_index=True)
    experiments = _as_categories(experiments.reindex(events.index))
    return EventLogFrame(
        events=events,
        experiments=experiments,
        read_stats=stats,
        invalid_events=invalid,
    )
