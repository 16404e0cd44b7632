"""The facility portal: lots, stamp downloads, events with the rules' errors inline, scans."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from agritrace.ledger import store
from tests.web.conftest import tag_text
from tests.web.people import People, build_people


@pytest.fixture(scope="module")
def people(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    with build_people(backend, tmp_path_factory.mktemp(f"portal-{backend}")) as built:
        yield built


@pytest.fixture
def mai(people: People) -> FlaskClient:
    return people.clients["operator_a"]


def _post(people: People, path: str, /, **form: str) -> Any:
    return people.clients["operator_a"].post(path, data={"csrf": people.csrf["operator_a"], **form})


def _head_size(people: People) -> tuple[int, int]:
    with people.site.sessions() as session:
        latest = store.latest_checkpoint(session)
        assert latest is not None
        return store.head(session).size, latest.size


def test_the_portal_lists_only_the_facility_s_own_lots(people: People, mai: FlaskClient) -> None:
    page = mai.get("/portal/").get_data(as_text=True)
    assert "LA-1" in page
    assert "LB-1" not in page
    other = people.clients["operator_b"].get("/portal/").get_data(as_text=True)
    assert "LB-1" in other
    assert "LA-1" not in other


def test_creating_a_lot_writes_the_ledger_and_signs_a_checkpoint(people: People) -> None:
    response = _post(
        people,
        "/portal/lots/new",
        product="VAI",
        code="WEB-1",
        units="20",
        quantity="100",
        quantity_unit="kg",
        harvest_date="2026-06-10",
        origin_area="Thanh Hà",
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/portal/lots/WEB-1"
    size, signed = _head_size(people)
    assert size == signed


def test_a_broken_rule_is_shown_beside_the_form(people: People) -> None:
    response = _post(
        people,
        "/portal/lots/new?lang=en",
        product="VAI",
        code="BAD",
        units="0",
        quantity="100",
        quantity_unit="kg",
        harvest_date="2026-06-10",
        origin_area="x",
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "units must be greater than zero" in tag_text(text, "div")
    assert 'aria-invalid="true"' in text
    assert 'value="BAD"' in text  # what was typed is kept


def test_issuing_more_stamps_than_units_is_refused_inline(people: People) -> None:
    response = _post(people, "/portal/lots/LA-1/batches?lang=en", count="1000")
    assert response.status_code == 422
    assert "exceed" in response.get_data(as_text=True)


def test_a_batch_with_claim_codes_from_the_lot_form(people: People, mai: FlaskClient) -> None:
    response = _post(people, "/portal/lots/LA-1/batches", count="2", claim_codes="1")
    assert response.status_code == 303
    batch = response.headers["Location"].rsplit("issued=", 1)[1]
    assert "with claim codes" in mai.get("/portal/lots/LA-1?lang=en").get_data(as_text=True)
    lines = mai.get(f"/portal/batches/{batch}/stamps.csv").get_data(as_text=True).splitlines()
    assert lines[0] == "serial,url,claim_code"
    assert len(lines) == 3


def test_stamp_downloads(people: People, mai: FlaskClient) -> None:
    csv = mai.get(f"/portal/batches/{people.batch_a}/stamps.csv")
    assert csv.status_code == 200
    assert csv.headers["Content-Disposition"].startswith("attachment")
    lines = csv.get_data(as_text=True).splitlines()
    assert lines[0] == "serial,url"
    assert len(lines) == 4
    assert lines[1].split(",")[1].startswith("HTTPS://TRACE.EXAMPLE.VN/S/")
    pdf = mai.get(f"/portal/batches/{people.batch_a}/stamps.pdf")
    assert pdf.data.startswith(b"%PDF")
    archive = zipfile.ZipFile(
        io.BytesIO(mai.get(f"/portal/batches/{people.batch_a}/stamps.zip").data)
    )
    assert len(archive.namelist()) == 3


def test_recording_shipping_then_receiving_moves_the_lot(people: People) -> None:
    lot_ref = people.fresh_lot()
    code = lot_ref.split("/")[1]
    shipped = _post(
        people,
        "/portal/events/new",
        step="shipping",
        lot=code,
        time="2026-06-11T05:00",
        destination="HN-KHO-02",
        temperature="5",
    )
    assert shipped.status_code == 303
    b = people.clients["operator_b"]
    assert code in b.get("/portal/").get_data(as_text=True)  # incoming shipment
    again = _post(
        people, "/portal/events/new?lang=en", step="cooling", lot=code, time="2026-06-11T06:00"
    )
    assert again.status_code == 409
    assert "only the holder records" in again.get_data(as_text=True)
    received = b.post(
        "/portal/events/new",
        data={
            "csrf": people.csrf["operator_b"],
            "step": "receiving",
            "lot": lot_ref,
            "time": "2026-06-11T09:00",
        },
    )
    assert received.status_code == 303


def test_a_time_in_the_future_is_refused(people: People) -> None:
    response = _post(
        people,
        "/portal/events/new?lang=en",
        step="inspecting",
        lot="LA-1",
        time="2099-01-01T00:00",
    )
    assert response.status_code == 422
    assert "in the future" in response.get_data(as_text=True)


def test_processing_form_refuses_outputs_heavier_than_inputs(people: People) -> None:
    source = people.fresh_lot().split("/")[1]
    output = people.fresh_lot().split("/")[1]
    response = _post(
        people,
        "/portal/processing?lang=en",
        time="2026-06-12T09:00",
        inputs=f"{source}=10 kg",
        outputs=f"{output}=20 kg",
    )
    assert response.status_code == 422
    assert "exceed inputs" in response.get_data(as_text=True)
    done = _post(
        people,
        "/portal/processing",
        time="2026-06-12T09:00",
        inputs=f"{source}=10 kg",
        outputs=f"{output}=8 kg",
    )
    assert done.status_code == 303


def test_scans_page_shows_the_suspicious_stamp(people: People, mai: FlaskClient) -> None:
    page = mai.get("/portal/scans").get_data(as_text=True)
    serial = people.site.genuine_batch["first_serial"] + 1
    assert f"<td>{serial}</td>" in page
    assert "flag" in page
    assert f"<td>{serial}</td>" not in people.clients["operator_b"].get("/portal/scans").get_data(
        as_text=True
    )


def test_without_a_passphrase_the_portal_says_signing_is_unavailable(people: People) -> None:
    from dataclasses import replace

    from agritrace.web import create_app
    from tests.web.people import sign_in

    settings = replace(people.site.settings, key_passphrase=b"")
    engine = people.site.app.extensions["agritrace"].engine
    app = create_app(settings, engine=engine, rate_limits={})
    client = app.test_client()
    sign_in(client, "operator-a", "operator-a-password")
    from tests.web.people import csrf_of

    token = csrf_of(client, "/portal/lots/new")
    response = client.post("/portal/lots/LA-1/batches", data={"csrf": token, "count": "1"})
    assert response.status_code == 503
    assert "AGRITRACE_KEY_PASSPHRASE" in response.get_data(as_text=True)
    api = client.post(
        "/api/v1/batches",
        json={"lot": people.lot_a, "count": 1},
        headers=people.headers("operator_a"),
    )
    assert api.status_code == 503
    assert api.get_json()["type"].endswith("/problems/key-ring-unavailable")


@pytest.mark.parametrize(("lang", "once"), [("en", "scanned 1 time"), ("vi", "quét 1 lần")])
def test_a_stamp_scanned_once_is_not_scanned_1_times(
    people: People, mai: FlaskClient, lang: str, once: str
) -> None:
    people.site.client().get(f"/S/{people.site.fresh_code()}")
    page = tag_text(mai.get(f"/portal/lots/L2026-001?lang={lang}").data, "main")
    assert once in page
    assert "1 times" not in page
