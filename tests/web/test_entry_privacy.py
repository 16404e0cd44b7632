"""What the public ledger reveals (docs/adr/0013-what-the-ledger-reveals.md).

The attack: anyone could read ``/ledger/entries/0..N`` and learn every facility's trading
partners, quantities, temperatures and notes. Now an anonymous reader of a shipment gets
salted commitments and a statement that the details are private; the facilities concerned,
inspectors and administrators get the values, verified against the commitments; proofs
verify as before, and a shared bundle's openings verify offline.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from agritrace.db import utcnow
from agritrace.keys import KeyPurpose, public_keys_from_jwks
from agritrace.ledger import merkle
from agritrace.ledger.bundle import BundleError, verify_bundle
from agritrace.ledger.checkpoint import Checkpoint, NoteVerifier, open_note
from agritrace.trace import events, issuance, journal, registry
from tests.web.conftest import PREFIX
from tests.web.people import FACILITY_A, FACILITY_B, People, build_people

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
BUYER = "HCM-MUA-09"
BUYER_NAME = "Công ty Thu mua Bí mật"
QUANTITY = "123.457"
TEMPERATURE = "3.71"
NOTE = "giá 42.000 đ/kg, khách hàng riêng"
SECRETS = (BUYER, BUYER_NAME, QUANTITY, TEMPERATURE, NOTE)


@dataclass(frozen=True)
class Shipments:
    people: People
    to_buyer: int
    """A's shipment to a third facility (neither operator B's nor anonymous's business)."""
    to_b: int
    """A's shipment to facility B (B is the trading partner)."""
    code: str
    """A stamp of the lot shipped to the buyer."""


@pytest.fixture(scope="module")
def shipped(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shipments]:
    with build_people(backend, tmp_path_factory.mktemp(f"privacy-{backend}")) as people:
        first, second = people.fresh_lot(), people.fresh_lot()
        when = utcnow() - dt.timedelta(hours=2)
        with people.site.sessions() as session:
            batch = issuance.issue_batch(session, lot_ref=first, count=2, key_id=0, prefix=PREFIX)
            registry.add_facility(
                session, code=BUYER, name=BUYER_NAME, province="Hồ Chí Minh", address="x"
            )
            to_buyer, to_b = events.record_events(
                session,
                [
                    events.EventSpec(
                        step="shipping",
                        lot_ref=first,
                        facility_code=FACILITY_A,
                        event_time=when,
                        quantity=QUANTITY,
                        destination=BUYER,
                        temperature_c=TEMPERATURE,
                        note=NOTE,
                    ),
                    events.EventSpec(
                        step="shipping",
                        lot_ref=second,
                        facility_code=FACILITY_A,
                        event_time=when,
                        quantity="7",
                        destination=FACILITY_B,
                    ),
                ],
            )
            journal.sign_checkpoint(
                session,
                origin=people.site.settings.origin,
                ring=people.site.ring,
                publish_to=people.site.settings.checkpoints_dir,
            )
        code = people.site.code(batch.first_serial)
        yield Shipments(people, to_buyer.ledger_index, to_b.ledger_index, code)


def _json(client: FlaskClient, index: int) -> dict[str, object]:
    response = client.get(f"/ledger/entries/{index}?format=json")
    assert response.status_code == 200
    body: dict[str, object] = response.get_json()
    return body


def _page(client: FlaskClient, index: int) -> str:
    response = client.get(f"/ledger/entries/{index}?lang=en", headers=BROWSER)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _verifiers(client: FlaskClient, origin: str) -> list[NoteVerifier]:
    jwks = client.get("/.well-known/agritrace/keys.json").get_json()
    keys = public_keys_from_jwks(jwks, KeyPurpose.CHECKPOINT)
    return [NoteVerifier.from_public_key(origin, key) for key in keys.values()]


def test_anonymous_reader_of_a_shipment_sees_no_partner_quantity_temperature_or_note(
    shipped: Shipments,
) -> None:
    client = shipped.people.clients["anonymous"]
    body = _json(client, shipped.to_buyer)
    answer = json.dumps(body, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in answer
    entry = json.loads(str(body["entry"]))
    assert entry["type"] == "event"
    assert entry["step"] == "shipping"
    assert entry["facility"] == FACILITY_A  # who recorded it stays public
    private = body["private"]
    assert isinstance(private, dict)
    assert "display.to" in private["fields"]
    assert "epcis.quantityList" in private["fields"]
    assert private["openings"] is None
    assert private["verified"] is False
    assert "private" in str(private["statement"])
    page = _page(client, shipped.to_buyer)
    for secret in SECRETS:
        assert secret not in page
    assert 'id="private-statement"' in page
    assert "are private" in page


def test_the_sealed_entry_is_still_proven_by_the_signed_checkpoint(shipped: Shipments) -> None:
    client = shipped.people.clients["anonymous"]
    body = _json(client, shipped.to_buyer)
    proof = body["proof"]
    assert isinstance(proof, dict)
    origin = shipped.people.site.settings.origin
    note_body, _ = open_note(
        str(proof["checkpoint"]).encode(), verifiers=_verifiers(client, origin)
    )
    checkpoint = Checkpoint.from_body(note_body)
    merkle.verify_inclusion(
        leaf_hash=merkle.leaf_hash(str(body["entry"]).encode()),
        index=shipped.to_buyer,
        size=checkpoint.size,
        proof=[base64.b64decode(h) for h in proof["inclusion_proof"]],
        root=checkpoint.root_hash,
    )


@pytest.mark.parametrize("role", ["operator_a", "inspector", "admin"])
def test_authorised_readers_see_the_values_verified_against_the_commitments(
    shipped: Shipments, role: str
) -> None:
    client = shipped.people.clients[role]
    response = client.get(f"/ledger/entries/{shipped.to_buyer}?format=json")
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["private"]["verified"] is True
    opened = {o["field"]: o["value"] for o in body["private"]["openings"]}
    assert opened["display.to"] == BUYER_NAME
    assert opened["display.note"] == NOTE
    assert opened["epcis.quantityList"][0]["quantity"] == QUANTITY
    page = _page(client, shipped.to_buyer)
    assert 'id="private-verified"' in page
    assert "Verified against the commitment" in page
    for secret in (BUYER_NAME, QUANTITY, TEMPERATURE, NOTE):
        assert secret in page


def test_the_trading_partner_sees_its_own_shipment_but_not_anothers(shipped: Shipments) -> None:
    client = shipped.people.clients["operator_b"]
    own = _json(client, shipped.to_b)["private"]
    assert isinstance(own, dict)
    assert own["verified"] is True
    other = _json(client, shipped.to_buyer)
    assert isinstance(other["private"], dict)
    assert other["private"]["openings"] is None
    assert BUYER_NAME not in json.dumps(other, ensure_ascii=False)


def test_a_plain_entry_answers_as_before(shipped: Shipments) -> None:
    client = shipped.people.clients["anonymous"]
    index = shipped.people.site.journey_indices[0]  # an entry written before sealing existed
    assert "private" not in _json(client, index)


def test_a_shared_bundle_carries_openings_that_verify_offline(shipped: Shipments) -> None:
    client = shipped.people.clients["operator_a"]
    response = client.get(f"/ledger/entries/{shipped.to_buyer}/bundle?reveal=1")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    document = json.loads(response.data)
    verifiers = _verifiers(client, shipped.people.site.settings.origin)
    verify_bundle(document, verifiers=verifiers)
    assert {o["field"] for o in document["openings"]} >= {"display.to", "epcis.quantityList"}
    tampered = copy.deepcopy(document)
    [to] = [o for o in tampered["openings"] if o["field"] == "display.to"]
    to["value"] = "Someone else"
    with pytest.raises(BundleError, match="does not match its commitment"):
        verify_bundle(tampered, verifiers=verifiers)


def test_an_unshared_bundle_has_no_openings(shipped: Shipments) -> None:
    client = shipped.people.clients["operator_a"]
    document = json.loads(client.get(f"/ledger/entries/{shipped.to_buyer}/bundle").data)
    assert "openings" not in document
    assert BUYER_NAME not in json.dumps(document, ensure_ascii=False)


@pytest.mark.parametrize(("role", "status"), [("anonymous", 401), ("operator_b", 403)])
def test_only_those_allowed_may_download_the_openings(
    shipped: Shipments, role: str, status: int
) -> None:
    client = shipped.people.clients[role]
    response = client.get(f"/ledger/entries/{shipped.to_buyer}/bundle?reveal=1")
    assert response.status_code == status
    assert BUYER_NAME not in response.get_data(as_text=True)


def test_a_bad_reveal_parameter_is_a_422(shipped: Shipments) -> None:
    client = shipped.people.clients["operator_a"]
    response = client.get(f"/ledger/entries/{shipped.to_buyer}/bundle?reveal=yes")
    assert response.status_code == 422


def test_the_inspector_console_shows_the_verified_private_fields(shipped: Shipments) -> None:
    client = shipped.people.clients["inspector"]
    page = client.get(f"/inspect/entries/{shipped.to_buyer}?lang=en").get_data(as_text=True)
    assert 'id="private-verified"' in page
    assert BUYER_NAME in page


def test_the_scan_page_and_stamp_api_show_the_step_but_not_its_private_details(
    shipped: Shipments,
) -> None:
    client = shipped.people.clients["anonymous"]
    answer = client.get(f"/api/v1/stamps/{shipped.code}")
    assert answer.status_code == 200
    steps = {step["ledger_index"]: step for step in answer.get_json()["journey"]}
    shipping = steps[shipped.to_buyer]
    assert (shipping["step"], shipping["facility"]) == ("shipping", FACILITY_A)
    assert shipping["details"] == {}
    page = client.get(f"/S/{shipped.code}?lang=en").get_data(as_text=True)
    for text in (answer.get_data(as_text=True), page):
        for secret in SECRETS:
            assert secret not in text
