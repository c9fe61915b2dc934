"""The Redis client of the service and the commands: which Redis, and with what timeouts.

``BOTIFY_REDIS_URL`` names it; unset, the embedded redis-server that ``botify serve``
started (``botify.serving.redis_server``) is found through the URL file it writes in
``BOTIFY_REDIS_DIR``.
"""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from botify.config import Config

# Written by the embedded server next to its data, read here: how other commands
# (``botify deploy``) find the server ``botify serve`` started.
URL_FILE = "redis.url"


def resolve_redis_url(config: Config) -> str | None:
    """``BOTIFY_REDIS_URL``, else the URL of a running embedded server, else None."""
    if config.redis_url:
        return config.redis_url
    url_file = config.redis_dir / URL_FILE
    return url_file.read_text().strip() if url_file.is_file() else None


def connect(url: str, config: Config) -> redis.Redis:
    """A client with bounded timeouts, so a dead or slow Redis never hangs a request.

    One immediate retry replaces a pooled connection that a Redis restart closed; no
    backoff, because a request waiting seconds for Redis is worse than a degraded answer.
    """
    options = {
        "socket_timeout": config.redis_timeout_s,
        "socket_connect_timeout": config.redis_timeout_s,
        # Only a connection error: a timed-out script may still run, and a retry would
        # apply the same request twice.
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    }
    if config.redis_cluster:
        return redis.RedisCluster.from_url(url, **options)
    return redis.Redis.from_url(url, **options)
