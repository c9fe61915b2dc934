"""Client traffic for tests against a running service: threads that each play one user.

Also what the service logged and answered, per user, to compare the two.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import requests

from botify.logs.reader import ReadStats, log_files, read_events

CLIENT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Answer:
    """One ``POST /next`` as the client saw it (``sent_at`` on the monotonic clock);
    ``status`` None: no response at all."""

    user: int
    status: int | None
    seconds: float
    body: dict | None
    sent_at: float


class Traffic:
    """One client thread per user, posting ``/next`` until stopped or done.

    Each thread starts at track ``user % tracks`` and then reports the track it was given,
    as a listener would. ``requests_per_user`` None: run until ``stop()``. Without
    ``keep_alive`` every request opens a new connection, which spreads the requests over
    all the service's workers (a kept-alive connection stays with the worker that accepted it).
    """

    def __init__(
        self,
        url: str,
        users: range | list[int],
        tracks: int,
        requests_per_user: int | None = None,
        pause_s: float = 0.0,
        keep_alive: bool = True,
    ) -> None:
        self.url = url
        self.users = list(users)
        self.tracks = tracks
        self.requests_per_user = requests_per_user
        self.pause_s = pause_s
        self.headers = {} if keep_alive else {"Connection": "close"}
        self.answers: list[Answer] = []
        self._answers_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Traffic:
        """Start every user's thread."""
        self._threads = [threading.Thread(target=self._play, args=(u,)) for u in self.users]
        for thread in self._threads:
            thread.start()
        return self

    def join(self) -> list[Answer]:
        """Wait for every thread to finish; the answers so far."""
        for thread in self._threads:
            thread.join()
        return self.snapshot()

    def stop(self) -> list[Answer]:
        """Ask every thread to finish after its current request; all answers."""
        self._stop.set()
        return self.join()

    def snapshot(self) -> list[Answer]:
        """The answers received so far (a copy)."""
        with self._answers_lock:
            return list(self.answers)

    def statuses(self) -> Counter:
        """How many answers had each status (None: no response)."""
        return Counter(a.status for a in self.snapshot())

    def _play(self, user: int) -> None:
        track = user % self.tracks
        sent = 0
        with requests.Session() as http:
            while not self._stop.is_set() and (
                self.requests_per_user is None or sent < self.requests_per_user
            ):
                sent += 1
                body = {"track": track, "time": (sent % 10) / 9}
                started = time.monotonic()
                try:
                    r = http.post(
                        f"{self.url}/next/{user}",
                        json=body,
                        headers=self.headers,
                        timeout=CLIENT_TIMEOUT_S,
                    )
                    status, payload = r.status_code, _json_or_none(r)
                except requests.RequestException:
                    status, payload = None, None
                answer = Answer(user, status, time.monotonic() - started, payload, started)
                with self._answers_lock:
                    self.answers.append(answer)
                if status == 200:
                    track = payload["track"]
                if self.pause_s:
                    time.sleep(self.pause_s)


def _json_or_none(response: requests.Response) -> dict | None:
    try:
        return response.json()
    except ValueError:
        return None


def logged_recommendations(log_dir: Path) -> dict[int, list[int]]:
    """Per user, the logged ``/next`` recommendations in request order; asserts that every
    line parses and no (user, request) pair is logged twice."""
    stats = ReadStats()
    events = list(read_events(log_dir, stats))
    assert stats.skipped_lines == 0
    assert all(path.read_bytes().endswith(b"\n") for path in log_files(log_dir))
    pairs = Counter((e["user"], e["request"]) for e in events)
    assert max(pairs.values()) == 1, "a (user, request) pair was logged twice"
    per_user: dict[int, list[int]] = defaultdict(list)
    for event in sorted(events, key=lambda e: e["request"]):
        per_user[event["user"]].append(event["recommendation"])
    return per_user


def answered_tracks(answers: list[Answer]) -> dict[int, list[int]]:
    """Per user, the tracks of its 200 answers in the order it received them."""
    per_user: dict[int, list[int]] = defaultdict(list)
    for answer in sorted(answers, key=lambda a: a.sent_at):
        if answer.status == 200:
            per_user[answer.user].append(answer.body["track"])
    return per_user


def exchange(port: int, data: bytes) -> tuple[int, bytes, bytes]:
    """Send ``data`` on a new connection; the status, head and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        s.sendall(data)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), head, body


def listening_inodes(port: int) -> set[int]:
    """The sockets (by inode) listening on TCP ``port`` of loopback (Linux ``/proc/net``)."""
    inodes = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes
