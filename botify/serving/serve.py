"""``botify serve``: the service under gunicorn, with the embedded Redis when none is set."""

from __future__ import annotations

import logging
import os
import socket
import sys

from gunicorn.app.base import BaseApplication

from botify.config import Config
from botify.serving.arbiter import BotifyArbiter
from botify.serving.redis_server import RedisServer
from botify.serving.worker import post_fork


class GunicornApp(BaseApplication):
    """gunicorn with the app built once in the master (preload) and shared by workers."""

    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from botify.web import create_app

        return create_app()

    def run(self) -> None:
        """Serve under ``BotifyArbiter`` (hot reload without a moment of no listener)."""
        BotifyArbiter(self).run()


def gunicorn_options(host: str, port: int, workers: int) -> dict:
    """Worker settings: threaded workers keep client connections alive (the simulator
    reuses one connection per worker); ``botify.serving.worker`` gives a thread only whole
    requests, so stalled clients cannot hold the threads, and listens only when ready."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "botify.serving.worker.BotifyWorker",
        "threads": 4,
        "keepalive": 30,
        # Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads
        # new connections over them. On one shared socket whichever worker wakes first
        # takes a connection, and keep-alive clients stay where they landed: under wrk at
        # 16 connections one worker did up to 59% of the work; with this, 49-51%.
        "reuse_port": True,
        "preload_app": True,
        "graceful_timeout": 10,
        "timeout": 30,
        "loglevel": "warning",
        # A worker binds its socket again only once its lists are loaded (BotifyWorker.run).
        "post_fork": post_fork,
        "when_ready": lambda _server: print(
            f"botify: serving on http://{host}:{port} with {workers} workers", flush=True
        ),
    }


def check_port_free(host: str, port: int) -> None:
    """Refuse a port that another server listens on, or port 0.

    Workers bind with SO_REUSEPORT, which would let a second ``botify serve`` on the same
    port silently share the first one's traffic; a plain bind (SO_REUSEADDR only, so
    connections of a previous run in TIME_WAIT do not count) fails if anyone listens.
    """
    if port == 0:
        raise ValueError("--port 0 is not supported: every worker binds the port itself")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as e:
        raise RuntimeError(f"cannot listen on {host}:{port}: {e.strerror}") from None


def serve(host: str, port: int, workers: int) -> int:
    """Run the service until interrupted; starts and stops the embedded Redis if needed."""
    try:
        check_port_free(host, port)
    except (ValueError, RuntimeError) as e:
        print(f"botify serve: {e}", file=sys.stderr)
        return 1
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s",
    )
    config = Config.from_env()
    embedded = None
    if config.redis_url is None:
        embedded = RedisServer(config.redis_dir).start()
        os.environ["BOTIFY_REDIS_URL"] = embedded.url
        print(
            f"botify: BOTIFY_REDIS_URL is unset, so started the embedded redis-server "
            f"({embedded.binary}) at {embedded.url}, data in {config.redis_dir}",
            flush=True,
        )
    try:
        GunicornApp(gunicorn_options(host, port, workers)).run()
    except (ValueError, RuntimeError) as e:
        # Configuration and data errors found while building the app (preloaded in the
        # master): a message, not a traceback.
        print(f"botify serve: {e}", file=sys.stderr)
        return 1
    finally:
        if embedded is not None:
            embedded.stop()
    return 0
