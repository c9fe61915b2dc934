"""Validation of request bodies: every bad input becomes a message naming the field.

Pure functions of the raw body, so the API contract is testable without HTTP.
"""

from __future__ import annotations

import json

from werkzeug.routing import IntegerConverter

from botify.data.catalog import Catalog

MAX_ID = 2**63 - 1
LISTEN_FIELDS = ("track", "time")
# Optional: when the listen happened (ms since the epoch), for a client with its own clock
# (the simulator's days); without it the event gets the service's clock.
TIMESTAMP_FIELD = "timestamp"


class CanonicalId(IntegerConverter):
    """An id in a URL written one way only: ASCII digits, no leading zero (``/next/516``,
    not ``/next/000516`` nor Arabic-Indic digits), so one user has one URL; any other
    spelling matches no route (404)."""

    regex = r"0|[1-9][0-9]*"


class InvalidRequest(ValueError):
    """A request the service refuses with 400; ``str()`` is the client-facing message."""


def _is_json_type(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def parse_json_object(raw: bytes, content_type: str | None) -> dict:
    """The body as a JSON object, or ``InvalidRequest``."""
    if not _is_json_type(content_type):
        raise InvalidRequest("the body must be JSON, sent with Content-Type: application/json")
    if not raw:
        raise InvalidRequest("the body is empty; expected a JSON object with 'track' and 'time'")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidRequest("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object with 'track' and 'time'")
    return body


def validate_user(user: int) -> int:
    """A user id from the URL, within the 63-bit range ids are kept in."""
    if not 0 <= user <= MAX_ID:
        raise InvalidRequest(f"'user' must be an integer in [0, {MAX_ID}]")
    return user


def parse_listen(
    raw: bytes, content_type: str | None, catalog: Catalog
) -> tuple[int, float, int | None]:
    """``(track, time, timestamp)`` from a ``/next`` or ``/last`` body (``timestamp`` None
    when not given), or ``InvalidRequest``."""
    body = parse_json_object(raw, content_type)
    for name in LISTEN_FIELDS:
        if name not in body:
            raise InvalidRequest(f"'{name}' is required")
    extra = sorted(set(body) - {*LISTEN_FIELDS, TIMESTAMP_FIELD})
    if extra:
        raise InvalidRequest(
            f"unknown field '{extra[0]}'; expected only 'track', 'time' and 'timestamp'"
        )
    timestamp = body.get(TIMESTAMP_FIELD)
    if TIMESTAMP_FIELD in body and (
        isinstance(timestamp, bool)
        or not isinstance(timestamp, int)
        or not 0 <= timestamp <= MAX_ID
    ):
        raise InvalidRequest(
            f"'timestamp' must be an integer in [0, {MAX_ID}] (ms since the epoch)"
        )
    track, time = body["track"], body["time"]
    if isinstance(track, bool) or not isinstance(track, int):
        raise InvalidRequest("'track' must be an integer track id")
    if track not in catalog:
        raise InvalidRequest(f"'track' {track} is not in the catalog (ids 0..{catalog.size - 1})")
    if isinstance(time, bool) or not isinstance(time, int | float):
        raise InvalidRequest("'time' must be a number in [0, 1]")
    # NaN and infinities fail the comparison too; ints of any size compare exactly.
    if not 0 <= time <= 1:
        raise InvalidRequest("'time' must be a finite number in [0, 1]")
    return track, float(time), timestamp
