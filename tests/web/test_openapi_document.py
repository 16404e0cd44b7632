"""The generated OpenAPI document against the app: every route under ``/api/v1`` in
``app.url_map`` is documented with the same methods and nothing documented is missing; and
the document is valid OpenAPI 3.1 by openapi-spec-validator (an independent judge)."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from agritrace.web.openapi import openapi_document
from tests.support import unavailable
from tests.web.conftest import Site

_PREFIX = "/api/v1"
_IMPLICIT = {"HEAD", "OPTIONS"}


def _template(rule: str) -> str:
    """``/batches/<int:batch_id>`` as OpenAPI writes it: ``/batches/{batch_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def routes(app: Flask) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(_PREFIX + "/"):
            methods = {m.lower() for m in (rule.methods or set()) - _IMPLICIT}
            found.setdefault(_template(rule.rule[len(_PREFIX) :]), set()).update(methods)
    return found


def documented(document: dict[str, Any]) -> dict[str, set[str]]:
    verbs = {"get", "put", "post", "delete", "patch"}
    return {path: set(item) & verbs for path, item in document["paths"].items()}


def test_every_api_route_is_documented_and_nothing_else(site: Site) -> None:
    served = site.client().get(f"{_PREFIX}/openapi.json").get_json()
    assert served == openapi_document(site.settings.base_url)
    assert documented(served) == routes(site.app)


def test_the_route_diff_sees_a_route_the_document_lacks(site: Site) -> None:
    document = openapi_document(site.settings.base_url)
    document["paths"].pop("/me")
    document["paths"]["/lots"].pop("post")
    document["paths"]["/nowhere"] = {"get": {}}
    app_routes, doc_routes = routes(site.app), documented(document)
    assert app_routes["/me"] == {"get"}
    assert "/me" not in doc_routes
    assert app_routes["/lots"] - doc_routes["/lots"] == {"post"}
    assert "/nowhere" not in app_routes


def test_the_document_is_valid_openapi_3_1(site: Site) -> None:
    try:
        from openapi_spec_validator import validate
        from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
    except ImportError:  # a dev dependency: skip locally, fail in CI
        unavailable("openapi-spec-validator is not installed (pip install -e '.[dev]')")
    document = openapi_document(site.settings.base_url)
    validate(document)  # type: ignore[arg-type]
    broken = openapi_document(site.settings.base_url)
    broken["paths"]["/me"]["get"]["responses"] = {"200": {"content": {}}}  # no description
    try:
        validate(broken)  # type: ignore[arg-type]
    except OpenAPIValidationError:
        pass
    else:
        raise AssertionError("the validator accepted a response without a description")
