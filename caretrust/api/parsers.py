"""The one JSON parser of the partner API: strict about what JSON may carry, before any
serializer sees it."""

from __future__ import annotations

import codecs
import json
import math
import re
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 64

# A JSON string (skipped: brackets inside it do not nest) or a bracket.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in ``text``, without parsing it: Python's parser
    recurses per level, so tens of thousands of levels end in a RecursionError (a 500)."""
    depth = deepest = 0
    for match in _TOKEN.finditer(text):
        piece = match.group()
        if piece in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif piece in "]}":
            depth -= 1
    return deepest


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        # 1e999999 is valid JSON grammar but no finite number: Python reads it as inf.
        raise ValueError(f"The number {text[:40]} is too large.")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number.")


class StrictJSONParser(JSONParser):
    """JSON nested at most ``MAX_DEPTH`` levels, with finite numbers only (no NaN, Infinity
    or numbers too large for a float): anything else is a 400 problem document, never a 500
    and never "inf" stored as text."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - the body is not {encoding}.") from exc
        if nesting_depth(text) > MAX_DEPTH:
            raise ParseError(
                f"JSON parse error - arrays and objects may nest at most {MAX_DEPTH} levels deep."
            )
        try:
            return json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
