"""Service errors on pages speak the page's language: Vietnamese on a Vietnamese page, English
on an English one, on the portal's, the inspector's and the administrator's forms and on
error pages; the JSON API's problem documents stay English.

Each request names its language (``?lang=``) so that no test depends on a cookie another
test left in the shared browsers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.conftest import page_text, tag_text
from tests.web.people import FACILITY_A, People, build_people


@pytest.fixture(scope="module")
def people(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    with build_people(backend, tmp_path_factory.mktemp(f"errlang-{backend}")) as built:
        yield built


def _post(people: People, who: str, path: str, lang: str, /, **form: str) -> Any:
    client = people.clients[who]
    return client.post(f"{path}?lang={lang}", data={"csrf": people.csrf[who], **form})


def _alert(response: Any) -> str:
    """The text of the form's error box."""
    return tag_text(response.get_data(as_text=True), "div")


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("vi", "cấp 1000 tem sẽ vượt quá 100 đơn vị đã khai báo của lô HD-VAI-01/LA-1"),
        ("en", "issuing 1000 stamps would exceed lot HD-VAI-01/LA-1's 100 declared units"),
    ],
)
def test_portal_stamp_form_error_is_in_the_page_language(
    people: People, lang: str, expected: str
) -> None:
    response = _post(people, "operator_a", "/portal/lots/LA-1/batches", lang, count="1000")
    assert response.status_code == 422
    assert f'<html lang="{lang}">' in response.get_data(as_text=True)
    assert expected in _alert(response)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("vi", "số đơn vị phải lớn hơn 0, không phải 0"), ("en", "units must be greater than zero")],
)
def test_portal_lot_form_names_the_field_in_the_page_language(
    people: People, lang: str, expected: str
) -> None:
    response = _post(
        people,
        "operator_a",
        "/portal/lots/new",
        lang,
        product="VAI",
        code="BAD-UNITS",
        units="0",
        quantity="100",
        quantity_unit="kg",
        harvest_date="2026-06-10",
        origin_area="x",
    )
    assert response.status_code == 422
    assert expected in _alert(response)
    field_error = re.search(
        r'<span class="field-error" id="e-units" lang="(\w+)">([^<]*)<',
        response.get_data(as_text=True),
    )
    assert field_error is not None
    assert field_error.group(1) == lang
    assert expected in field_error.group(2)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("vi", "thời gian sự kiện 2099-01-01T00:00:00+07:00 nằm trong tương lai"),
        ("en", "event time 2099-01-01T00:00:00+07:00 is in the future"),
    ],
)
def test_portal_event_form_rule_is_in_the_page_language(
    people: People, lang: str, expected: str
) -> None:
    response = _post(
        people,
        "operator_a",
        "/portal/events/new",
        lang,
        step="inspecting",
        lot="LA-1",
        time="2099-01-01T00:00",
    )
    assert response.status_code == 422
    assert expected in _alert(response)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("vi", "lô HD-VAI-01/L2026-002 đã bị thu hồi từ trước"),
        ("en", "lot HD-VAI-01/L2026-002 is already recalled"),
    ],
)
def test_inspector_recall_form_error_is_in_the_page_language(
    people: People, lang: str, expected: str
) -> None:
    response = _post(
        people,
        "inspector",
        f"/inspect/lots/{FACILITY_A}/L2026-002/recall",
        lang,
        reason="again",
    )
    assert response.status_code == 409
    assert expected in _alert(response)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("vi", "lý do không được để trống"), ("en", "reason must not be empty")],
)
def test_inspector_suspension_without_reason_is_refused_in_the_page_language(
    people: People, lang: str, expected: str
) -> None:
    response = _post(
        people, "inspector", f"/inspect/facilities/{FACILITY_A}/suspend", lang, reason=" "
    )
    assert response.status_code == 422
    assert expected in _alert(response)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("vi", f"cơ sở {FACILITY_A} đã tồn tại"), ("en", f"facility {FACILITY_A} already exists")],
)
def test_admin_form_error_is_in_the_page_language(people: People, lang: str, expected: str) -> None:
    response = _post(
        people,
        "admin",
        "/admin/facilities",
        lang,
        code=FACILITY_A,
        name="Again",
        province="Hải Dương",
        address="Thanh Hà",
    )
    assert response.status_code == 409
    assert expected in _alert(response)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("vi", "mật khẩu phải có ít nhất 10 ký tự"),
        ("en", "password must be at least 10 characters"),
    ],
)
def test_admin_user_form_error_is_in_the_page_language(
    people: People, lang: str, expected: str
) -> None:
    response = _post(
        people, "admin", "/admin/users", lang, username="short", password="abc", role="inspector"
    )
    assert response.status_code == 422
    assert expected in _alert(response)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("vi", f"không có lô {FACILITY_A}/NOPE"), ("en", f"unknown lot {FACILITY_A}/NOPE")],
)
def test_error_pages_give_the_detail_in_the_page_language(
    people: People, lang: str, expected: str
) -> None:
    response = people.clients["inspector"].get(f"/inspect/lots/{FACILITY_A}/NOPE?lang={lang}")
    assert response.status_code == 404
    assert "text/html" in response.content_type
    assert expected in page_text(response.data)


def test_an_operator_refused_another_facility_reads_why_in_vietnamese(people: People) -> None:
    response = people.clients["operator_b"].get(
        f"/portal/batches/{people.batch_a}/stamps.csv?lang=vi"
    )
    assert response.status_code == 403
    assert f"cơ sở {FACILITY_A} không phải của bạn" in page_text(response.data)


def test_the_json_api_keeps_english_problem_details(people: People) -> None:
    response = people.clients["operator_a"].post(
        "/api/v1/batches?lang=vi",
        json={"lot": people.lot_a, "count": 1000},
        headers={**people.headers("operator_a"), "Accept-Language": "vi"},
    )
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert "would exceed" in response.get_json()["detail"]


def test_the_scan_page_place_form_answers_in_the_page_language(people: People) -> None:
    phone = people.site.client()
    code = people.site.fresh_code()
    page = phone.get(f"/S/{code}?lang=vi").get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', page)
    assert token is not None
    response = phone.post(
        f"/S/{code}?lang=vi",
        data={"token": token.group(1), "action": "place", "lat": "north", "lon": "105"},
    )
    assert response.status_code == 422
    text = page_text(response.get_data(as_text=True))
    assert "Dữ liệu nhập không hợp lệ." in text
    assert "vĩ độ phải là một số, ví dụ 21,0" in text
    response = phone.post(
        f"/S/{code}?lang=en",
        data={"token": token.group(1), "action": "place", "lat": "21", "lon": "200"},
    )
    assert response.status_code == 422
    assert "longitude between -180 and 180" in page_text(response.get_data(as_text=True))


def test_the_scan_page_claim_form_answers_in_the_page_language(people: People) -> None:
    phone = people.site.client()
    code = people.site.claim_code()
    page = phone.get(f"/S/{code}?lang=en").get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', page)
    assert token is not None
    data = {"token": token.group(1), "action": "claim", "claim": "12345"}
    response = phone.post(f"/S/{code}?lang=en", data=data)
    assert response.status_code == 422
    assert "this is not a claim code" in page_text(response.get_data(as_text=True))
    response = phone.post(f"/S/{code}?lang=vi", data=data)
    assert "đây không phải mã xác nhận" in page_text(response.get_data(as_text=True))
    stale = phone.post(f"/S/{people.site.fresh_code()}?lang=en", data=data)
    assert stale.status_code == 403
    assert "for another stamp or has expired" in page_text(stale.get_data(as_text=True))


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("vi", "không có điểm kiểm tra nào cho kích thước cây 987654"),
        ("en", "no checkpoint for tree size 987654"),
    ],
)
def test_inspector_proof_pages_say_what_is_missing_in_the_page_language(
    people: People, lang: str, expected: str
) -> None:
    response = people.clients["inspector"].get(
        f"/inspect/proof/inclusion?index=0&size=987654&lang={lang}"
    )
    assert response.status_code == 404
    assert expected in page_text(response.data)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("vi", "sổ cái không có mục #987654"), ("en", "no ledger entry #987654")],
)
def test_inspector_entry_page_says_what_is_missing_in_the_page_language(
    people: People, lang: str, expected: str
) -> None:
    response = people.clients["inspector"].get(f"/inspect/entries/987654?lang={lang}")
    assert response.status_code == 404
    assert expected in page_text(response.data)
