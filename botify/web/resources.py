"""HTTP resources (docs/http-api.md). Thin: validate, call the service, shape the answer."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Blueprint, current_app, request
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


def answer_listen(user: int, answer: Callable[[Service, int, int, float, float, int | None], dict]):
    """``POST /next/<user>`` and ``POST /last/<user>`` share a body and its errors: validate
    it, let ``answer`` (``Service.next`` or ``Service.last``) serve it, shape the answer."""
    started = time.perf_counter()
    svc = service()
    try:
        validate_user(user)
        track, listened, at = parse_listen(request_body(), request.content_type, svc.catalog)
    except InvalidRequest as e:
        return {"message": str(e)}, 400
    try:
        return answer(svc, user, track, listened, started, at)
    except LogUnavailable as e:
        # Never answered without its line (docs/events.md): refused, the client may retry.
        return {"message": f"{e}; the request was not served"}, 503


class Next(Resource):
    """The next track (``Service.next``)."""

    def post(self, user: int):
        return answer_listen(user, Service.next)


class Last(Resource):
    """The end of the session (``Service.last``)."""

    def post(self, user: int):
        return answer_listen(user, Service.last)


class OpenAPI(Resource):
    def get(self):
        return openapi_document(service().catalog.size)


api.add_resource(Root, "/")
api.add_resource(Health, "/health")
api.add_resource(Track, "/track/<id:track>")
api.add_resource(Next, "/next/<id:user>")
api.add_resource(Last, "/last/<id:user>")
api.add_resource(OpenAPI, "/openapi.json")
