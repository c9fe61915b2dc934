"""Precomputed recommendation lists (i2i per track, or per user) as JSON lines: read and written.

``LIST_KINDS`` is the one table of the kinds of lists: the command line, the rollout, the
app and the recommenders all take it from here. File format, one line per key:
``{"track": id, "recommendations": [ids]}`` (``contextual``, i2i) or
``{"user": id, "recommendations": [ids]}`` (``indexed``, per user). Lists are packed into two numpy
arrays (offsets + flat ids) so that 50,000 lists of 50 ids cost a few MB per worker and
are shared copy-on-write after fork, instead of millions of Python ints.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from botify.data.catalog import Catalog

_EMPTY = np.empty(0, dtype=np.int32)
# The largest list file a worker loads: every worker parses it and holds its ids, so the
# limit bounds each worker's loading time and memory to some tens of seconds and MB.
MAX_LIST_FILE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class ListKind:
    """A kind of recommendation lists: what they are keyed by and whether botify trains them."""

    # The key of a file's lines, and the ``Request`` attribute a list is looked up by.
    key_field: str
    # ``botify train KIND`` builds it from the logs (otherwise it is made elsewhere).
    trainable: bool


LIST_KINDS = {
    "contextual": ListKind(key_field="track", trainable=True),
    "indexed": ListKind(key_field="user", trainable=False),
}


class ListsError(ValueError):
    """A list file is missing or does not match the catalog."""


@dataclass(frozen=True)
class RecommendationLists:
    """Lists keyed by track (or user) id; ``version`` identifies the file's content."""

    version: str
    keys: dict[int, int]
    offsets: np.ndarray
    items: np.ndarray

    def get(self, key: int) -> np.ndarray:
        """The list of ``key`` (empty when it has none)."""
        row = self.keys.get(key)
        if row is None:
            return _EMPTY
        return self.items[self.offsets[row] : self.offsets[row + 1]]

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def recommendations(self) -> int:
        """How many ids all the lists hold together."""
        return len(self.items)


def content_version(path: Path) -> str:
    """A short content hash of a list file: the same lists always get the same version."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_lists(lines, catalog: Catalog, key_field: str, source: str) -> tuple[dict, list]:
    """Validate list lines (``str``, or ``bytes`` of UTF-8); returns ``({key: row}, [id
    arrays])`` or raises ``ListsError`` naming the line."""
    keys: dict[int, int] = {}
    rows: list[list[int]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}, line {number}"
        try:
            text = line.decode("utf-8") if isinstance(line, bytes) else line
        except UnicodeDecodeError as e:
            raise ListsError(f"{where}: not UTF-8 (byte {e.start + 1} of the line)") from None
        try:
            record = json.loads(text)
        except RecursionError:
            raise ListsError(f"{where}: nested too deep") from None
        except ValueError:
            raise ListsError(f"{where}: not a JSON line") from None
        if not isinstance(record, dict):
            raise ListsError(
                f"{where}: expected an object with {key_field!r} and 'recommendations'"
            )
        key, items = record.get(key_field), record.get("recommendations")
        if not _is_id(key) or key < 0:
            raise ListsError(f"{where}: {key_field!r} must be a non-negative integer")
        if key_field == "track" and key not in catalog:
            raise ListsError(f"{where}: track {key} is not in the catalog")
        if key in keys:
            raise ListsError(f"{where}: {key_field} {key} has a second list")
        # type() is exact (bool is not int): the check runs on millions of ids per deploy.
        if not isinstance(items, list) or not all(type(i) is int for i in items):
            raise ListsError(f"{where}: 'recommendations' must be a list of track ids")
        if items and (min(items) < 0 or max(items) >= catalog.size):
            unknown = [i for i in items if i not in catalog]
            raise ListsError(f"{where}: unknown track ids {unknown[:5]}")
        keys[key] = len(rows)
        rows.append(items)
    return keys, rows


def load_lists(path: Path, catalog: Catalog, kind: str = "contextual") -> RecommendationLists:
    """Load and validate a list file of ``kind`` (one of ``LIST_KINDS``) against ``catalog``."""
    path = Path(path)
    if not path.is_file():
        raise ListsError(f"no list file at {path}")
    size = path.stat().st_size
    if size > MAX_LIST_FILE_BYTES:
        raise ListsError(
            f"{path} is {size / 2**20:.0f} MiB; list files are limited to "
            f"{MAX_LIST_FILE_BYTES / 2**20:.0f} MiB"
        )
    # Read as bytes and decoded line by line: a byte that is not UTF-8 is refused with
    # its line, not by the file iterator in the middle of a block.
    with open(path, "rb") as f:
        keys, rows = parse_lists(f, catalog, LIST_KINDS[kind].key_field, str(path))
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    items = np.fromiter((i for r in rows for i in r), dtype=np.int32, count=int(offsets[-1]))
    return RecommendationLists(
        version=content_version(path), keys=keys, offsets=offsets, items=items
    )


def write_lists(lists: Mapping[int, np.ndarray], out: Path, kind: str = "contextual") -> None:
    """Write a list file of ``kind`` (``{"track", "recommendations"}`` lines for contextual)
    in key order, atomically (temp + rename)."""
    key_field = LIST_KINDS[kind].key_field
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        # mkstemp creates the file private; the service may read it as another user.
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "w") as f:
            for key in sorted(lists):
                line = {key_field: key, "recommendations": lists[key].tolist()}
                f.write(json.dumps(line, separators=(",", ":")) + "\n")
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise
