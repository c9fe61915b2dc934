"""Run ``botify serve`` as a child process: for the demo, benchmarks and end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from botify.serving.lifeline import die_with_parent
from botify.serving.redis_server import free_port


def worker_pids(master: int) -> set[int]:
    """The gunicorn workers of a ``botify serve`` master (Linux ``/proc``): its children but
    the embedded redis-server."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {
        int(pid)
        for pid in children
        if b"redis-server" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    }


class ServiceProcess:
    """``botify serve`` on loopback with its own data, log and (embedded) Redis directories.

    ``env`` adds to the environment, e.g. ``BOTIFY_REDIS_URL`` for an external Redis or
    ``BOTIFY_EXPERIMENTS``; without ``BOTIFY_REDIS_URL`` the service starts its embedded one.
    The service gets SIGTERM if its parent dies (``die_with_parent``); ``pass_fds`` are
    descriptors it inherits, e.g. the lock of an experiment's output directory. ``cwd``
    is the directory it runs in: a checkout's root runs that checkout's botify
    (``python -m`` imports from it first), as ``bench/load.py --baseline`` does.
    """

    def __init__(
        self,
        data_dir: Path,
        log_dir: Path,
        redis_dir: Path,
        workers: int = 2,
        port: int | None = None,
        env: dict[str, str] | None = None,
        pass_fds: tuple[int, ...] = (),
        cwd: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.workers = workers
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "BOTIFY_REDIS_URL"},
            "BOTIFY_DATA_DIR": str(data_dir),
            "BOTIFY_LOG_DIR": str(log_dir),
            "BOTIFY_REDIS_DIR": str(redis_dir),
            **(env or {}),
        }
        self.pass_fds = pass_fds
        self.cwd = cwd
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Base URL of the service."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0, output=None) -> ServiceProcess:
        """Start the service and wait until ``/health`` answers 200 and every worker runs.

        A connection the kernel gives to a worker slot whose worker is not ready yet waits
        for it (``botify.serving.arbiter``): it neither fails nor lands on another worker.
        """
        command = [sys.executable, "-m", "botify", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--workers", str(self.workers)],
            env=self.env,
            stdout=output,
            stderr=output,
            preexec_fn=die_with_parent,
            pass_fds=self.pass_fds,
            cwd=self.cwd,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"botify serve exited with code {self.process.returncode}")
            try:
                healthy = requests.get(f"{self.url}/health", timeout=1).status_code == 200
            except requests.RequestException:
                healthy = False
            if healthy and len(worker_pids(self.process.pid)) == self.workers:
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"botify serve was not healthy within {timeout_s} s")
            time.sleep(0.05)

    def stop(self, timeout_s: float = 20.0) -> int:
        """Stop gracefully (SIGTERM, as a supervisor would); returns the exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
