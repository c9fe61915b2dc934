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

from botify.logs.schema import COLUMNS, EXACT_TYPES, is_valid_event

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


@dataclass(frozen=True)
class EventLogFrame:
    """Every well-formed event of a log directory.

    ``events`` has one row per event with the schema's ``COLUMNS``; ``experiments`` is
    aligned with it row by row and has one column per experiment name holding the event's
    treatment.
    """

    events: pd.DataFrame
    experiments: pd.DataFrame
    read_stats: ReadStats
    invalid_events: int


EVENT_COLUMNS = list(COLUMNS)
TEXT_COLUMNS = tuple(name for name, kind in COLUMNS.items() if kind == "category")


def _as_categories(frame: pd.DataFrame, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    # A few distinct strings repeated millions of times: categories hold each once.
    return frame.astype({column: "category" for column in columns or frame.columns})


def _typed(chunk: pd.DataFrame) -> pd.DataFrame:
    """Each column as the schema's type, chunk by chunk, to bound memory."""
    chunk = chunk.astype({name: kind for name, kind in COLUMNS.items() if kind in EXACT_TYPES})
    for name, kind in COLUMNS.items():
        if kind in ("number", "Int64"):
            numbers = pd.to_numeric(chunk[name], errors="coerce")
            chunk[name] = numbers.astype("Int64") if kind == "Int64" else numbers
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
        event_chunks.append(_typed(pd.DataFrame.from_records(chunk, columns=EVENT_COLUMNS)))
        experiment_chunks.append(
            _as_categories(
                pd.DataFrame.from_records([record.get("experiments") or {} for record in chunk])
            )
        )
    if not event_chunks:
        event_chunks = [_typed(pd.DataFrame(columns=EVENT_COLUMNS))]
    events = _as_categories(pd.concat(event_chunks, ignore_index=True), TEXT_COLUMNS)
    experiments = pd.concat([pd.DataFrame(), *experiment_chunks], ignore_index=True)
    experiments = _as_categories(experiments.reindex(events.index))
    return EventLogFrame(
        events=events,
        experiments=experiments,
        read_stats=stats,
        invalid_events=invalid,
    )
