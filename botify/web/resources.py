"""HTTP resources (docs/http-api.md). Thin: validate, call the service, shape the answer.

``POST /next`` and ``/last`` are plain Flask views, not flask-restful resources: the WSGI
app's CPU per contextual ``/next`` drops from 250 µs to 190 µs without flask-restful's
dispatch and representation (medians of 3 runs of 5,000 calls, in process, Redis on its
Unix socket), and the answer is written as it wrote it: ``json.dumps`` and a newline,
``application/json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from flask import Blueprint, Response, current_app, request
from flask_restful import Api, Resource
from werkzeug.exceptions import RequestEntityTooLarge

from botify.logs.writer import LogUnavailable
from botify.web.openapi import openapi_document
from botify.web.service import Service
from botify.web.validation import InvalidRequest, parse_listen, validate_user

blueprint = Blueprint("api", __name__)
api = Api(blueprint)


def request_body() -> bytes:
    """The raw request body; one over ``MAX_CONTENT_LENGTH`` is refused with 413, one that
    cannot be read (a malformed chunked encoding) with 400 (``InvalidRequest``).

    werkzeug refuses a declared Content-Length over the limit, but cuts a chunked body at
    the limit without saying so, and the answer would then be about a truncated body. A
    chunked body that reaches the limit is refused, since whether more followed is unknown.
    """
    try:
        raw = request.get_data(cache=False)
    except OSError as e:
        # The server's body reader: a bad chunk size or terminator, or the client left.
        raise InvalidRequest(f"the body could not be read: {e}") from None
    if request.content_length is None and len(raw) >= current_app.config["MAX_CONTENT_LENGTH"]:
        raise RequestEntityTooLarge()
    return raw


def service() -> Service:
    """The worker's ``Service`` (set up by the app factory)."""
    return current_app.extensions["botify"]


class Root(Resource):
    def get(self):
        return {"status": "alive", "message": "botify: POST /next/<user> for the next track"}


class Health(Resource):
    def get(self):
        ok, body = service().health()
        return body, 200 if ok else 503


class Track(Resource):
    def get(self, track: int):
        catalog = service().catalog
        if track not in catalog:
            return {"message": f"track {track} is not in the catalog"}, 404
        return catalog.describe(track)


def json_response(body: dict, status: int = 200) -> Response:
    """``body`` as the API's resources write it: ``json.dumps`` and a newline."""
    return Response(json.dumps(body) + "\n", status, mimetype="application/json")


def answer_listen(
    user: int, answer: Callable[[Service, int, int, float, float, int | None], dict]
) -> Response:
    """``POST /next/<user>`` and ``POST /last/<user>`` share a body and its errors: validate
    it, let ``answer`` (``Service.next`` or ``Service.last``) serve it, shape the answer."""
    started = time.perf_counter()
    svc = service()
    try:
        validate_user(user)
        track, listened, at = parse_listen(request_body(), request.content_type, svc.catalog)
    except InvalidRequest as e:
        return json_response({"message": str(e)}, 400)
    try:
        return json_response(answer(svc, user, track, listened, started, at))
    except LogUnavailable as e:
        # Never answered without its line (docs/events.md): refused, the client may retry.
        return json_response({"message": f"{e}; the request was not served"}, 503)


@blueprint.post("/next/<id:user>")
def next_track(user: int) -> Response:
    """The next track (``Service.next``)."""
    return answer_listen(user, Service.next)


@blueprint.post("/last/<id:user>")
def last_track(user: int) -> Response:
    """The end of the session (``Service.last``)."""
    return answer_listen(user, Service.last)


class OpenAPI(Resource):
    def get(self):
        return openapi_document(service().catalog.size)


api.add_resource(Root, "/")
api.add_resource(Health, "/health")
api.add_resource(Track, "/track/<id:track>")
api.add_resource(OpenAPI, "/openapi.json")
