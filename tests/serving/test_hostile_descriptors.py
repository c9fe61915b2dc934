"""A worker out of file descriptors (a low ``RLIMIT_NOFILE``, many idle clients) stops
accepting for a while instead of dying: its open clients are still served, and the
connections that waited in the backlog are served once descriptors are free."""

from __future__ import annotations

import os
import resource
import select
import socket
import time

import pytest

from botify.serving.service_process import worker_pids

pytestmark = pytest.mark.integration

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def answered(s: socket.socket) -> bool:
    """Whether a whole answer to ``REQUEST`` came on ``s`` within its timeout."""
    data = b""
    try:
        while b"\r\n\r\n" not in data or not data.endswith(b"}\n"):
            chunk = s.recv(65536)
            if not chunk:
                return False
            data += chunk
    except OSError:
        return False
    return data.startswith(b"HTTP/1.1 200")


def test_a_worker_out_of_descriptors_pauses_accept_and_keeps_its_clients(start_service):
    service = start_service(workers=1)
    (worker,) = worker_pids(service.process.pid)
    open_now = len(os.listdir(f"/proc/{worker}/fd"))
    limits = resource.prlimit(worker, resource.RLIMIT_NOFILE)
    resource.prlimit(worker, resource.RLIMIT_NOFILE, (open_now + 12, limits[1]))
    clients = []
    try:
        for _ in range(36):
            s = socket.create_connection(("127.0.0.1", service.port), timeout=3)
            s.sendall(REQUEST)
            clients.append(s)
        time.sleep(1.5)
        readable, _, _ = select.select(clients, [], [], 0)
        served_first = [s for s in readable if answered(s)]
        assert 0 < len(served_first) < len(clients)
        time.sleep(2.5)  # several accept attempts hit EMFILE meanwhile
        assert worker_pids(service.process.pid) == {worker}
        # The clients it holds are still served on their connections.
        for s in served_first:
            s.sendall(REQUEST)
            assert answered(s)

        resource.prlimit(worker, resource.RLIMIT_NOFILE, limits)
        for s in clients:
            s.settimeout(10)
        waiting = [s for s in clients if s not in served_first]
        assert all(answered(s) for s in waiting)
        assert worker_pids(service.process.pid) == {worker}
    finally:
        for s in clients:
            s.close()
