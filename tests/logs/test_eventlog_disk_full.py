"""A log file system that runs (nearly) full: the service refuses requests it cannot log,
and serves again by itself as soon as space returns, with no restart."""

from __future__ import annotations

import errno
import os

import fakeredis

from botify.logs import writer
from botify.logs.reader import read_events
from botify.web import create_app
from tests.helpers.worlds import with_experiment


class Disk:
    """``os.statvfs`` and ``os.write`` of a file system whose free space the test sets."""

    def __init__(self, monkeypatch) -> None:
        self.free = 10 * writer.MIN_FREE_BYTES
        real_statvfs, real_write = os.statvfs, os.write

        def statvfs(path):
            real = real_statvfs(path)
            return os.statvfs_result((*real[:4], self.free // real.f_frsize, *real[5:]))

        def write(fd, data):
            if self.free < len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.free -= len(data)
            return real_write(fd, data)

        monkeypatch.setattr(writer.os, "statvfs", statvfs)
        monkeypatch.setattr(writer.os, "write", write)


def test_a_full_log_disk_is_503_until_space_returns_then_serves_again(config, monkeypatch):
    disk = Disk(monkeypatch)
    client = create_app(with_experiment(config, "toppop"), fakeredis.FakeRedis()).test_client()
    listen = {"track": 3, "time": 1.0}
    assert client.post("/next/5", json=listen).status_code == 200

    disk.free = 0  # full: the write fails
    assert client.post("/next/5", json=listen).status_code == 503
    disk.free = writer.MIN_FREE_BYTES - 1  # some space, under the margin: still refused
    assert client.post("/next/5", json=listen).status_code == 503
    assert client.get("/health").status_code == 503

    disk.free = 2 * writer.MIN_FREE_BYTES  # space is back: the next request is served
    assert client.post("/next/5", json=listen).status_code == 200
    assert client.get("/health").status_code == 200
    # One line per answer. The request whose write failed had counted already; the ones
    # refused while the log was known to fail changed nothing.
    assert [e["request"] for e in read_events(config.log_dir)] == [1, 3]
