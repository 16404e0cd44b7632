"""Attacks on the scan signals (issue 12), each as a client would run it against the site.

An attacker who holds only a stamp's code (one bought item, a photo of a shelf) must not be
able to turn a genuine stamp red: at most they add an informational note. Red needs strong
evidence: the stamp's claim code used by a second client, or a reviewer's decision. Every
test runs on SQLite and on PostgreSQL (the ``people`` site is built per backend).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from agritrace.db import utcnow
from agritrace.ledger import store
from agritrace.stamps import claims
from agritrace.stamps.codec import Stamp
from agritrace.trace import scan_signals
from agritrace.trace.models import StampBatch, StampScanState
from tests.web.conftest import SECRET_KEY, page_text, tag_text
from tests.web.people import People, build_people, csrf_of

GENUINE = "Chính hãng"
SUSPICIOUS = "Đáng ngờ"


@pytest.fixture(scope="module")
def people(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    with build_people(backend, tmp_path_factory.mktemp(f"attacks-{backend}")) as built:
        yield built


def _token(body: bytes) -> str:
    found = re.search(rb'name="token" value="([^"]+)"', body)
    assert found, "the scan page's forms carry a stamp-bound token"
    return found.group(1).decode("ascii")


def _serial(code: str) -> int:
    return Stamp.from_text(code).serial


def _state(people: People, code: str) -> StampScanState | None:
    with people.site.sessions() as session:
        return session.get(StampScanState, _serial(code))


def _claim_code(people: People, code: str) -> str:
    serial = _serial(code)
    with people.site.sessions() as session:
        batch = session.get(StampBatch, people.site.claim_batch["id"])
        assert batch is not None
        assert batch.claim_key is not None
        return claims.claim_code(bytes.fromhex(batch.claim_key), serial)


def _wrong(code: str) -> str:
    """Another well-formed claim code (right check digit, wrong secret)."""
    body = f"{(int(code[:-1]) + 1) % 10 ** (claims.CLAIM_DIGITS - 1):0{claims.CLAIM_DIGITS - 1}d}"
    return body + str(claims.check_digit(body))


def _claim(client: FlaskClient, code: str, claim: str, **extra: str) -> tuple[int, str]:
    token = _token(client.get(f"/S/{code}").data)
    response = client.post(
        f"/S/{code}", data={"token": token, "action": "claim", "claim": claim, **extra}
    )
    return response.status_code, page_text(response.data)


# -- one client, many requests --------------------------------------------------------------


def test_a_hundred_scans_from_one_client_count_once_and_stay_genuine(people: People) -> None:
    code = people.site.fresh_code()
    for _ in range(100):  # no cookie kept: every request looks like a new browser
        body = people.site.client(address="203.0.113.7").get(f"/S/{code}").data
    assert tag_text(body, "h1") == GENUINE
    found = _state(people, code)
    assert found is not None
    assert found.scan_count == 1


def test_many_distinct_clients_add_a_note_but_never_turn_the_stamp_red(people: People) -> None:
    code = people.site.fresh_code()
    for n in range(30):
        body = people.site.client(address=f"198.51.100.{n + 1}").get(f"/S/{code}").data
    assert tag_text(body, "h1") == GENUINE
    assert "30" in page_text(body)


def test_places_from_one_client_are_not_evidence(people: People) -> None:
    code = people.site.fresh_code()
    phone = people.site.client(address="203.0.113.9")
    token = _token(phone.get(f"/S/{code}").data)
    for lat, lon in (("21.0", "105.8"), ("10.8", "106.7"), ("16.0", "108.2")):
        response = phone.post(
            f"/S/{code}", data={"token": token, "action": "place", "lat": lat, "lon": lon}
        )
        assert response.status_code == 200
    assert tag_text(phone.get(f"/S/{code}").data, "h1") == GENUINE


def test_a_form_token_replayed_on_another_stamp_is_refused(people: People) -> None:
    first, second = people.site.fresh_code(), people.site.fresh_code()
    phone = people.site.client()
    token = _token(phone.get(f"/S/{first}").data)
    response = phone.post(
        f"/S/{second}", data={"token": token, "action": "place", "lat": "21", "lon": "105"}
    )
    assert response.status_code == 403
    assert _state(people, second) is None


def test_an_expired_form_token_is_refused(people: People) -> None:
    code = people.site.fresh_code()
    secret = scan_signals.scan_secret(SECRET_KEY)
    old = utcnow() - dt.timedelta(seconds=scan_signals.FORM_TOKEN_TTL_S + 60)
    token = scan_signals.form_token(secret, _serial(code), now=old)
    response = people.site.client().post(
        f"/S/{code}", data={"token": token, "action": "place", "lat": "21", "lon": "105"}
    )
    assert response.status_code == 403


def test_the_old_session_form_token_no_longer_posts_places(people: People) -> None:
    code = people.site.fresh_code()
    phone = people.site.client()
    phone.get(f"/S/{code}")
    session_token = csrf_of(phone)  # the session-wide form token, good for any form
    response = phone.post(f"/S/{code}", data={"csrf": session_token, "lat": "21", "lon": "105"})
    assert response.status_code == 403


# -- claim codes ----------------------------------------------------------------------------


def test_claim_codes_cannot_be_brute_forced(people: People) -> None:
    code = people.site.claim_code()
    right = _claim_code(people, code)
    wrong = _wrong(right)
    for n in range(claims.MAX_CLAIM_FAILURES):
        status, _ = _claim(people.site.client(address=f"192.0.2.{n + 1}"), code, wrong)
        assert status == 422
    status, _ = _claim(people.site.client(address="192.0.2.200"), code, right)
    assert status == 429
    found = _state(people, code)
    assert found is not None
    assert found.claimed_at is None


def test_a_typo_in_a_claim_code_is_caught_by_its_check_digit_without_costing_an_attempt(
    people: People,
) -> None:
    code = people.site.claim_code()
    right = _claim_code(people, code)
    typo = right[:3] + str((int(right[3]) + 1) % 10) + right[4:]
    for _ in range(claims.MAX_CLAIM_FAILURES + 2):
        status, _ = _claim(people.site.client(), code, typo)
        assert status == 422
    status, _ = _claim(people.site.client(), code, right)
    assert status == 200
    assert tag_text(people.site.client().get(f"/S/{code}").data, "h1") == GENUINE


@pytest.mark.parametrize(
    "garbage", ["", "abc", "1" * 5000, "١٢٣٤٥٦٧٨٩٠", "12345\x0067890", "<script>1</script>"]
)
def test_garbage_and_oversize_claim_input_is_a_friendly_422(people: People, garbage: str) -> None:
    code = people.site.claim_code()
    status, text = _claim(people.site.client(), code, garbage)
    assert status == 422
    assert "Traceback" not in text
    found = _state(people, code)
    assert found is None or not found.claim_failures


def test_a_second_claim_by_another_client_exposes_a_clone(people: People) -> None:
    code = people.site.claim_code()
    right = _claim_code(people, code)
    buyer = people.site.client(address="192.0.2.10")
    status, _ = _claim(buyer, code, right, province="Hà Nội")
    assert status == 200
    later = page_text(people.site.client().get(f"/S/{code}").data)
    assert "Hà Nội" in later
    assert tag_text(buyer.get(f"/S/{code}").data, "h1") == GENUINE
    status, _ = _claim(buyer, code, right)  # the buyer again: not a clone
    assert status == 200
    status, _ = _claim(people.site.client(address="192.0.2.11"), code, right)
    assert status == 200
    assert tag_text(people.site.client().get(f"/S/{code}").data, "h1") == SUSPICIOUS


def test_one_client_with_only_the_code_cannot_turn_a_claim_stamp_red(people: People) -> None:
    code = people.site.claim_code()
    attacker = people.site.client(address="203.0.113.66")
    for _ in range(30):
        attacker.get(f"/S/{code}")
    token = _token(attacker.get(f"/S/{code}").data)
    for lat, lon in (("21.0", "105.8"), ("10.8", "106.7")):
        attacker.post(
            f"/S/{code}", data={"token": token, "action": "place", "lat": lat, "lon": lon}
        )
    wrong = _wrong(_claim_code(people, code))
    for _ in range(claims.MAX_CLAIM_FAILURES + 3):
        _claim(attacker, code, wrong)
    assert tag_text(people.site.client().get(f"/S/{code}").data, "h1") == GENUINE


# -- review ---------------------------------------------------------------------------------


def _clone(people: People) -> str:
    code = people.site.claim_code()
    right = _claim_code(people, code)
    _claim(people.site.client(address="192.0.2.20"), code, right)
    _claim(people.site.client(address="192.0.2.21"), code, right)
    return code


def test_another_facilitys_operator_cannot_review_your_stamp(people: People) -> None:
    code = _clone(people)
    client = people.clients["operator_b"]
    response = client.post(
        f"/portal/scans/{_serial(code)}/review",
        data={"csrf": people.csrf["operator_b"], "decision": "cleared", "reason": "mine"},
    )
    assert response.status_code in (403, 404)
    assert tag_text(people.site.client().get(f"/S/{code}").data, "h1") == SUSPICIOUS
    found = _state(people, code)
    assert found is not None
    assert found.review is None


def test_the_owner_clears_a_flag_with_a_reason_in_the_ledger(people: People) -> None:
    code = _clone(people)
    client = people.clients["operator_a"]
    assert str(_serial(code)) in client.get("/portal/scans").get_data(as_text=True)
    response = client.post(
        f"/portal/scans/{_serial(code)}/review",
        data={"csrf": people.csrf["operator_a"], "decision": "cleared", "reason": "same buyer"},
    )
    assert response.status_code == 303
    assert tag_text(people.site.client().get(f"/S/{code}").data, "h1") == GENUINE
    found = _state(people, code)
    assert found is not None
    assert found.review == "cleared"
    assert found.review_ledger_index is not None
    with people.site.sessions() as session:  # a checkpoint was signed after the entry
        latest = store.latest_checkpoint(session)
        assert latest is not None
        assert latest.size == store.head(session).size > found.review_ledger_index
    entry = people.site.client().get(f"/ledger/entries/{found.review_ledger_index}").get_json()
    assert "same buyer" in str(entry)


def test_an_inspector_confirms_a_flag_and_the_reason_is_shown(people: People) -> None:
    code = people.site.fresh_code()
    client = people.clients["inspector"]
    response = client.post(
        f"/inspect/stamps/{_serial(code)}/review",
        data={"csrf": people.csrf["inspector"], "decision": "confirmed", "reason": "copies seen"},
    )
    assert response.status_code == 303
    body = people.site.client().get(f"/S/{code}").data
    assert tag_text(body, "h1") == SUSPICIOUS
    assert "copies seen" in page_text(body)
    json_check = people.site.client().get(f"/api/v1/stamps/{code}").get_json()
    assert json_check["verdict"] == "suspicious"
    assert json_check["review"]["decision"] == "confirmed"
    listed = client.get("/inspect/stamps").get_data(as_text=True)
    assert f"<td>{_serial(code)}</td>" in listed
    assert "copies seen" in listed
