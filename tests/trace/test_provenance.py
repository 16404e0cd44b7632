"""Describing any ledger entry for a person (pure: no database): what it records, in order,
whatever its kind, and nothing invented for fields it lacks."""

from __future__ import annotations

from typing import Any

import pytest

from agritrace.trace.provenance import describe_entry


def test_an_event_is_its_step_time_facility_lot_and_display_details() -> None:
    described = describe_entry(
        9,
        {
            "type": "event",
            "step": "shipping",
            "facility": "HD-VAI-01",
            "facility_name": "HTX Vải thiều",
            "lots": ["HD-VAI-01/L1"],
            "eventTime": "2026-06-11T05:00:00+07:00",
            "display": {"quantity": "2000 kg", "to": "Kho lạnh", "temperature": "5 °C"},
        },
    )
    assert described.step.step == "shipping"
    assert described.step.time.isoformat() == "2026-06-11T05:00:00+07:00"
    assert (described.step.facility_code, described.step.facility_name) == (
        "HD-VAI-01",
        "HTX Vải thiều",
    )
    assert described.facts == (
        ("lot", "HD-VAI-01/L1"),
        ("quantity", "2000 kg"),
        ("to", "Kho lạnh"),
        ("temperature", "5 °C"),
    )
    assert described.corrects is None


@pytest.mark.parametrize(
    ("body", "facts"),
    [
        (
            {"type": "stamp-batch", "lot": "F/L", "first_serial": 101, "count": 60},
            (("lot", "F/L"), ("serials", "101–160"), ("stamps", "60")),
        ),
        (
            {
                "type": "certificate",
                "step": "certified",
                "scheme": "vietgap",
                "number": "VG-1",
                "valid_from": "2026-01-01",
                "valid_to": "2027-12-31",
            },
            (("certificate", "vietgap VG-1"), ("validity", "2026-01-01 – 2027-12-31")),
        ),
        (
            {"type": "recall", "lot": "F/L", "cascade": ["G/M"], "reason": "listeria"},
            (("lot", "F/L"), ("cascade", "G/M"), ("reason", "listeria")),
        ),
        (
            {"type": "lot", "lot": "F/L", "product": "VAI", "product_name": "Vải thiều"},
            (("lot", "F/L"), ("product", "Vải thiều")),
        ),
    ],
    ids=["stamp-batch", "certificate", "recall", "lot"],
)
def test_each_kind_names_its_own_facts(body: dict[str, Any], facts: tuple[Any, ...]) -> None:
    assert describe_entry(1, body).facts == facts


def test_a_correction_names_the_entry_it_corrects() -> None:
    described = describe_entry(12, {"type": "correction", "step": "cooling", "corrects": 7})
    assert described.corrects == 7
    assert described.step.step == "cooling"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"type": "note"},
        {"lots": "not a list", "lot": 5, "corrects": True, "cascade": "x", "count": "7"},
        {"lots": [1, 2], "first_serial": 5, "count": 0, "display": {"a": {"b": 1}}},
    ],
)
def test_odd_or_unknown_fields_are_left_out(body: dict[str, Any]) -> None:
    described = describe_entry(3, body)
    assert all(isinstance(text, str) for _, text in described.facts)
    assert described.corrects is None
    assert ("serials", "5–4") not in described.facts
