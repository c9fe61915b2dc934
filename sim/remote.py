"""The ``remote`` agent: asks a running botify service over HTTP (botify's docs/http-api.md).

Each session keeps one keep-alive ``http.client`` connection with TCP_NODELAY set, so a
request costs one small write and one read: no ~40 ms Nagle/delayed-ACK stall, and about a
tenth of the client CPU of ``requests`` (which matters when the simulator shares the
machine with the service). A connection the service closed (idle keep-alive timeout,
restart) is replaced and the request retried a bounded number of times with exponential
backoff; a timed-out request is not retried, since the service may have answered it
already. An HTTP error status raises :class:`RemoteAgentError` naming the request.
"""

from __future__ import annotations

import http.client
import json
import socket
import time as clock
from urllib.parse import urlsplit

DEFAULT_URL = "http://127.0.0.1:5001"
HEADERS = {"Content-Type": "application/json", "Connection": "keep-alive"}


class RemoteAgentError(RuntimeError):
    """The service answered a request with an error or an unusable body, or not at all."""


class RemoteAgent:
    """Recommendations from botify's ``/next`` and ``/last`` endpoints."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        timeout: float = 10.0,
        retries: int = 5,
        backoff: float = 0.05,
    ) -> None:
        self.url = url.rstrip("/")
        parts = urlsplit(self.url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the remote agent needs an http:// URL, got {url!r}")
        self._host, self._port, self._base = parts.hostname, parts.port or 80, parts.path
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        connection.connect()
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection = connection
        return connection

    def _exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        connection = self.connection or self._connect()
        connection.request("POST", path, body, HEADERS)
        response = connection.getresponse()
        payload = response.read()
        if response.will_close:
            self.close()
        return response.status, payload

    def _post(self, endpoint: str, user: int, track: int, time: float, at: int | None) -> dict:
        path = f"{self._base}/{endpoint}/{user}"
        fields = {"track": int(track), "time": float(time)}
        if at is not None:
            fields["timestamp"] = int(at)
        body = json.dumps(fields).encode()
        what = f"POST {self.url}/{endpoint}/{user} {fields}"
        for attempt in range(self.retries + 1):
            try:
                status, payload = self._exchange(path, body)
                break
            except TimeoutError as error:
                self.close()
                raise RemoteAgentError(f"{what}: no answer within {self.timeout} s") from error
            except (OSError, http.client.HTTPException) as error:
                self.close()
                if attempt == self.retries:
                    raise RemoteAgentError(
                        f"{what}: no connection after {attempt + 1} attempts: {error}"
                    ) from error
                clock.sleep(self.backoff * 2**attempt)
        text = payload.decode("utf-8", "replace")
        if status >= 400:
            raise RemoteAgentError(f"{what} answered HTTP {status}: {text[:300]}")
        try:
            return json.loads(payload)
        except ValueError as error:
            raise RemoteAgentError(f"{what} answered non-JSON: {text[:300]}") from error

    def next_track(self, user: int, track: int, time: float, at: int | None = None) -> int:
        """``POST /next/{user}`` (with the simulated ``timestamp`` ``at``, if given); the
        recommended track id."""
        answer = self._post("next", user, track, time, at)
        recommended = answer.get("track") if isinstance(answer, dict) else None
        if not isinstance(recommended, int):
            raise RemoteAgentError(
                f"POST {self.url}/next/{user} answered without a track: {answer}"
            )
        return recommended

    def last_track(self, user: int, track: int, time: float, at: int | None = None) -> None:
        """``POST /last/{user}``: the session's final track; also ends the connection.

        A connection per session, not per run: the service's workers each accept their
        share of sessions, instead of one worker serving a simulator worker's whole day.
        """
        self._post("last", user, track, time, at)
        self.close()

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None
