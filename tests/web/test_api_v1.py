"""The authenticated API: tokens, facility scope, pagination, problem documents, capture."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.people import FACILITY_A, FACILITY_B, People, build_people


@pytest.fixture(scope="module")
def people(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    with build_people(backend, tmp_path_factory.mktemp(f"api-{backend}")) as built:
        yield built


def _get(people: People, role: str, path: str) -> Any:
    return people.site.client().get(path, headers=people.headers(role))


def test_a_missing_or_bad_token_is_a_401_problem(people: People) -> None:
    client = people.site.client()
    for headers in ({}, {"Authorization": "Bearer agt_nope"}, {"Authorization": "Basic eA=="}):
        response = client.get("/api/v1/lots", headers=headers)
        assert response.status_code == 401
        assert response.content_type == "application/problem+json"
        body = response.get_json()
        assert body["status"] == 401
        assert body["type"].endswith("/problems/authentication-required")
        assert body["instance"] == "/api/v1/lots"


def test_an_operator_lists_only_its_facility(people: People) -> None:
    lots = _get(people, "operator_b", "/api/v1/lots?limit=200").get_json()["items"]
    assert lots
    assert {lot["facility"] for lot in lots} == {FACILITY_B}
    batches = _get(people, "operator_b", "/api/v1/batches").get_json()["items"]
    assert all(b["lot"].startswith(FACILITY_B + "/") for b in batches)
    seen = _get(people, "operator_b", "/api/v1/events").get_json()["items"]
    assert all(
        e["facility"] == FACILITY_B or any(x["lot"].startswith(FACILITY_B) for x in e["lots"])
        for e in seen
    )
    everything = _get(people, "inspector", "/api/v1/lots?limit=200").get_json()["items"]
    assert {FACILITY_A, FACILITY_B} <= {lot["facility"] for lot in everything}


def test_pages_follow_the_cursor_to_the_end(people: People) -> None:
    seen: list[int] = []
    path = "/api/v1/lots?limit=2"
    for _ in range(20):
        page = _get(people, "inspector", path).get_json()
        seen += [lot["id"] for lot in page["items"]]
        if page["next_cursor"] is None:
            break
        path = f"/api/v1/lots?limit=2&cursor={page['next_cursor']}"
    everything = _get(people, "inspector", "/api/v1/lots?limit=200").get_json()["items"]
    assert seen == [lot["id"] for lot in everything]
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=x", "cursor=%%%", "cursor=YWJj"])
def test_bad_page_parameters_are_422(people: People, query: str) -> None:
    response = _get(people, "inspector", f"/api/v1/lots?{query}")
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"


def test_operator_creates_a_lot_issues_stamps_and_records_an_event(people: People) -> None:
    client = people.site.client()
    headers = people.headers("operator_a")
    created = client.post(
        "/api/v1/lots",
        json={
            "product": "VAI",
            "code": "API-9",
            "units": 10,
            "quantity": "40",
            "quantity_unit": "kg",
            "harvest_date": "2026-06-10",
            "origin_area": "Thanh Hà",
        },
        headers=headers,
    )
    assert created.status_code == 201
    assert created.headers["Location"] == f"/api/v1/lots/{FACILITY_A}/API-9"
    batch = client.post(
        "/api/v1/batches", json={"lot": f"{FACILITY_A}/API-9", "count": 4}, headers=headers
    )
    assert batch.status_code == 201
    assert batch.get_json()["count"] == 4
    assert batch.get_json()["claim_codes"] is False
    claimable = client.post(
        "/api/v1/batches",
        json={"lot": f"{FACILITY_A}/API-9", "count": 2, "claim_codes": True},
        headers=headers,
    )
    assert claimable.status_code == 201
    assert claimable.get_json()["claim_codes"] is True
    printed = client.get(
        f"/api/v1/batches/{claimable.get_json()['id']}/stamps.csv", headers=headers
    )
    assert printed.get_data(as_text=True).splitlines()[0] == "serial,url,claim_code"
    garbage = client.post(
        "/api/v1/batches",
        json={"lot": f"{FACILITY_A}/API-9", "count": 1, "claim_codes": "yes"},
        headers=headers,
    )
    assert garbage.status_code == 422
    event = client.post(
        "/api/v1/events",
        json={"step": "harvest", "lot": f"{FACILITY_A}/API-9", "event_time": "2026-06-10T06:00"},
        headers=headers,
    )
    assert event.status_code == 201
    assert event.get_json()["event_id"].startswith("ni:///sha-256;")
    twice = client.post(
        "/api/v1/events",
        json={"step": "harvest", "lot": f"{FACILITY_A}/API-9", "event_time": "2026-06-10T07:00"},
        headers=headers,
    )
    assert twice.status_code == 409
    assert "already has a harvest" in twice.get_json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {"lot": ["x"], "count": 1},
        {"lot": "HD-VAI-01/LA-1", "count": True},
        {"lot": "HD-VAI-01/LA-1\u0000", "count": 1},
    ],
)
def test_malformed_bodies_are_422(people: People, body: Any) -> None:
    response = people.site.client().post(
        "/api/v1/batches",
        data=json.dumps(body),
        headers=people.headers("operator_a"),
        content_type="application/json",
    )
    assert response.status_code in (404, 422)
    assert response.content_type == "application/problem+json"


def test_an_operator_cannot_capture_events_at_another_facility(people: People) -> None:
    response = people.site.client().post(
        "/api/v1/events/capture",
        data=people.capture_document(people.lot_b),
        headers=people.headers("operator_a"),
        content_type="application/json",
    )
    assert response.status_code == 403


def test_an_operator_s_capture_cannot_register_records(people: People) -> None:
    document = json.loads(people.capture_document(people.lot_a))
    document["epcisHeader"] = {
        "epcisMasterData": {
            "vocabularyList": [
                {
                    "type": "urn:epcglobal:epcis:vtype:EPCClass",
                    "vocabularyElementList": [{"id": "urn:x", "attributes": []}],
                }
            ]
        }
    }
    response = people.site.client().post(
        "/api/v1/events/capture",
        data=json.dumps(document),
        headers=people.headers("operator_a"),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert "no master data" in response.get_json()["detail"]


def test_capture_records_the_document(people: People) -> None:
    response = people.site.client().post(
        "/api/v1/events/capture",
        data=people.capture_document(people.lot_b),
        headers=people.headers("operator_b"),
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response.get_json()["events_recorded"] == 1


def test_recall_and_exports(people: People) -> None:
    client = people.site.client()
    headers = people.headers("inspector")
    ref = people.fresh_lot()
    done = client.post("/api/v1/recalls", json={"lot": ref, "reason": "Listeria"}, headers=headers)
    assert done.status_code == 201
    assert done.get_json()["items"][0]["lot"] == ref
    recalled = client.get("/api/v1/recalls", headers=headers).get_json()["items"]
    assert ref in {r["lot"] for r in recalled}
    epcis = client.get(f"/api/v1/exports/epcis?lot={people.lot_a}", headers=headers)
    assert epcis.status_code == 200
    assert json.loads(epcis.data)["type"] == "EPCISDocument"
    fsma = client.get("/api/v1/exports/fsma?from=2026-01-01&to=2026-12-31", headers=headers)
    assert fsma.data.startswith(b"Traceability Lot Code")
    assert client.get("/api/v1/exports/xml?lot=x", headers=headers).status_code == 404


def test_token_use_is_recorded(people: People) -> None:
    from sqlalchemy import select

    from agritrace.trace.access import ApiToken

    _get(people, "admin", "/api/v1/me")
    with people.site.sessions() as session:
        token = session.scalars(
            select(ApiToken).where(ApiToken.user_id == people.users["admin"])
        ).first()
        assert token is not None
        assert token.last_used_at is not None
