"""A suspended facility cannot download or reprint its stamps (the review printed a suspended
facility's batch again), nor can anyone print a recalled lot's; and a wrong key passphrase's
503 names no file of the server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask.testing import FlaskClient

from agritrace.keys import KeyPurpose
from agritrace.trace import issuance, recalls, registry
from agritrace.web import create_app
from tests.web.conftest import PREFIX, page_text
from tests.web.people import FACILITY_B, People, build_people, sign_in


@pytest.fixture(scope="module")
def people(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    with build_people(backend, tmp_path_factory.mktemp(f"suspended-{backend}")) as built:
        yield built


def _batch_of_new_lot(people: People, facility: str) -> tuple[str, int]:
    ref = people.fresh_lot(facility)
    with people.site.sessions() as session:
        batch = issuance.issue_batch(session, lot_ref=ref, count=2, key_id=0, prefix=PREFIX)
        return ref, batch.id


def test_a_recalled_lot_s_stamps_cannot_be_downloaded(people: People) -> None:
    ref, batch_id = _batch_of_new_lot(people, "HD-VAI-01")
    mai: FlaskClient = people.clients["operator_a"]
    assert mai.get(f"/portal/batches/{batch_id}/stamps.csv").status_code == 200
    with people.site.sessions() as session:
        signer = people.site.ring.active_signer(KeyPurpose.STAMP)
        recalls.recall_lot(session, lot_ref=ref, reason="Dư lượng vượt ngưỡng", signer=signer)
    for kind in ("pdf", "csv", "zip"):
        page = mai.get(f"/portal/batches/{batch_id}/stamps.{kind}")
        assert page.status_code == 409
        api = people.site.client().get(
            f"/api/v1/batches/{batch_id}/stamps.{kind}", headers=people.headers("operator_a")
        )
        assert api.status_code == 409
        assert api.content_type == "application/problem+json"
        assert "recalled" in api.get_json()["detail"]
    assert "đã bị thu hồi" in page_text(page.data)


def test_a_suspended_facility_cannot_download_or_reprint_its_stamps(people: People) -> None:
    _ref, batch_id = _batch_of_new_lot(people, FACILITY_B)
    client = people.clients["operator_b"]
    assert client.get(f"/portal/batches/{batch_id}/stamps.pdf").status_code == 200
    with people.site.sessions() as session:
        registry.suspend_facility(session, FACILITY_B, reason="Vi phạm quy định ghi nhãn")
    page = client.get(f"/portal/batches/{batch_id}/stamps.pdf")
    assert page.status_code == 409
    assert page.mimetype == "text/html"
    assert "đang bị đình chỉ" in page_text(page.data)
    api = people.site.client().get(
        f"/api/v1/batches/{people.batch_b}/stamps.csv", headers=people.headers("operator_b")
    )
    assert api.status_code == 409
    assert "is suspended" in api.get_json()["detail"]


def test_a_wrong_passphrase_503_names_no_server_path(people: People) -> None:
    site = people.site
    settings = replace(site.settings, key_passphrase=b"not the passphrase of this ring")
    app = create_app(settings, engine=site.app.extensions["agritrace"].engine, rate_limits={})
    client = app.test_client()
    assert sign_in(client, "operator-a", "operator-a-password").status_code == 303
    folder = str(site.settings.instance)
    page = client.get(f"/portal/batches/{people.batch_a}/stamps.pdf")
    api = app.test_client().get(
        f"/api/v1/batches/{people.batch_a}/stamps.pdf", headers=people.headers("operator_a")
    )
    assert (page.status_code, api.status_code) == (503, 503)
    for body in (page.get_data(as_text=True), api.get_data(as_text=True)):
        assert folder not in body
        assert "instance/keys" not in body
        assert ".pem" not in body
        assert "AGRITRACE_KEY_PASSPHRASE" in body
