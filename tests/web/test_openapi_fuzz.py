"""schemathesis against ``/api/v1/openapi.json``: generated requests to every documented
operation, with an operator's and with an administrator's token, never get a 5xx and always
get a response whose status, media type and body match the document.

On SQLite only (the API does not depend on the backend; the access matrix covers both).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.support import unavailable
from tests.web.people import People, build_people

pytestmark = pytest.mark.slow


def _schemathesis() -> Any:
    try:
        import schemathesis
    except ImportError:  # a dev dependency: skip locally, fail in CI
        unavailable("schemathesis is not installed (pip install -e '.[dev]')")
    return schemathesis


def _checks() -> list[Any]:
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    return [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    with build_people("sqlite", tmp_path_factory.mktemp("fuzz")) as built:
        yield built


def _operations(people: People) -> list[Any]:
    schema = _schemathesis().openapi.from_wsgi("/api/v1/openapi.json", people.site.app)
    return [result.ok() for result in schema.get_all_operations()]


def test_api_answers_every_request_as_documented(people: People) -> None:
    # schemathesis' own pytest plugin does not run under pytest 9, so each operation's
    # strategy is driven by hypothesis here.
    operations = _operations(people)
    checks = _checks()
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            for role in ("operator_a", "admin"):
                response = case.call(headers=people.headers(role))
                case.validate_response(response, checks=checks)

        check()


def test_the_document_is_openapi_3_1(people: People, tmp_path: Path) -> None:
    response = people.site.client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    assert "/lots" in document["paths"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
