"""``GET /api/v1/stamps/<code>``: the verdict and provenance as JSON."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from agritrace.stamps.codec import Stamp
from agritrace.trace.models import StampScanState
from tests.web.conftest import PREFIX, RECALL_REASON, Site


def _get(client: FlaskClient, code: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/stamps/{code}")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.get_json()
    return body


def test_genuine_stamp_has_its_verdict_and_provenance(site: Site, client: FlaskClient) -> None:
    body = _get(client, site.genuine)
    assert (body["verdict"], body["reason"], body["reasons"]) == ("genuine", None, [])
    assert body["serial"] == site.genuine_batch["first_serial"]
    assert body["lot"]["ref"] == "HD-VAI-01/L2026-001"
    assert body["lot"]["harvest_date"] == "2026-06-10"
    assert body["facility"]["code"] == "HD-VAI-01"
    assert body["product"]["name"] == "Vải thiều"
    assert body["certificate"]["number"] == "VG-HD-VAI-01"
    assert body["certificate"]["valid_at_harvest"] is True
    steps = {step["step"]: step for step in body["journey"]}
    assert {"harvest", "packing", "cooling", "stamps-issued"} <= steps.keys()
    harvest = steps["harvest"]
    assert harvest["proof_url"] == f"/ledger/entries/{harvest['ledger_index']}"
    assert harvest["time"] == "2026-06-09T23:30:00+00:00"
    assert body["links"]["page"] == f"/S/{site.genuine}"


def test_reading_the_api_is_not_a_scan(site: Site, client: FlaskClient) -> None:
    code = site.fresh_code()
    for _ in range(3):
        assert _get(client, code)["scans"]["count"] == 0
    with site.sessions() as session:
        assert session.get(StampScanState, Stamp.from_text(code).serial) is None


def test_full_url_in_any_case_is_accepted(site: Site, client: FlaskClient) -> None:
    assert _get(client, (PREFIX + site.genuine).lower())["verdict"] == "genuine"


def test_recalled_suspicious_and_forged(site: Site, client: FlaskClient) -> None:
    recalled = _get(client, site.recalled)
    assert (recalled["verdict"], recalled["reason"]) == ("recalled", "lot-recalled")
    assert recalled["recall"]["details"]["reason"] == RECALL_REASON
    suspicious = _get(client, site.suspicious)
    assert (suspicious["verdict"], suspicious["reason"]) == ("suspicious", "claimed-twice")
    assert suspicious["claim"]["claimed"] is True
    assert suspicious["claim"]["province"] == "Hà Nội"
    assert suspicious["claim"]["claimed_twice"] is True
    noted = _get(client, site.noted)
    assert (noted["verdict"], noted["notes"]) == ("genuine", ["distant-places"])
    assert noted["scans"]["count"] == 4
    forged = _get(client, site.forged)
    assert (forged["verdict"], forged["reason"]) == ("not_genuine", "bad-signature")
    assert (forged["lot"], forged["journey"]) == (None, [])


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("HELLO", "malformed"),
        ("A" * 116, "malformed"),
        ("x/y/z", "malformed"),
        ("%00", "malformed"),
    ],
)
def test_malformed_codes_are_a_verdict_not_an_error(
    client: FlaskClient, code: str, reason: str
) -> None:
    body = _get(client, code)
    assert (body["verdict"], body["reason"], body["serial"]) == ("not_genuine", reason, None)


def test_unknown_api_paths_are_problems(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert response.get_json()["type"] == "about:blank"


def test_api_answers_any_origin(site: Site, client: FlaskClient) -> None:
    response = client.get(f"/api/v1/stamps/{site.genuine}")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
