"""A Lua script run over a Redis connection of the calling thread's own.

redis-py's ``Script`` goes through the client's connection pool on every call: taking and
returning a connection under a lock, fork checks and the retry wrapper about double the
client's CPU per call (``bench/redis_call.py`` measures both). A gunicorn thread
uses one connection at a time anyway, so each thread keeps its own and the script is one
``EVALSHA`` on it.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence

import redis
from redis.connection import AbstractConnection


class ThreadLocalScript:
    """Runs one Lua script with EVALSHA over one connection per thread (and process).

    The connections come from ``client``'s pool settings (address, password, timeouts)
    but are never returned to the pool. After a ``NOSCRIPT`` reply (``SCRIPT FLUSH``, a
    restarted Redis) the script is loaded and run again. A connection error (Redis
    restarted and closed the connection) is retried once on a new connection, like the
    client's own retry; a timeout is not retried, since the script may still run when
    Redis resumes (redis-py drops the timed-out connection, so no late reply is misread).
    """

    def __init__(self, client: redis.Redis, source: str) -> None:
        self._pool = client.connection_pool
        self._source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self._local = threading.local()

    def __call__(self, keys: Sequence[str], args: Sequence[object]) -> object:
        """The script's reply for ``keys`` and ``args``."""
        connection = self._connection()
        try:
            return self._run(connection, keys, args)
        except redis.ConnectionError:
            connection.disconnect()
            return self._run(connection, keys, args)

    def _connection(self) -> AbstractConnection:
        connection = getattr(self._local, "connection", None)
        # A forked child (gunicorn preload) must not share its parent's socket.
        if connection is None or connection.pid != os.getpid():
            connection = self._local.connection = self._pool.make_connection()
        return connection

    def _run(self, connection: AbstractConnection, keys: Sequence[str], args: Sequence[object]):
        try:
            return self._evalsha(connection, keys, args)
        except redis.exceptions.NoScriptError:
            connection.send_command("SCRIPT", "LOAD", self._source)
            connection.read_response()
            return self._evalsha(connection, keys, args)

    def _evalsha(self, connection: AbstractConnection, keys: Sequence[str], args: Sequence[object]):
        connection.send_command("EVALSHA", self.sha, len(keys), *keys, *args)
        return connection.read_response()
