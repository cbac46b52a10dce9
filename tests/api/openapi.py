"""Checking responses against the API's own OpenAPI document (served at /api/schema/).

The document is OpenAPI 3.0, whose schemas are nearly JSON Schema: ``nullable`` is turned into
a ``null`` alternative, and every object with named properties is closed
(``additionalProperties: false``), so a response with a field the document does not name
fails as surely as one missing a required field. Formats (uuid, date, date-time, uri) are
checked too.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import uuid
from functools import cache
from typing import Any

import jsonschema
from django.test import Client

SCHEMA_URL = "/api/schema/?format=json"

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or str(uuid.UUID(value)) == value


@FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    return not isinstance(value, str) or bool(dt.date.fromisoformat(value))


@FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.tzinfo is not None


@FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(re.match(r"^[a-z][a-z0-9+.-]*://\S+$", value))


@cache
def _fetch() -> str:
    response = Client().get(SCHEMA_URL)
    assert response.status_code == 200, response.content[:300]
    return response.content.decode()


def document() -> dict[str, Any]:
    """The OpenAPI document, as /api/schema/ serves it (fetched once per run; needs ``db``)."""
    return json.loads(_fetch())


def _to_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _to_json_schema(v) for k, v in node.items() if k not in ("nullable", "example")}
    if out.get("type") == "object" and "properties" in out:
        out.setdefault("additionalProperties", False)
    if node.get("nullable"):
        if isinstance(out.get("type"), str) and "enum" not in out:
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _generated() -> str:
    from drf_spectacular.generators import SchemaGenerator

    return json.dumps(SchemaGenerator().get_schema(request=None, public=True))


def generated_document() -> dict[str, Any]:
    """The OpenAPI document exactly as /api/schema/ serves it (the same generator), without a
    request: usable at collection time, where fetching it through the app is not possible (every
    request opens a transaction, ATOMIC_REQUESTS, and the test database does not exist yet).
    test_schemathesis.py's ``test_the_document_is_the_one_served`` checks it against the real
    endpoint. A fresh copy each call."""
    return json.loads(_generated())


def response_schema(path: str, method: str, status: int, media_type: str) -> dict[str, Any]:
    """The JSON Schema the document gives for this response (KeyError if it documents none)."""
    doc = document()
    response = doc["paths"][path][method.lower()]["responses"][str(status)]
    schema = copy.deepcopy(response["content"][media_type]["schema"])
    return {**_to_json_schema(schema), "components": _to_json_schema(doc["components"])}


def assert_conforms(response: Any, path: str, method: str | None = None) -> Any:
    """The response's status, content type and body are as the document says for the
    operation; returns the parsed body."""
    method = method or response.request["REQUEST_METHOD"]
    media_type = response["Content-Type"].split(";")[0].strip()
    schema = response_schema(path, method, response.status_code, media_type)
    body = json.loads(response.content)
    jsonschema.validate(body, schema, cls=jsonschema.Draft7Validator, format_checker=FORMATS)
    return body
