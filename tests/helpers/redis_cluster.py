"""A local three-node Redis Cluster made of real redis-server processes, for the tests.

The nodes are plain ``RedisServer``s started with cluster mode on; slots are split in three
and the nodes introduced to each other with CLUSTER ADDSLOTS / MEET, so no redis-cli is
needed.
"""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

import redis

from botify.serving.redis_server import RedisServer

SLOTS = 16384


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A free port whose cluster-bus port (+10000) is free and valid too.

    The kernel's ephemeral ports lie above 32768, where +10000 can pass 65535, so the
    ports are drawn from 20000-29999 instead.
    """
    while True:
        port = random.randrange(20_000, 30_000)
        if _is_free(port) and _is_free(port + 10_000):
            return port


class LocalRedisCluster:
    """Three primaries on loopback, each owning a third of the hash slots."""

    def __init__(self, directory: Path, binary: str | None = None, nodes: int = 3) -> None:
        self.servers = [
            RedisServer(Path(directory) / f"node{i}", port=cluster_port(), binary=binary)
            for i in range(nodes)
        ]

    def start(self, timeout_s: float = 20.0) -> LocalRedisCluster:
        """Start the nodes, assign slots, and wait until every node says the cluster is ok.

        On any failure every node already started is stopped again.
        """
        try:
            self._form(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _form(self, timeout_s: float) -> None:
        for server in self.servers:
            server.start(extra_args=("--cluster-enabled", "yes", "--cluster-node-timeout", "2000"))
        clients = [redis.Redis(port=s.port) for s in self.servers]
        bounds = [SLOTS * i // len(clients) for i in range(len(clients) + 1)]
        for client, start, end in zip(clients, bounds, bounds[1:], strict=False):
            client.execute_command("CLUSTER ADDSLOTS", *range(start, end))
        for server in self.servers[1:]:
            clients[0].execute_command("CLUSTER MEET", "127.0.0.1", server.port)
        deadline = time.monotonic() + timeout_s
        while not all(c.cluster("info")["cluster_state"] == "ok" for c in clients):
            if time.monotonic() > deadline:
                raise RuntimeError("the local Redis Cluster did not become ok")
            time.sleep(0.1)
        for client in clients:
            client.close()

    @property
    def url(self) -> str:
        """A node's URL: a cluster client discovers the others from it."""
        return self.servers[0].url

    def stop(self) -> None:
        """Stop every node."""
        for server in self.servers:
            server.stop()
