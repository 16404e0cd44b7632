"""Input caps at the edge: whatever a client sends, the answer is a 4xx, never a 5xx. The
review got 500s from deeply nested JSON, integers beyond 64 bits (cursors, ids in paths and
forms), ``1e999999`` and NaN quantities, wrongly shaped EPCIS capture documents, and found
non-ASCII digits (Arabic-Indic, full-width, superscript) accepted as numbers.

Fixed cases pin each finding; hypothesis then throws generated junk at the same doors.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.web.people import FACILITY_A, People, build_people

BIG = "9" * 30  # far beyond 64 bits
TWO_63 = str(2**63)
ODD_DIGITS = ["٣", "۳", "３", "²", "¹²", "߃", "1_000", "①"]
QUANTITIES = ["1e999999", "-1e999999", "NaN", "nan", "Infinity", "-inf", "sNaN", "1e-999999",
              "٣", "３", "1_0", "0x10", "1" * 60]  # fmt: skip


@pytest.fixture(scope="module")
def people(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    with build_people(backend, tmp_path_factory.mktemp(f"edge-{backend}")) as built:
        yield built


def _client(people: People, role: str) -> FlaskClient:
    return people.clients[role]


def _is_4xx(response: Any) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.data[:300])


# -- paths and queries ---------------------------------------------------------------------

PATHS = [
    ("anonymous", f"/ledger/entries/{BIG}"),
    ("anonymous", f"/ledger/entries/{TWO_63}"),
    ("anonymous", f"/ledger/entries/{BIG}/bundle"),
    ("anonymous", f"/ledger/proof/inclusion?index={BIG}&size={BIG}"),
    ("anonymous", f"/ledger/proof/consistency?old=1&new={BIG}"),
    ("inspector", f"/inspect/entries/{BIG}"),
    ("inspector", f"/inspect/entries/{TWO_63}"),
    ("inspector", f"/inspect/audit/{BIG}"),
    ("inspector", f"/inspect/entries?before={BIG}"),
    ("inspector", f"/inspect/proof/inclusion?index={BIG}&size=1"),
    ("inspector", f"/inspect/lots?after={BIG}"),
    ("inspector", f"/inspect/dashboard?days={BIG}"),
    ("admin", f"/admin/tokens?before={BIG}"),
    ("operator_a", f"/portal/batches/{BIG}/stamps.pdf"),
    ("operator_a", f"/portal/batches/{TWO_63}/stamps.csv"),
    ("operator_a", f"/portal/lots/{BIG}"),
]
API_PATHS = [
    f"/api/v1/batches/{BIG}",
    f"/api/v1/batches/{TWO_63}",
    f"/api/v1/batches/{BIG}/stamps.csv",
    f"/api/v1/lots?limit={BIG}",
    f"/api/v1/lots?cursor={base64.urlsafe_b64encode(BIG.encode()).decode()}",
    f"/api/v1/lots?cursor={base64.urlsafe_b64encode(TWO_63.encode()).decode()}",
    f"/api/v1/events?cursor={base64.urlsafe_b64encode(b'-5').decode()}",
    f"/api/v1/lots/{FACILITY_A}/{BIG}",
]


@pytest.mark.parametrize(("role", "path"), PATHS)
def test_huge_numbers_in_paths_and_queries_are_4xx(people: People, role: str, path: str) -> None:
    _is_4xx(_client(people, role).get(path))


@pytest.mark.parametrize("path", API_PATHS)
def test_huge_numbers_in_api_paths_are_4xx(people: People, path: str) -> None:
    _is_4xx(people.site.client().get(path, headers=people.headers("admin")))


@pytest.mark.parametrize("digit", ODD_DIGITS)
def test_digits_of_other_scripts_are_not_numbers(people: People, digit: str) -> None:
    inspector = _client(people, "inspector")
    for path in (
        f"/ledger/entries/{digit}",
        f"/inspect/entries/{digit}",
        f"/inspect/entries?before={digit}",
        f"/inspect/dashboard?days={digit}",
        f"/ledger/proof/inclusion?index={digit}&size=2",
    ):
        response = inspector.get(path)
        assert response.status_code in {400, 404, 422}, (path, response.status_code)
    api = people.site.client().get(f"/api/v1/lots?limit={digit}", headers=people.headers("admin"))
    _is_4xx(api)
    admin = _client(people, "admin").get(f"/admin/tokens?before={digit}")
    _is_4xx(admin)


# -- JSON bodies -----------------------------------------------------------------------------


def _post_json(people: People, path: str, body: bytes, role: str = "operator_a") -> Any:
    headers = people.headers(role) | {"Content-Type": "application/json"}
    return people.site.client().post(path, data=body, headers=headers)


@pytest.mark.parametrize("depth", [200, 1_000, 5_000])
def test_deeply_nested_json_is_400(people: People, depth: int) -> None:
    for opening, closing in (("[", "]"), ('{"a":', "}")):
        body = (opening * depth + "1" + closing * depth).encode()
        for path in ("/api/v1/batches", "/api/v1/events", "/api/v1/lots", "/api/v1/recalls"):
            role = "inspector" if path.endswith("recalls") else "operator_a"
            _is_4xx(_post_json(people, path, body, role))


@pytest.mark.parametrize("depth", [1_000, 5_000])
def test_deeply_nested_capture_documents_are_4xx(people: People, depth: int) -> None:
    body = ('{"epcisBody":' * depth + "1" + "}" * depth).encode()
    for role in ("operator_a", "admin"):
        _is_4xx(_post_json(people, "/api/v1/events/capture", body, role))


@pytest.mark.parametrize("count", [BIG, TWO_63, "1e999999", "NaN", "٣", "３"])
def test_batch_counts_beyond_reason_are_4xx(people: People, count: str) -> None:
    for body in (
        f'{{"lot": "{people.lot_a}", "count": {json.dumps(count)}}}',
        f'{{"lot": "{people.lot_a}", "count": {count}}}' if count.isascii() else "{}",
    ):
        _is_4xx(_post_json(people, "/api/v1/batches", body.encode()))


@pytest.mark.parametrize("quantity", QUANTITIES)
def test_quantities_that_are_not_finite_decimals_are_4xx(people: People, quantity: str) -> None:
    body = {
        "step": "cooling",
        "lot": people.lot_a,
        "event_time": "2026-11-01T08:00:00+07:00",
        "quantity": quantity,
        "unit": "kg",
        "temperature": quantity,
    }
    _is_4xx(_post_json(people, "/api/v1/events", json.dumps(body).encode()))
    raw = json.dumps(body).replace(json.dumps(quantity), quantity) if quantity.isascii() else "{}"
    _is_4xx(_post_json(people, "/api/v1/events", raw.encode()))


CAPTURE_SHAPES: list[Any] = [
    [],
    "text",
    {"type": "EPCISDocument", "schemaVersion": "2.0", "epcisBody": []},
    {"type": "EPCISDocument", "schemaVersion": "2.0", "epcisBody": {"eventList": {}}},
    {"type": "EPCISDocument", "schemaVersion": "2.0", "epcisBody": {"eventList": [1, "x"]}},
    {"type": "EPCISDocument", "schemaVersion": "2.0", "epcisBody": {"eventList": [[]]}},
    {"type": "EPCISDocument", "schemaVersion": "2.0", "epcisBody": {"eventList": [{}]}},
    {"type": "EPCISDocument", "schemaVersion": 2.0, "epcisHeader": [], "epcisBody": None},
    {"type": "EPCISDocument", "schemaVersion": "2.0", "epcisHeader": {"epcisMasterData": []},
     "epcisBody": {"eventList": []}},
    {"type": "EPCISDocument", "schemaVersion": "2.0", "epcisHeader": "x",
     "epcisBody": {"eventList": []}},
    {"type": "EPCISDocument", "schemaVersion": "2.0",
     "epcisHeader": {"epcisMasterData": {"vocabularyList": [1, {"vocabularyElementList": 5}]}},
     "epcisBody": {"eventList": []}},
]  # fmt: skip


def _event(people: People, **changes: Any) -> dict[str, Any]:
    document = json.loads(people.capture_document(people.lot_a))
    event = document["epcisBody"]["eventList"][0]
    event.update(changes)
    return dict(document)


def _event_shapes(people: People) -> list[dict[str, Any]]:
    return [
        _event(people, quantityList="x"),
        _event(people, quantityList=[1]),
        _event(people, quantityList=[{"epcClass": 5, "quantity": "x"}]),
        _event(people, quantityList=[{"epcClass": [], "quantity": 1e308, "uom": 5}]),
        _event(people, readPoint="x", bizLocation=[1]),
        _event(people, readPoint={"id": 5}, bizLocation={"id": []}),
        _event(people, eventTime=5),
        _event(people, eventTime="2026-13-45T99:00:00Z"),
        _event(people, eventTimeZoneOffset=[]),
        _event(people, bizStep=["x"], disposition={}),
        _event(people, ilmd="x"),
        _event(people, sensorElementList="x"),
        _event(people, sensorElementList=[{"sensorReport": "x"}]),
        _event(
            people, sensorElementList=[{"sensorReport": [{"type": "Temperature", "value": "NaN"}]}]
        ),
        _event(people, errorDeclaration="x"),
        _event(people, type=["ObjectEvent"]),
        _event(people, inputQuantityList=5, outputQuantityList={}),
    ]


def test_wrongly_shaped_capture_documents_are_4xx(people: People) -> None:
    for role in ("operator_a", "admin"):
        for document in [*CAPTURE_SHAPES, *_event_shapes(people)]:
            response = _post_json(
                people, "/api/v1/events/capture", json.dumps(document).encode(), role
            )
            _is_4xx(response)


# -- forms -----------------------------------------------------------------------------------


def _form(people: People, who: str, path: str, **fields: str) -> Any:
    client = _client(people, who)
    return client.post(path, data={"csrf": people.csrf[who], **fields})


@pytest.mark.parametrize("value", [BIG, TWO_63, "1e999999", "NaN", *ODD_DIGITS])
def test_numbers_in_forms_are_checked(people: People, value: str) -> None:
    code = people.lot_a.split("/")[1]
    _is_4xx(_form(people, "operator_a", f"/portal/lots/{code}/batches", count=value))
    _is_4xx(
        _form(
            people, "operator_a", "/portal/events/new",
            step="cooling", lot=people.lot_a, event_time="2026-11-01T08:00",
            quantity=value, unit="kg", temperature=value,
        )
    )  # fmt: skip
    _is_4xx(_form(people, "operator_a", f"/portal/events/{BIG}/correct", reason="x"))
    _is_4xx(_form(people, "operator_a", f"/account/tokens/{BIG}/revoke"))
    _is_4xx(_form(people, "admin", f"/admin/users/{BIG}", role="admin"))
    _is_4xx(_form(people, "admin", f"/admin/tokens/{BIG}/revoke", reason="x"))
    _is_4xx(_form(people, "inspector", f"/inspect/certificates/{BIG}/suspend", reason="x"))


# -- generated junk --------------------------------------------------------------------------

JUNK_NUMBERS = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.text(alphabet="0123456789٠١٢٣４５²¹_-+.eE", min_size=1, max_size=25),
    st.sampled_from(QUANTITIES),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(number=JUNK_NUMBERS)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_generated_numbers_never_make_a_5xx(people: People, number: str) -> None:
    inspector = _client(people, "inspector")
    for path in (f"/inspect/entries/{number}", f"/ledger/entries/{number}",
                 f"/inspect/entries?before={number}", f"/api/v1/lots?limit={number}"):  # fmt: skip
        assert inspector.get(path, headers=people.headers("inspector")).status_code < 500
    code = people.lot_a.split("/")[1]
    assert (
        _form(people, "operator_a", f"/portal/lots/{code}/batches", count=number).status_code < 500
    )


@given(body=JSON_VALUES)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_generated_json_bodies_never_make_a_5xx(people: People, body: Any) -> None:
    data = json.dumps(body).encode()
    for path in ("/api/v1/batches", "/api/v1/events", "/api/v1/lots"):
        assert _post_json(people, path, data).status_code < 500
    document = {"type": "EPCISDocument", "schemaVersion": "2.0", "epcisBody": {"eventList": [body]}}
    response = _post_json(people, "/api/v1/events/capture", json.dumps(document).encode(), "admin")
    assert response.status_code < 500
