"""Checks an answer of the real server against /openapi.json: the response schemas as JSON Schema
(validated with jsonschema: types, formats, no undocumented key), and what the parameters'
schemas say about which requests are valid."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

from http_client import Answer
from jsonschema import Draft202012Validator, FormatChecker

#: The codes the app gives malformed input; gunicorn's own rejections have theirs (serving/worker.py).
INPUT_CODES = {"invalid_id", "invalid_parameter"}
GUNICORN_CODES = {"bad_request", "uri_too_long", "headers_too_large"}


def json_schema(schema):
    """OpenAPI 3.0's schema dialect as JSON Schema: `nullable` as a null type, and objects closed
    to keys they do not list."""
    if isinstance(schema, list):
        return [json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: json_schema(value) for key, value in schema.items() if key != "nullable"}
    if schema.get("nullable"):
        converted["type"] = [schema["type"], "null"]
    if "properties" in schema and isinstance(schema["properties"], dict) and schema.get("type") == "object":
        converted.setdefault("additionalProperties", False)
    return converted


class Oracle:
    def __init__(self, document: dict) -> None:
        self.document = document
        components = {
            "schemas": {name: json_schema(schema) for name, schema in document["components"]["schemas"].items()}
        }
        self._validators = {
            name: Draft202012Validator(
                {"$ref": f"#/components/schemas/{name}", "components": components}, format_checker=FormatChecker()
            )
            for name in components["schemas"]
        }

    @staticmethod
    def target(route: str, values: dict[str, str], query: dict[str, str]) -> str:
        path = route.format(**{name: quote(value, safe="") for name, value in values.items()})
        return path + (f"?{urlencode(query, quote_via=quote)}" if query else "")

    def validate(self, schema_name: str, body) -> None:
        errors = [
            f"{list(error.absolute_path)}: {error.message}" for error in self._validators[schema_name].iter_errors(body)
        ]
        assert not errors, f"not a {schema_name}: {errors[:5]}"

    def valid_input(self, operation: dict, values: dict[str, str], query: dict[str, str]) -> bool:
        """What the operation's parameter schemas say of these ids and query values."""
        for parameter in operation.get("parameters", []):
            raw = values.get(parameter["name"]) if parameter["in"] == "path" else query.get(parameter["name"])
            if raw is not None and not _matches(parameter["schema"], raw):
                return False
        return True

    def check(self, method: str, route: str, values: dict, query: dict, authorized: bool, answer: Answer) -> None:
        status, headers = answer.status, answer.headers
        assert 0 < status < 500, answer
        listener_route = route.startswith("/v1/")
        body = None
        if method != "HEAD" and status != 204:
            if route == "/metrics" and status == 200:
                assert headers["content-type"].startswith("text/plain"), answer
            else:
                assert headers.get("content-type") == "application/json", answer
                body = json.loads(answer.body)
        code = body["error"]["code"] if status >= 400 and body is not None else None
        if status >= 400 and body is not None:
            self.validate("Error", body)
        if status == 401:
            assert listener_route and not authorized and headers["www-authenticate"].startswith("Bearer "), answer
        elif listener_route and not authorized:
            assert code in GUNICORN_CODES or (method == "HEAD" and status in (400, 414, 431)), answer
        if status == 405:
            assert method not in ("GET", "HEAD", "OPTIONS") and "GET" in headers["allow"], answer
        if status == 204:
            assert method == "OPTIONS" and answer.body == b"" and "GET" in headers["allow"], answer
        operation = self.document["paths"].get(route, {}).get("get")
        if operation is None or method not in ("GET", "HEAD") or not authorized and listener_route:
            return
        if status == 200 and body is not None:
            schema = operation["responses"]["200"].get("content", {}).get("application/json", {}).get("schema")
            if schema:
                self.validate(schema["$ref"].rsplit("/", 1)[1], body)
        valid = self.valid_input(operation, values, query)
        assert status != 200 or valid, f"200 for input the OpenAPI document rejects: {values} {query}"
        assert not valid or code not in INPUT_CODES, f"{code} for input the OpenAPI document accepts: {values} {query}"


def _matches(schema: dict, raw: str) -> bool:
    if "enum" in schema:
        return raw in schema["enum"]
    if schema.get("type") == "integer":
        return re.fullmatch(r"[0-9]+", raw) is not None and schema.get("minimum", 0) <= int(raw) <= schema.get(
            "maximum", int(raw)
        )
    if "pattern" in schema:
        return re.fullmatch(schema["pattern"].removeprefix("^").removesuffix("$"), raw) is not None
    return True
