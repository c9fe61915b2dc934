"""The gunicorn arbiter of ``botify serve``: on ``SIGHUP`` the old workers keep serving until
their replacements listen.

gunicorn's reload spawns the new workers and stops the old ones at once. A botify worker
listens only once its deployed lists are loaded (``botify.serving.worker``), which takes
seconds with large lists, so for those seconds no worker listened and every connection,
``/health`` included, was refused. Here surplus (old) workers are stopped only once as many
sockets listen on the port as there are workers, i.e. every replacement is ready (each
worker has a socket of its own, ``reuse_port``, and the arbiter none), or after
``REPLACEMENT_DEADLINE_S`` if a replacement never gets ready.
"""

from __future__ import annotations

import time

from gunicorn.arbiter import Arbiter

from botify.serving.service_process import listening_sockets

REPLACEMENT_DEADLINE_S = 60.0


class BotifyArbiter(Arbiter):
    """gunicorn's arbiter, retiring old workers only once their replacements listen."""

    _surplus_since: float | None = None

    def manage_workers(self) -> None:
        """Spawn missing workers; stop surplus ones once the replacements are ready."""
        if len(self.WORKERS) > self.num_workers and not self._replacements_ready():
            return
        self._surplus_since = None
        super().manage_workers()

    def _replacements_ready(self) -> bool:
        now = time.monotonic()
        if self._surplus_since is None:
            self._surplus_since = now
        if now - self._surplus_since > REPLACEMENT_DEADLINE_S:
            self.log.warning(
                "replacement workers not listening after %.0f s: stopping the old ones anyway",
                REPLACEMENT_DEADLINE_S,
            )
            return True
        listening = listening_sockets(self.cfg.address[0][1])
        return listening is None or listening >= len(self.WORKERS)
