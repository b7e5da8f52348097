"""The OpenAPI 3.0 document served at /openapi.json (tests check responses against it)."""

from serving.contract import SERVING_TABLES

_ID = {"type": "string", "pattern": r"^[A-Za-z0-9_:-]{1,128}$"}
#: JSON Schema of the DuckDB types the export renders (to_json).
_JSON_TYPES = {
    "VARCHAR": {"type": "string"},
    "BIGINT": {"type": "integer"},
    "DOUBLE": {"type": "number"},
    "BOOLEAN": {"type": "boolean"},
    "DATE": {"type": "string", "format": "date"},
}
#: A track's display fields: the columns of serving_tracks but run_date (serving/sql/tracks.sql).
_TRACK = {
    column: {**_JSON_TYPES[data_type], **({} if column == "track_id" else {"nullable": True})}
    for column, data_type in SERVING_TABLES["serving_tracks"].items()
    if column != "run_date"
}


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


#: Any route, any error: 405 (with Allow) for a method other than GET/HEAD/OPTIONS, and gunicorn's
#: own 400/414/431 for a request it cannot parse (serving/worker.py) are in the same shape.
_DEFAULT = {
    "default": _error(
        "any other error: 405 (with Allow), 414 (request line too long), 431 (headers too large), 400 (malformed HTTP)"
    )
}
_ERRORS = {
    "400": _error("malformed id or parameter"),
    "401": _error("API tokens are configured and the request carries no valid one (with WWW-Authenticate: Bearer)"),
    "404": _error("unknown listener or playlist"),
    "503": _error("no snapshot loaded, or the served one could not be read (then retry: Retry-After)"),
    **_DEFAULT,
}


def _ok(schema: str) -> dict:
    return {
        "200": {
            "description": "OK",
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        },
        **_ERRORS,
    }


def _listener_data(operation: dict) -> dict:
    """A /v1 or explorer operation: a bearer token when the server has API tokens (serving/auth.py)."""
    return {**operation, "security": [{"bearer": []}]}


_HTML = {"description": "an HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}


def _path_param(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": _ID}


OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "Tunesday serving shim", "version": "1"},
    "paths": {
        "/v1/users/{user_id}/discover-weekly": {
            "get": _listener_data(
                {
                    "summary": "This week's Discover Weekly: 30 tracks in flow order, with reasons.",
                    "parameters": [_path_param("user_id")],
                    "responses": _ok("Surface"),
                }
            )
        },
        "/v1/users/{user_id}/recommendations": {
            "get": _listener_data(
                {
                    "summary": "A surface's recommendations in its order (For You: best first within new and within "
                    "known artists, the two interleaved at the listener's share of new artists).",
                    "parameters": [
                        _path_param("user_id"),
                        {
                            "name": "surface",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["for_you", "discover_weekly"], "default": "for_you"},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
                        },
                    ],
                    "responses": _ok("Surface"),
                }
            )
        },
        "/v1/users/{user_id}/playlists/{playlist_id}/smart-shuffle": {
            "get": _listener_data(
                {
                    "summary": "The playlist shuffled (deterministic for a seed), one recommendation after "
                    "every N tracks "
                    "(the warehouse's serving_settings: 3); "
                    "recommendations the listener has probably heard (Bloom filter) are left out.",
                    "parameters": [
                        _path_param("user_id"),
                        _path_param("playlist_id"),
                        {"name": "seed", "in": "query", "schema": {**_ID, "default": "0"}},
                    ],
                    "responses": _ok("SmartShuffle"),
                }
            )
        },
        "/v1/users/{user_id}/heard/{track_id}": {
            "get": _listener_data(
                {
                    "summary": "Whether the listener has heard the track "
                    "(Bloom filter: 'probably heard' or 'not heard').",
                    "parameters": [_path_param("user_id"), _path_param("track_id")],
                    "responses": _ok("Heard"),
                }
            )
        },
        "/healthz": {
            "get": {
                "summary": "The process is up (no token needed).",
                "responses": {"200": {"description": "OK"}, **_DEFAULT},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Ready only with a valid snapshot: which one, its run_date, when it was built "
                "and its age (no token needed).",
                "responses": {
                    "200": {
                        "description": "ready",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}},
                    },
                    "503": {"description": "no snapshot"},
                    **_DEFAULT,
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (no token needed).",
                "responses": {"200": {"description": "text/plain"}, **_DEFAULT},
            }
        },
        # The explorer (serving/explore.py): HTML pages for people, not for programs.
        "/explore": {
            "get": _listener_data(
                {
                    "summary": "The explorer's search box (HTML); ?user_id=ID redirects to the listener's page.",
                    "parameters": [{"name": "user_id", "in": "query", "schema": {"type": "string"}}],
                    "responses": {
                        "200": _HTML,
                        "303": {"description": "to /explore/users/{user_id}"},
                        "401": _ERRORS["401"],
                        **_DEFAULT,
                    },
                }
            )
        },
        "/explore/users/{user_id}": {
            "get": _listener_data(
                {
                    "summary": "A listener's page (HTML): Discover Weekly with reasons and tempo and key, "
                    "For You, their playlists and a Smart Shuffle preview of the first with a pool.",
                    "parameters": [_path_param("user_id")],
                    "responses": {"200": _HTML, "401": _ERRORS["401"], "404": _HTML, "503": _HTML, **_DEFAULT},
                }
            )
        },
        "/explore/users/{user_id}/playlists/{playlist_id}": {
            "get": _listener_data(
                {
                    "summary": "The listener's page (HTML) previewing that playlist's Smart Shuffle.",
                    "parameters": [_path_param("user_id"), _path_param("playlist_id")],
                    "responses": {"200": _HTML, "401": _ERRORS["401"], "404": _HTML, "503": _HTML, **_DEFAULT},
                }
            )
        },
    },
    "components": {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API token (TUNESDAY_API_TOKENS or TUNESDAY_API_TOKENS_FILE); required by every /v1 "
                "route when the server has tokens configured, and by none otherwise.",
            }
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    }
                },
            },
            "Surface": {
                "type": "object",
                "required": ["user_id", "surface", "run_date", "experiment", "items"],
                "properties": {
                    "user_id": {"type": "string"},
                    "surface": {"type": "string"},
                    "run_date": {"type": "string", "format": "date"},
                    "experiment": {
                        "type": "object",
                        "nullable": True,
                        "required": ["id", "variant"],
                        "description": "the experiment whose variant ordered this surface for the listener "
                        "(README, Experiments); null when none did",
                        "properties": {"id": {"type": "string"}, "variant": {"type": "string"}},
                    },
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["position", "track_id", "score", "reasons"],
                            "properties": {
                                "position": {"type": "integer"},
                                "score": {"type": "number"},
                                "is_new_artist": {"type": "boolean"},
                                "reasons": {"type": "array", "items": {"type": "string"}},
                                "seed": {
                                    "type": "object",
                                    "properties": {"type": {"type": "string"}, "id": {"type": "string"}},
                                },
                                **_TRACK,
                            },
                        },
                    },
                },
            },
            "SmartShuffle": {
                "type": "object",
                "required": ["user_id", "playlist_id", "seed", "run_date", "items"],
                "properties": {
                    "user_id": {"type": "string"},
                    "playlist_id": {"type": "string"},
                    "seed": {"type": "string"},
                    "run_date": {"type": "string", "format": "date"},
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["position", "track_id", "recommended"],
                            "properties": {
                                "position": {"type": "integer"},
                                "recommended": {"type": "boolean"},
                                "score": {"type": "number"},
                                "reasons": {"type": "array", "items": {"type": "string"}},
                                "seed_track_id": {"type": "string"},
                                **_TRACK,
                            },
                        },
                    },
                },
            },
            "Readiness": {
                "type": "object",
                "required": ["status", "snapshot_id", "run_date", "built_at", "age_seconds", "last_swap_error"],
                "properties": {
                    "status": {"type": "string", "enum": ["ready"]},
                    "snapshot_id": {"type": "string"},
                    "run_date": {"type": "string", "format": "date"},
                    "built_at": {"type": "string", "format": "date-time"},
                    "age_seconds": {"type": "number"},
                    "last_swap_error": {
                        "type": "string",
                        "nullable": True,
                        "description": "why the served snapshot is not the published one (null when it is)",
                    },
                },
            },
            "Heard": {
                "type": "object",
                "required": ["user_id", "track_id", "heard"],
                "properties": {
                    "user_id": {"type": "string"},
                    "track_id": {"type": "string"},
                    "heard": {"type": "string", "enum": ["probably heard", "not heard"]},
                },
            },
        },
    },
}
