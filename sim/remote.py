"""The ``remote`` agent: asks a running botify service over HTTP (SPEC §3).

One ``requests.Session`` (environment proxies ignored) keeps its connection alive between
requests; urllib3 sets TCP_NODELAY on every connection it opens
(``HTTPConnection.default_socket_options``), which avoids the ~40 ms Nagle/delayed-ACK stall
per request. Connection errors are retried a bounded number of times with
exponential backoff; an HTTP error status raises :class:`RemoteAgentError` naming the request.
"""

from __future__ import annotations

import time as clock

import requests
from requests.adapters import HTTPAdapter

DEFAULT_URL = "http://127.0.0.1:5001"


class RemoteAgentError(RuntimeError):
    """The service answered a request with an error or an unusable body."""


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
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._http = requests.Session()
        # The service is addressed directly: skip the per-request proxy/netrc environment lookup.
        self._http.trust_env = False
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)

    def _post(self, endpoint: str, user: int, track: int, time: float) -> dict:
        url = f"{self.url}/{endpoint}/{user}"
        body = {"track": int(track), "time": float(time)}
        for attempt in range(self.retries + 1):
            try:
                response = self._http.post(url, json=body, timeout=self.timeout)
                break
            except requests.ConnectionError as error:
                if attempt == self.retries:
                    raise RemoteAgentError(
                        f"POST {url} {body}: no connection after {attempt + 1} attempts: {error}"
                    ) from error
                clock.sleep(self.backoff * 2**attempt)
        if response.status_code >= 400:
            raise RemoteAgentError(
                f"POST {url} {body} answered HTTP {response.status_code}: {response.text[:300]}"
            )
        try:
            return response.json()
        except ValueError as error:
            raise RemoteAgentError(
                f"POST {url} {body} answered non-JSON: {response.text[:300]}"
            ) from error

    def next_track(self, user: int, track: int, time: float) -> int:
        """``POST /next/{user}``; the recommended track id."""
        answer = self._post("next", user, track, time)
        recommended = answer.get("track") if isinstance(answer, dict) else None
        if not isinstance(recommended, int):
            raise RemoteAgentError(
                f"POST {self.url}/next/{user} answered without a track: {answer}"
            )
        return recommended

    def last_track(self, user: int, track: int, time: float) -> None:
        """``POST /last/{user}``: the session's final track."""
        self._post("last", user, track, time)

    def close(self) -> None:
        """Close the pooled connection."""
        self._http.close()
