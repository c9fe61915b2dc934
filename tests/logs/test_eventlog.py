"""The event log: one whole line per event, per-process files, rotation, tolerant reading."""

from __future__ import annotations

import json
import os
import resource
import shutil
import threading
from dataclasses import asdict, replace

import pytest

from botify.logs.reader import ReadStats, log_files, open_log, read_events
from botify.logs.schema import Event
from botify.logs.writer import EventLog, LogUnavailable

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
    epoch=1795806600000,
    propensity=0.02,
)


def event(**fields) -> Event:
    return replace(NEXT, **fields)


def test_a_line_has_every_field_in_the_logs_key_order():
    assert NEXT.to_json() == (
        '{"message":"next","timestamp":1795806673328,"user":42,"track":5,"time":1.0,'
        '"latency":0.0007,"recommendation":57,"recommender":"anchor","served_by":"anchor",'
        '"model_version":"3f2a9c0d1b7e","experiment":"AB","experiments":{"AB":"T1"},'
        '"request":1,"session":0,"candidates":50,"degraded":false,"epoch":1795806600000,'
        '"propensity":0.02}'
    )


def test_the_reader_keeps_what_the_writer_writes_and_drops_what_sessions_cannot_use(tmp_path):
    last = event(message="last", recommendation=None, served_by=None, candidates=None)
    degraded = event(request=None, session=None, degraded=True)
    broken = ({"message": "skip"}, {"user": None}, {"time": 1.5}, {"request": "1"})
    log = EventLog(tmp_path)
    for e in (NEXT, last, degraded, *(replace(NEXT, **fields) for fields in broken)):
        log.write(e)
    with open_log(tmp_path) as loaded:
        events = loaded.query(
            "SELECT message, request FROM events ORDER BY request NULLS LAST, message DESC"
        )
        assert events["message"].tolist() == ["next", "last", "next"]
        assert events["request"].isna().tolist() == [False, False, True]
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


def make_unusable(directory):
    """Put a regular file where the log directory was (fails even for root); undo with
    ``restore``."""
    directory.rename(directory.with_name("moved-away"))
    directory.write_text("not a directory")


def restore(directory):
    directory.unlink()
    directory.with_name("moved-away").rename(directory)


def test_a_failed_rotation_raises_and_never_closes_a_descriptor_again(tmp_path):
    logs = tmp_path / "logs"
    log = EventLog(logs, max_bytes=1)
    log.write(event(user=1))
    make_unusable(logs)

    with pytest.raises(LogUnavailable, match="cannot write the event log"):
        log.write(event(user=2))
    assert log.error is not None and log.check() is not None
    # The closed segment's number is free again: another file may now hold it.
    reader, writer = os.pipe()
    with pytest.raises(LogUnavailable):
        log.write(event(user=3))
    os.fstat(reader), os.fstat(writer)  # still open: the log did not close them
    os.close(reader), os.close(writer)

    restore(logs)
    assert log.check() is None and log.error is None
    log.write(event(user=4))
    assert sorted(e["user"] for e in read_events(logs)) == [1, 4]


def test_a_deleted_log_directory_is_recreated_and_no_line_goes_to_a_deleted_file(tmp_path):
    logs = tmp_path / "logs"
    log = EventLog(logs)
    log.write(event(user=1))
    shutil.rmtree(logs)

    for user in range(2, 12):
        log.write(event(user=user))
    assert sorted(e["user"] for e in read_events(logs)) == list(range(2, 12))


def test_a_full_file_system_leaves_no_torn_line(tmp_path):
    """RLIMIT_FSIZE makes the kernel cut a write short and then refuse with EFBIG, as a
    full disk does (ENOSPC); in a child process, so the limit binds nobody else."""
    logs = tmp_path / "logs"
    log = EventLog(logs)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            log.write(event(user=0))
            resource.setrlimit(resource.RLIMIT_FSIZE, (1000, hard))
            user, refused = 1, 0
            while refused < 3:
                try:
                    log.write(event(user=user, recommender="z" * 37))
                except LogUnavailable:
                    refused += 1
                user += 1
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            log.write(event(user=-1))
            code = 0
        finally:
            os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0

    stats = ReadStats()
    users = [e["user"] for e in read_events(logs, stats)]
    assert stats.skipped_lines == 0
    assert users[-1] == -1 and users[:-1] == list(range(len(users) - 1))
    assert all(path.read_bytes().endswith(b"\n") for path in log_files(logs))
