"""``botify serve``: the service under gunicorn, with the embedded Redis when none is set."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
import threading
from pathlib import Path

from gunicorn.app.base import BaseApplication

from botify.config import Config
from botify.serving.arbiter import BotifyArbiter, pre_fork
from botify.serving.lifeline import DirectoryInUse, DirectoryLock
from botify.serving.redis_server import RedisServer, private_run_dir
from botify.serving.worker import post_fork

# In the embedded Redis's directory, held while a `botify serve` uses it: a second one on
# the same directory would start a second Redis on the same append-only file.
SERVE_LOCK = "serve.lock"
# gunicorn's control socket (``gunicornc``), in the service's own run directory.
CONTROL_SOCKET = "gunicorn.ctl"
# How often the master checks that its embedded Redis runs, and how long it waits after
# a restart failed (a corrupted file does not mend itself: one line, not a flood).
SUPERVISE_EVERY_S = 0.5
RESTART_RETRY_S = 10.0

log = logging.getLogger(__name__)


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


def gunicorn_options(host: str, port: int, workers: int, run_dir: Path) -> dict:
    """Worker settings: threaded workers keep client connections alive (the simulator
    reuses one connection per worker); ``botify.serving.worker`` gives a thread only whole
    requests, so stalled clients cannot hold the threads, and listens only when ready.
    gunicorn's control socket goes in ``run_dir``: its default is one path per user
    (``$XDG_RUNTIME_DIR/gunicorn.ctl``), which every service on the machine would share."""
    return {
        "bind": f"{host}:{port}",
        "control_socket": str(run_dir / CONTROL_SOCKET),
        "control_socket_mode": 0o600,
        "workers": workers,
        "worker_class": "botify.serving.worker.BotifyWorker",
        "threads": 4,
        "keepalive": 30,
        # Off: gunicorn would have each worker bind a socket of its own and close it when
        # it stops. BotifyArbiter makes one SO_REUSEPORT socket per worker slot instead.
        "reuse_port": False,
        "preload_app": True,
        "graceful_timeout": 10,
        "timeout": 30,
        "loglevel": "warning",
        # Each worker gets its slot's socket, and says when its lists are loaded.
        "pre_fork": pre_fork,
        "post_fork": post_fork,
        "when_ready": lambda _server: print(
            f"botify: serving on http://{host}:{port} with {workers} workers", flush=True
        ),
    }


def check_port_free(host: str, port: int) -> None:
    """Refuse a port that another server listens on, or port 0.

    The workers' sockets have SO_REUSEPORT, which would let a second ``botify serve`` on the
    same port silently share the first one's traffic; a plain bind (SO_REUSEADDR only, so
    connections of a previous run in TIME_WAIT do not count) fails if anyone listens.
    """
    if port == 0:
        raise ValueError("--port 0 is not supported: every worker slot binds the port itself")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as e:
        raise RuntimeError(f"cannot listen on {host}:{port}: {e.strerror}") from None


class RedisSupervisor(threading.Thread):
    """A thread of the master that starts the embedded Redis again if it dies.

    The server comes back at the same URL (socket and password) with the data of its
    append-only file; the workers' clients reconnect on their next call, so answers stop
    being degraded without restarting ``botify serve``.
    """

    def __init__(self, server: RedisServer) -> None:
        super().__init__(name="redis-supervisor", daemon=True)
        self.server = server
        self._stopping = threading.Event()

    def run(self) -> None:
        wait = SUPERVISE_EVERY_S
        while not self._stopping.wait(wait):
            wait = SUPERVISE_EVERY_S
            if self.server.alive():
                continue
            log.warning("the embedded redis-server is not running; starting it again")
            try:
                self.server.start()
                log.warning("the embedded redis-server runs again at the same URL")
            except RuntimeError as e:
                wait = RESTART_RETRY_S
                log.error("%s; trying again in %.0f s", e, wait)

    def stop(self) -> None:
        """Stop watching (before the server is stopped on purpose)."""
        self._stopping.set()
        self.join()


def serve(host: str, port: int, workers: int) -> int:
    """Run the service until interrupted; starts and stops the embedded Redis if needed.

    One line and exit 2 if another ``botify serve`` uses the embedded Redis's directory;
    one line quoting redis-server's own log and exit 1 if the embedded Redis cannot start.
    """
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
    run_dir = private_run_dir("botify-serve-")
    lock = embedded = supervisor = None
    try:
        if config.redis_url is None:
            config.redis_dir.mkdir(parents=True, exist_ok=True)
            lock = DirectoryLock(config.redis_dir, SERVE_LOCK, "botify serve").acquire()
            embedded = RedisServer(
                config.redis_dir, run_dir=run_dir, pass_fds=(lock.fileno(),)
            ).start()
            os.environ["BOTIFY_REDIS_URL"] = embedded.url
            print(
                f"botify: BOTIFY_REDIS_URL is unset, so started the embedded redis-server "
                f"({embedded.binary}) on {embedded.socket_path} (password in "
                f"{config.redis_dir}/redis.url), data in {config.redis_dir}",
                flush=True,
            )
            supervisor = RedisSupervisor(embedded)
            supervisor.start()
        GunicornApp(gunicorn_options(host, port, workers, run_dir)).run()
    except DirectoryInUse as e:
        print(f"botify serve: {e}", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError) as e:
        # Configuration and data errors found while building the app (preloaded in the
        # master), and an embedded Redis that does not start: a message, not a traceback.
        print(f"botify serve: {e}", file=sys.stderr)
        return 1
    finally:
        if supervisor is not None:
            supervisor.stop()
        if embedded is not None:
            embedded.close()
        if lock is not None:
            lock.release()
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0
