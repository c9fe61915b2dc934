"""The OpenAPI 3 document served at ``/openapi.json``: exactly the API of docs/http-api.md."""

from __future__ import annotations

from importlib.metadata import version

_ERROR = {
    "description": "",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _error(description: str) -> dict:
    return {**_ERROR, "description": description}


def _listen_operation(summary: str, answer: str) -> dict:
    return {
        "summary": summary,
        "parameters": [{"$ref": "#/components/parameters/User"}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Listen"}}},
        },
        "responses": {
            "200": {
                "description": "OK",
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{answer}"}}
                },
            },
            "400": _error("Invalid body or user id (the message names the field)"),
            "404": _error("No such route (e.g. a negative user id)"),
            "413": _error("Body larger than the limit"),
            "503": _error("The event log cannot be written: refused, nothing served"),
        },
    }


def openapi_document(tracks: int) -> dict:
    """The OpenAPI 3.0 description of a service whose catalog holds ``tracks`` tracks.

    A listened ``track`` must be a catalog id, so the document bounds it by the catalog: a
    body valid by the document is one the service accepts.
    """
    health = {
        "type": "object",
        "required": ["status", "redis", "tracks", "recommendations"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "degraded"]},
            "redis": {"type": "string"},
            "log": {"type": "string"},
            "tracks": {"type": "integer"},
            "experiment": {"type": "string"},
            "control": {"type": "string"},
            "memory": {"type": "string"},
            "recommendations": {
                "type": "object",
                "additionalProperties": {"type": "string", "nullable": True},
            },
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "botify", "version": version("botify")},
        "paths": {
            "/": {
                "get": {
                    "summary": "Liveness",
                    "responses": {
                        "200": {
                            "description": "Alive",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Alive"}
                                }
                            },
                        }
                    },
                }
            },
            "/health": {
                "get": {
                    "summary": "Readiness: Redis and the event log work; catalog and list versions",
                    "responses": {
                        "200": {
                            "description": "Ready",
                            "content": {"application/json": {"schema": health}},
                        },
                        "503": {
                            "description": "Redis or the event log failing",
                            "content": {"application/json": {"schema": health}},
                        },
                    },
                }
            },
            "/track/{track}": {
                "get": {
                    "summary": "A catalog track",
                    "parameters": [
                        {
                            "name": "track",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 0},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The track",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Track"}
                                }
                            },
                        },
                        "404": _error("Unknown track"),
                    },
                }
            },
            "/next/{user}": {
                "post": _listen_operation("Report a listen and get the next track", "Next")
            },
            "/last/{user}": {
                "post": _listen_operation("Report the session's final listen", "Last")
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3 document",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "parameters": {
                "User": {
                    "name": "user",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
                }
            },
            "schemas": {
                "Listen": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["track", "time"],
                    "properties": {
                        "track": {"type": "integer", "minimum": 0, "maximum": tracks - 1},
                        "time": {"type": "number", "minimum": 0, "maximum": 1},
                        "timestamp": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": 2**63 - 1,
                            "description": "When the listen happened (ms since the epoch); "
                            "default: the service's clock",
                        },
                    },
                },
                "Next": {
                    "type": "object",
                    "required": ["user", "track", "recommender"],
                    "properties": {
                        "user": {"type": "integer"},
                        "track": {"type": "integer"},
                        "recommender": {"type": "string"},
                    },
                },
                "Last": {
                    "type": "object",
                    "required": ["user"],
                    "properties": {"user": {"type": "integer"}},
                },
                "Track": {
                    "type": "object",
                    "required": ["track", "artist", "title", "genre"],
                    "properties": {
                        "track": {"type": "integer"},
                        "artist": {"type": "string"},
                        "title": {"type": "string"},
                        "genre": {"type": "string"},
                        "popularity": {"type": "integer"},
                    },
                },
                "Alive": {
                    "type": "object",
                    "required": ["status", "message"],
                    "properties": {"status": {"type": "string"}, "message": {"type": "string"}},
                },
                "Error": {
                    "type": "object",
                    "required": ["message"],
                    "properties": {"message": {"type": "string"}},
                },
            },
        },
    }
