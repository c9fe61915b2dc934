"""The event log: one whole line per event, per-process files, rotation, tolerant reading."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, replace

from botify.logs.reader import ReadStats, load_events, log_files, read_events
from botify.logs.schema import Event
from botify.logs.writer import EventLog

NEXT = Event(
    message="next",
    timestamp=1795806673328,
    user=42,
    track=5,
    time=1.0,
    latency=0.0007,
    recommendation=57,
    recommender="anchor",
    served_by="anchor",
    model_version="3f2a9c0d1b7e",
    experiment="AB",
    experiments={"AB": "T1"},
    request=1,
    session=0,
    candidates=50,
    degraded=False,
)


def event(**fields) -> Event:
    return replace(NEXT, **fields)


def test_a_line_has_every_field_in_the_logs_key_order():
    assert NEXT.to_json() == (
        '{"message":"next","timestamp":1795806673328,"user":42,"track":5,"time":1.0,'
        '"latency":0.0007,"recommendation":57,"recommender":"anchor","served_by":"anchor",'
        '"model_version":"3f2a9c0d1b7e","experiment":"AB","experiments":{"AB":"T1"},'
        '"request":1,"session":0,"candidates":50,"degraded":false}'
    )


def test_the_reader_keeps_what_the_writer_writes_and_drops_what_sessions_cannot_use(tmp_path):
    last = event(message="last", recommendation=None, served_by=None, candidates=None)
    degraded = event(request=None, session=None, degraded=True)
    broken = ({"message": "skip"}, {"user": None}, {"time": 1.5}, {"request": "1"})
    log = EventLog(tmp_path)
    for e in (NEXT, last, degraded, *(replace(NEXT, **fields) for fields in broken)):
        log.write(e)
    loaded = load_events(tmp_path)
    assert loaded.events["message"].tolist() == ["next", "last", "next"]
    assert loaded.events["request"].isna().tolist() == [False, False, True]
    assert loaded.invalid_events == len(broken)
    assert loaded.read_stats.skipped_lines == 0


def test_lines_round_trip(tmp_path):
    log = EventLog(tmp_path)
    events = [event(user=u, recommender="Ünïcode ♫") for u in range(5)]
    for e in events:
        log.write(e)

    assert list(read_events(tmp_path)) == [asdict(e) for e in events]


def test_rotation_keeps_every_line_exactly_once(tmp_path):
    log = EventLog(tmp_path, max_bytes=300)
    for u in range(100):
        log.write(event(user=u, recommender="x" * 20))

    assert len(log_files(tmp_path)) > 5
    assert sorted(e["user"] for e in read_events(tmp_path)) == list(range(100))


def test_concurrent_threads_lose_and_tear_nothing(tmp_path):
    log = EventLog(tmp_path, max_bytes=10_000)

    def write(worker):
        for i in range(500):
            log.write(event(user=worker, request=i, recommender="y" * (i % 50)))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    stats = ReadStats()
    seen = sorted((e["user"], e["request"]) for e in read_events(tmp_path, stats))
    assert seen == [(w, i) for w in range(8) for i in range(500)]
    assert stats.skipped_lines == 0


def test_forked_children_write_their_own_files(tmp_path):
    log = EventLog(tmp_path)
    log.write(event(recommender="parent"))
    pids = []
    for child in range(2):
        pid = os.fork()
        if pid == 0:
            log.write(event(recommender=f"child{child}"))
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)

    assert len(log_files(tmp_path)) == 3
    assert sorted(e["recommender"] for e in read_events(tmp_path)) == [
        "child0",
        "child1",
        "parent",
    ]


def test_reader_skips_and_counts_torn_and_garbage_lines(tmp_path):
    (tmp_path / "events-h-1-0-00000.jsonl").write_text(
        json.dumps({"a": 1}) + "\n" + "[1, 2]\n" + '{"a": 2}\n' + '{"a": 3, "tor'
    )
    stats = ReadStats()

    assert [e["a"] for e in read_events(tmp_path, stats)] == [1, 2]
    assert stats.skipped_lines == 2 and stats.events == 2 and stats.files == 1
