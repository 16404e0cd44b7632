"""``ledger verify --rules``'s replay: a ledger the services built keeps every rule; an entry
appended behind the services' back that breaks one is named, with its rule, at its index."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from agritrace.ledger import store
from agritrace.ledger.store import NewEntry
from agritrace.trace import disclosure, events, invariants, issuance, recalls, registry
from agritrace.trace.invariants import Rule, RuleBrokenError, entry_field
from agritrace.trace.rule_audit import check_rules
from tests.trace.chain import NOW, at, three_stages

PREFIX = "HTTPS://TRACE.EXAMPLE.VN/S/"
L1, D1 = "HD-VAI-01/L1", "HN-PACK-02/D1"


def _body(session: Session, index: int) -> dict[str, Any]:
    """The entry as recorded, private fields restored (sealed entries are copied in full)."""
    return disclosure.revealed_entry(session, index)


def _first(session: Session, **wanted: str) -> tuple[int, dict[str, Any]]:
    """The first stored entry whose body has every ``wanted`` field."""
    for index in range(store.head(session).size):
        body = _body(session, index)
        if all(body.get(k) == v for k, v in wanted.items()):
            return index, body
    raise AssertionError(f"no entry with {wanted}")


def _append(session: Session, body: dict[str, Any]) -> int:
    """Append ``body`` directly, as someone with database access could."""
    [appended] = store.append(session, [NewEntry(body=body)])
    session.commit()
    assert appended.new
    return appended.index


def _copy(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The entry again, made distinct (the ledger stores a content once)."""
    return body | {"eventTime": "2026-06-20T08:00:00+07:00", "replayed": True} | changes


def _broken(session: Session, index: int, rule: Rule, subject: str) -> None:
    with pytest.raises(RuleBrokenError) as broken:
        check_rules(session)
    assert (broken.value.index, broken.value.rule, broken.value.subject) == (
        index,
        rule.value,
        subject,
    )
    assert f"entry #{index}" in str(broken.value)


@pytest.fixture
def built(session: Session) -> Session:
    """A real supply chain, stamps and a correction, all through the services."""
    three_stages(session)
    issuance.issue_batch(session, lot_ref=D1, count=500, key_id=0, prefix=PREFIX, now=NOW)
    issuance.issue_batch(session, lot_ref=D1, count=300, key_id=0, prefix=PREFIX, now=NOW)
    registry.certify(
        session,
        facility_code="HN-SHOP-03",
        scheme="globalgap",
        number="GG-1",
        issuer="x",
        valid_from="2026-01-01",
        valid_to="2027-12-31",
        scope="x",
        now=NOW,
    )
    return session


def test_a_ledger_built_by_the_services_keeps_every_rule(built: Session) -> None:
    check_rules(built)


def test_a_corrected_shipment_moves_no_custody_in_the_replay(session: Session) -> None:
    three_stages(session)
    registry.create_lot(
        session,
        facility_code="HD-VAI-01",
        product_code="VAI",
        code="L2",
        units=10,
        quantity="50",
        quantity_unit="kg",
        harvest_date="2026-06-10",
        origin_area="Thanh Hà",
        now=NOW,
    )
    kwargs: dict[str, Any] = {"lot_ref": "HD-VAI-01/L2", "facility_code": "HD-VAI-01", "now": NOW}
    wrong = events.record_event(
        session, step="shipping", event_time=at(11), destination="HN-SHOP-03", **kwargs
    )
    events.correct_event(
        session, ledger_index=wrong.ledger_index, facility_code="HD-VAI-01", reason="x", now=NOW
    )
    events.record_event(
        session, step="shipping", event_time=at(12), destination="HN-PACK-02", **kwargs
    )
    check_rules(session)


def test_over_issuance_is_named_at_its_entry(built: Session) -> None:
    _, batch = _first(built, type="stamp-batch")
    index = _append(built, batch | {"count": 1, "first_serial": 900_000})
    _broken(built, index, Rule.STAMPS_WITHIN_UNITS, D1)


def test_over_consumption_is_named_at_its_entry(built: Session) -> None:
    _, processing = _first(built, type="event", step="processing")
    index = _append(built, _copy(processing))
    _broken(built, index, Rule.MASS_BALANCE, L1)


def test_a_sealed_entry_without_its_openings_is_named(built: Session) -> None:
    index, _ = _first(built, type="event", step="processing")
    sealed = json.loads(store.get_entry(built, index).content)
    assert "private" in sealed  # events are written sealed
    copied = _append(built, sealed | {"eventTime": "2026-06-20T08:00:00+07:00"})
    _broken(built, copied, Rule.PRIVATE_FIELDS_OPENED, "HN-PACK-02")


def test_shipping_by_a_facility_that_does_not_hold_the_lot_is_named(built: Session) -> None:
    _, shipped = _first(built, type="event", step="shipping", facility="HD-VAI-01")
    index = _append(built, _copy(shipped))  # the packer received it: the farm holds nothing
    _broken(built, index, Rule.CUSTODY, L1)


def test_an_event_after_a_recall_is_named(built: Session) -> None:
    _, packing = _first(built, type="event", step="packing")
    recalls.recall_lot(
        built, lot_ref=L1, reason="residue", signer=(0, Ed25519PrivateKey.generate()), now=NOW
    )
    index = _append(built, _copy(packing))  # D1 was made from L1: recalled with it
    _broken(built, index, Rule.RECALLED_LOT, D1)


def test_an_event_by_a_suspended_facility_is_named(built: Session) -> None:
    _, packing = _first(built, type="event", step="packing")
    registry.suspend_facility(built, "HN-PACK-02", reason="audit", now=NOW)
    index = _append(built, _copy(packing))
    _broken(built, index, Rule.SUSPENDED_FACILITY, "HN-PACK-02")


def test_stamps_for_a_lot_never_registered_are_named(built: Session) -> None:
    _, batch = _first(built, type="stamp-batch")
    index = _append(built, batch | {"lot": "HN-PACK-02/NOPE"})
    _broken(built, index, Rule.KNOWN_RECORDS, "HN-PACK-02/NOPE")


def test_the_first_broken_entry_is_the_one_named(built: Session) -> None:
    _, batch = _first(built, type="stamp-batch")
    first = _append(built, batch | {"count": 1, "first_serial": 900_000})
    _append(built, batch | {"count": 1, "first_serial": 900_001})
    _broken(built, first, Rule.STAMPS_WITHIN_UNITS, D1)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("lots", 0), "A/B"),
        (("lots", 5), None),
        (("epcis", "destinationList", 0, "destination"), "urn:x"),
        (("epcis", "missing"), None),
        (("lots", "x"), None),
    ],
)
def test_entry_field_reads_keys_and_positions(path: tuple[str | int, ...], expected: Any) -> None:
    entry = {"lots": ["A/B"], "epcis": {"destinationList": [{"destination": "urn:x"}]}}
    assert entry_field(entry, *path) == expected


_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_keys = st.sampled_from(
    ["type", "lot", "lots", "facility", "step", "count", "units", "quantity", "corrects", "epcis"]
)
_entry = st.dictionaries(_keys, _json | st.sampled_from(["lot", "event", "stamp-batch", "A/B"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(_entry, max_size=12))
def test_any_json_entries_either_keep_the_rules_or_name_a_broken_one(
    bodies: list[dict[str, Any]],
) -> None:
    broken: RuleBrokenError | None = None
    try:
        invariants.replay(enumerate(bodies))
    except RuleBrokenError as exc:
        broken = exc
    assert broken is None or 0 <= broken.index < len(bodies)
