"""Caps on what a request may hold, applied before any view sees it, so that bad input is a
4xx and never a 5xx (or a number the database cannot store).

* Ids in paths (``<int:...>``) are ASCII digits, at most 19 of them, and at most
  :data:`MAX_ID` (the largest 64-bit signed integer): werkzeug's own converter takes any
  Unicode digit (``/entries/٣`` was entry 3) and any length (``/entries/999...`` overflowed
  the database). Anything else does not match the route: 404.
* JSON bodies nest at most :data:`~agritrace.trace.validation.MAX_JSON_DEPTH` levels and are
  parsed without NaN or Infinity; a deeper or otherwise unparseable body is a 400 (Flask's
  own handling of a body that is not JSON).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

from agritrace.errors import InvalidInputError
from agritrace.trace.validation import check_json_depth

__all__ = ["MAX_ID", "BoundedIntConverter", "CappedJSONProvider", "init_app"]

#: The largest id a path may name (PostgreSQL's BIGINT, SQLite's INTEGER).
MAX_ID = 2**63 - 1


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` for ids: ASCII digits, 1 to 19 of them, at most :data:`MAX_ID`."""

    regex = r"[0-9]{1,19}"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(*args, **kwargs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


class CappedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading bodies that are nested no deeper than the cap and hold no NaN
    or Infinity (which are not JSON, RFC 8259 section 6). A body that breaks either raises
    ValueError, which Flask answers 400 (``request.get_json(silent=True)`` gives None)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            check_json_depth(s)
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from exc
        kwargs.setdefault("parse_constant", _no_constant)
        return json.loads(s, **kwargs)


def init_app(app: Flask) -> None:
    """Install the caps; call before any blueprint is registered (routes bind converters
    when they are added)."""
    app.url_map.converters["int"] = BoundedIntConverter
    provider = CappedJSONProvider(app)
    provider.ensure_ascii = app.json.ensure_ascii  # type: ignore[attr-defined]
    app.json = provider
