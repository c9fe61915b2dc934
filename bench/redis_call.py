"""Client CPU and wall time of one state-script call: redis-py's pooled Script vs ThreadLocalScript.

The same Lua script (botify/state/listen.lua) and arguments, against a real redis-server on
its Unix socket (``RedisServer``), one thread; rounds alternate between the two ways so that
the machine's drift hits both. Prints the median over rounds of microseconds per call.

    python bench/redis_call.py [--calls 5000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

from botify.config import Config
from botify.serving.redis_server import RedisServer
from botify.state.script import ThreadLocalScript
from botify.state.store import LISTEN_LUA, state_keys

ARGS = [123, "0.5", "Artist 12", repr(Config.good_time), 3, 86400, "0", "0"]


def per_call(call: Callable[[int], object], calls: int) -> tuple[float, float]:
    """(wall, CPU) microseconds per call over ``calls`` calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(calls):
        call(i)
    return (
        (time.perf_counter() - wall) / calls * 1e6,
        (time.process_time() - cpu) / calls * 1e6,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp) / "redis") as server:
        client = redis.Redis.from_url(server.url, socket_timeout=0.5)
        pooled = client.register_script(LISTEN_LUA)
        own = ThreadLocalScript(client, LISTEN_LUA)
        ways = {
            "redis-py Script (pool)": lambda i: pooled(keys=state_keys(i % 1000), args=ARGS),
            "ThreadLocalScript": lambda i: own(state_keys(i % 1000), ARGS),
        }
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
        for call in ways.values():
            per_call(call, 500)
        for _ in range(args.rounds):
            for name, call in ways.items():
                results[name].append(per_call(call, args.calls))

    for name, rounds in results.items():
        wall = statistics.median(w for w, _ in rounds)
        cpu = statistics.median(c for _, c in rounds)
        print(f"{name:<24} wall {wall:6.1f} us  client CPU {cpu:6.1f} us per call")


if __name__ == "__main__":
    main()
