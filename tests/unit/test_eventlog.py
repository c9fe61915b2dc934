"""The event log: one whole line per event, per-process files, rotation, tolerant reading."""

from __future__ import annotations

import json
import os
import threading

from botify.logs.reader import ReadStats, log_files, read_events
from botify.logs.writer import EventLog


def test_lines_round_trip(tmp_path):
    log = EventLog(tmp_path)
    events = [{"message": "next", "user": u, "title": "Ünïcode ♫"} for u in range(5)]
    for event in events:
        log.write(event)

    assert list(read_events(tmp_path)) == events


def test_rotation_keeps_every_line_exactly_once(tmp_path):
    log = EventLog(tmp_path, max_bytes=300)
    for u in range(100):
        log.write({"user": u, "pad": "x" * 20})

    assert len(log_files(tmp_path)) > 5
    assert sorted(e["user"] for e in read_events(tmp_path)) == list(range(100))


def test_concurrent_threads_lose_and_tear_nothing(tmp_path):
    log = EventLog(tmp_path, max_bytes=10_000)

    def write(worker):
        for i in range(500):
            log.write({"worker": worker, "i": i, "pad": "y" * (i % 50)})

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    stats = ReadStats()
    seen = sorted((e["worker"], e["i"]) for e in read_events(tmp_path, stats))
    assert seen == [(w, i) for w in range(8) for i in range(500)]
    assert stats.skipped_lines == 0


def test_forked_children_write_their_own_files(tmp_path):
    log = EventLog(tmp_path)
    log.write({"who": "parent"})
    pids = []
    for child in range(2):
        pid = os.fork()
        if pid == 0:
            log.write({"who": f"child{child}"})
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)

    assert len(log_files(tmp_path)) == 3
    assert sorted(e["who"] for e in read_events(tmp_path)) == ["child0", "child1", "parent"]


def test_reader_skips_and_counts_torn_and_garbage_lines(tmp_path):
    (tmp_path / "events-h-1-0-00000.jsonl").write_text(
        json.dumps({"a": 1}) + "\n" + "[1, 2]\n" + '{"a": 2}\n' + '{"a": 3, "tor'
    )
    stats = ReadStats()

    assert [e["a"] for e in read_events(tmp_path, stats)] == [1, 2]
    assert stats.skipped_lines == 2 and stats.events == 2 and stats.files == 1
