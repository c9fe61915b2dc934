"""Soak benchmark: a fixed request rate for N minutes; errors, latency and memory drift.

Runs ``botify serve`` (gunicorn, 2 workers) on loopback against a real redis-server with
a 50,000-track catalog and deployed i2i lists (the world of ``bench/load.py``), and posts
``/next`` for random users and tracks on a fixed schedule (``--rate`` per second) from a
pool of keep-alive client threads. Latency is measured from each request's scheduled time,
so a stalled server cannot hide behind a client that waits for it. It reports errors,
p50/p99/max latency (client-side, and the service's own from its event log), and the RSS of
the gunicorn master, its workers and Redis after a warm-up and at the end.

    python bench/soak.py [--minutes 2] [--rate 500] [--recommender anchor]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from load import deployed_world

from botify.logs.reader import ReadStats, read_events
from botify.serving.redis_server import RedisServer
from botify.serving.service_process import ServiceProcess


def rss_mib(pid: int) -> float:
    """Resident set size of ``pid`` in MiB (``VmRSS`` of ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no VmRSS for pid {pid}")


def children(pid: int) -> list[int]:
    """The direct child processes of ``pid`` (gunicorn's workers, for the master)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The parent pid is the second field after the parenthesised command name.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def memory(master: int, redis_pid: int) -> dict[str, float]:
    """RSS in MiB of the gunicorn master, each worker and Redis."""
    sizes = {"master": rss_mib(master)}
    for index, worker in enumerate(children(master)):
        sizes[f"worker {index + 1}"] = rss_mib(worker)
    sizes["redis"] = rss_mib(redis_pid)
    return sizes


class PacedClients:
    """Client threads that send request ``i`` at ``start + i / rate`` until ``end``."""

    def __init__(self, port: int, rate: float, seconds: float, tracks: int, users: int) -> None:
        self.port = port
        self.rate = rate
        self.seconds = seconds
        self.tracks = tracks
        self.users = users
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.start = self.end = 0.0
        self._next = 0
        self._lock = threading.Lock()

    def run(self, threads: int) -> None:
        """Drive the schedule to its end with ``threads`` clients."""
        self.start = time.monotonic() + 0.1
        self.end = self.start + self.seconds
        workers = [threading.Thread(target=self._client, args=(i,)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def _slot(self) -> float | None:
        with self._lock:
            scheduled = self.start + self._next / self.rate
            self._next += 1
        return scheduled if scheduled < self.end else None

    def _client(self, seed: int) -> None:
        rng = random.Random(seed)
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while (scheduled := self._slot()) is not None:
            delay = scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            body = json.dumps({"track": rng.randrange(self.tracks), "time": rng.random()})
            try:
                connection.request(
                    "POST",
                    f"/next/{rng.randrange(self.users)}",
                    body,
                    {"Content-Type": "application/json"},
                )
                response = connection.getresponse()
                response.read()
                outcome = None if response.status == 200 else f"HTTP {response.status}"
            except (OSError, http.client.HTTPException) as e:
                outcome = type(e).__name__
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            with self._lock:
                self.latencies.append(time.monotonic() - scheduled)
                if outcome is not None:
                    self.errors[outcome] = self.errors.get(outcome, 0) + 1
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second")
    parser.add_argument("--clients", type=int, default=16, help="client threads")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before the run")
    parser.add_argument("--tracks", type=int, default=50_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--recommender", default="anchor")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp) / "redis") as redis_server:
        tmp = Path(tmp)
        world = deployed_world(tmp, args.tracks, redis_server.url)
        env = {
            "BOTIFY_REDIS_URL": redis_server.url,
            "BOTIFY_EXPERIMENTS": json.dumps({"SOAK": {"C": args.recommender}}),
        }
        with ServiceProcess(world, tmp / "logs", tmp / "r", args.workers, env=env) as service:
            master, redis_pid = service.process.pid, redis_server.process.pid
            print(f"warm-up: {args.warmup:.0f} s at {args.rate:.0f} req/s", flush=True)
            warmup = PacedClients(service.port, args.rate, args.warmup, args.tracks, args.users)
            warmup.run(args.clients)
            before = memory(master, redis_pid)
            print(f"soak: {args.minutes} min at {args.rate:.0f} req/s", flush=True)
            soak = PacedClients(service.port, args.rate, args.minutes * 60, args.tracks, args.users)
            started = time.monotonic()
            soak.run(args.clients)
            elapsed = time.monotonic() - started
            after = memory(master, redis_pid)
        stats = ReadStats()
        server_latencies = [e["latency"] for e in read_events(tmp / "logs", stats)]

    client = np.array(soak.latencies) * 1000
    server = np.array(server_latencies) * 1000
    answered = len(warmup.latencies) + len(soak.latencies)
    print(f"\nrequests: {len(soak.latencies)} in {elapsed:.1f} s "
          f"({len(soak.latencies) / elapsed:.0f} req/s, target {args.rate:.0f}), "
          f"errors: {sum(soak.errors.values())} {soak.errors or ''}")  # fmt: skip
    print(f"client latency from schedule: p50 {np.percentile(client, 50):.2f} ms, "
          f"p99 {np.percentile(client, 99):.2f} ms, max {client.max():.1f} ms")  # fmt: skip
    print(f"service latency (event log): p50 {np.percentile(server, 50):.2f} ms, "
          f"p99 {np.percentile(server, 99):.2f} ms")  # fmt: skip
    print(f"event log: {stats.events} lines for {answered} requests "
          f"(warm-up included), {stats.skipped_lines} unreadable")  # fmt: skip
    print("\n| process | RSS after warm-up MiB | RSS at end MiB | change |")
    print("|---|---:|---:|---:|")
    for name, start in before.items():
        end = after.get(name, float("nan"))
        print(f"| {name} | {start:.1f} | {end:.1f} | {end - start:+.1f} |")


if __name__ == "__main__":
    main()
