"""The Flask application factory."""

from __future__ import annotations

import logging

import redis
from flask import Flask
from werkzeug.exceptions import HTTPException

from botify.config import Config
from botify.data.catalog import load_catalog
from botify.data.lists import LIST_KINDS
from botify.logs.writer import EventLog
from botify.rollout.follow import ControlPlane, DeployedLists
from botify.state.client import connect, resolve_redis_url
from botify.web.resources import blueprint
from botify.web.service import Service
from botify.web.validation import CanonicalId

MAX_BODY_BYTES = 64 * 1024


def create_app(config: Config | None = None, client: redis.Redis | None = None) -> Flask:
    """Build the service: catalog and deployed lists in memory, Redis client, event log.

    ``client`` lets tests pass fakeredis; otherwise the client connects to
    ``BOTIFY_REDIS_URL`` (or the embedded server ``botify serve`` started).
    """
    config = config or Config.from_env()
    if client is None:
        url = resolve_redis_url(config)
        if url is None:
            raise RuntimeError(
                "no Redis configured: set BOTIFY_REDIS_URL, or run `botify serve`, which "
                "starts the embedded redis-server"
            )
        client = connect(url, config)
    catalog = load_catalog(config.data_dir)
    control = ControlPlane(client, config)
    lists = {kind: DeployedLists(kind, client, config, catalog, control) for kind in LIST_KINDS}

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False
    app.extensions["botify"] = Service(
        config=config,
        catalog=catalog,
        client=client,
        lists=lists,
        event_log=EventLog(config.log_dir, config.log_max_bytes),
        control=control,
    )

    # Before the blueprint: its routes' ids are parsed by it.
    app.url_map.converters["id"] = CanonicalId
    app.register_blueprint(blueprint)

    @app.before_request
    def follow_deployments():
        # Each forked worker starts its own poller on its first request of any kind.
        app.extensions["botify"].poller.ensure_running()

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        # The error's own headers but its HTML page's type (a 405's Allow, RFC 9110).
        headers = [(k, v) for k, v in e.get_headers() if k.lower() != "content-type"]
        return {"message": e.description}, e.code, headers

    @app.errorhandler(Exception)
    def unexpected_error(e: Exception):
        logging.getLogger("botify").exception("unhandled error")
        return {"message": "internal error"}, 500

    return app
