"""The control plane's layout: where deployed versions and the active experiment live.

The Redis list ``botify:deployed:<kind>`` holds a kind's deployed versions, newest first:
its head is what every worker serves, the rest is the history ``--rollback`` returns to.
A version's lists are stored as ``<data dir>/deployed/<kind>-<version>.jsonl``. The key
``botify:experiment:active`` names the experiment being served, and
``<data dir>/deployed/control.json`` is the durable record of both
(``botify.rollout.control``; ``control.good.json`` is its last good copy). The hash
``botify:experiments:served`` says which experiments each running worker can serve.
``botify.rollout.deploy`` writes them; ``botify.rollout.follow`` is how every worker reads them.
"""

from __future__ import annotations

from pathlib import Path

ACTIVE_EXPERIMENT_KEY = "botify:experiment:active"
# Field: a worker (host:pid); value: JSON {"experiments": [names], "at": ms}.
SERVED_EXPERIMENTS_KEY = "botify:experiments:served"


def deploy_key(kind: str) -> str:
    """The Redis list whose head is ``kind``'s deployed version."""
    return f"botify:deployed:{kind}"


def deployed_file(data_dir: Path, kind: str, version: str) -> Path:
    """Where the lists of ``kind`` at ``version`` are stored."""
    return Path(data_dir) / "deployed" / f"{kind}-{version}.jsonl"


def control_file(data_dir: Path) -> Path:
    """The durable record of what is deployed and active."""
    return Path(data_dir) / "deployed" / "control.json"


def control_backup(data_dir: Path) -> Path:
    """The last good copy of the record, read when ``control.json`` cannot be."""
    return Path(data_dir) / "deployed" / "control.good.json"


def decode(value: bytes | str | None) -> str | None:
    """A Redis reply as ``str`` (None stays None)."""
    return value.decode() if isinstance(value, bytes) else value
