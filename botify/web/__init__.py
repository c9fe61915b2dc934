"""The HTTP service (docs/http-api.md), in the order a request goes through it:

- ``app``: the application factory ``create_app`` (catalog, deployed lists, Redis client,
  event log) and the error handlers.
- ``resources``: the blueprint's flask-restful resources, one per route.
- ``validation``: a request body → ``(track, time)``, or a 400 message naming the field.
- ``service``: ``Service``, the request path: state update → recommendation → event.
- ``openapi``: the OpenAPI 3 document served at ``/openapi.json``.
- ``memory``: ``MemoryGuard``, a worker's resident memory against its limit (``/health``).
"""

from botify.web.app import create_app

__all__ = ["create_app"]
