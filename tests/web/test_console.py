"""The inspector's console and administration: audit, proofs, recall, suspensions, exports,
dashboard, users and key rotation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from agritrace.db import utcnow
from agritrace.ledger.audit import PROBLEMS
from agritrace.trace import access
from agritrace.web import i18n
from agritrace.web.inspect import AUDIT_THREADS
from tests.web.conftest import page_text
from tests.web.people import FACILITY_B, People, build_people


@pytest.fixture(scope="module")
def people(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    with build_people(backend, tmp_path_factory.mktemp(f"console-{backend}")) as built:
        yield built


@pytest.fixture
def inspector(people: People) -> FlaskClient:
    return people.clients["inspector"]


def _post(people: People, who: str, path: str, /, **form: str) -> Any:
    return people.clients[who].post(path, data={"csrf": people.csrf[who], **form})


def _finish_audits(people: People) -> None:
    for thread in people.site.app.extensions.get(AUDIT_THREADS, {}).values():
        thread.join(timeout=30)


def test_an_audit_runs_in_the_background_and_reports_intact(
    people: People, inspector: FlaskClient
) -> None:
    started = _post(people, "inspector", "/inspect/audit")
    location = started.headers["Location"]
    running = inspector.get(location).get_data(as_text=True)
    assert "Audit" in running or "Kiểm toán" in running
    _finish_audits(people)
    done = inspector.get(location + "?lang=en").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in done
    assert "Intact" in done
    with people.site.app.extensions["agritrace"].sessions() as session:
        size = session.execute(text("SELECT size FROM ledger_head")).scalar_one()
    assert f"{size:,} entries and" in page_text(done)
    assert "signed checkpoints verified" in done
    in_vietnamese = page_text(inspector.get(location + "?lang=vi").data)
    assert "Nguyên vẹn" in in_vietnamese
    assert "điểm kiểm tra đã ký" in in_vietnamese
    home = page_text(inspector.get("/inspect/?lang=en").data)
    assert "Last audit" in home
    assert "Never audited" not in home


def test_an_audit_of_a_tampered_ledger_names_the_first_bad_entry(
    people: People, inspector: FlaskClient, backend: str
) -> None:
    engine = people.site.app.extensions["agritrace"].engine
    if backend == "sqlite":
        lift = ["DROP TRIGGER ledger_entry_no_update"]
        restore = [
            "CREATE TRIGGER ledger_entry_no_update BEFORE UPDATE ON ledger_entry "
            "BEGIN SELECT RAISE(ABORT, 'ledger_entry is append-only'); END"
        ]
    else:
        lift = ["ALTER TABLE ledger_entry DISABLE TRIGGER ledger_entry_append_only"]
        restore = ["ALTER TABLE ledger_entry ENABLE TRIGGER ledger_entry_append_only"]
    with engine.begin() as conn:
        original = conn.execute(text("SELECT content FROM ledger_entry WHERE idx = 2")).scalar()
        for statement in lift:
            conn.execute(text(statement))
        conn.execute(text("UPDATE ledger_entry SET content = :c WHERE idx = 2"), {"c": b"{}"})
    try:
        started = _post(people, "inspector", "/inspect/audit")
        _finish_audits(people)
        location = started.headers["Location"]
        page = inspector.get(location + "?lang=en").get_data(as_text=True)
        assert "NOT intact" in page
        assert "The content of entry #2 was altered" in page_text(page)
        assert "Technical detail" in page
        assert "ledger entry #2: content hashes to" in page
        in_vietnamese = page_text(inspector.get(location + "?lang=vi").data)
        assert "KHÔNG nguyên vẹn" in in_vietnamese
        assert "Nội dung của mục #2 đã bị sửa" in in_vietnamese
    finally:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE ledger_entry SET content = :c WHERE idx = 2"), {"c": original}
            )
            for statement in restore:
                conn.execute(text(statement))


def test_every_audit_finding_reads_in_both_languages() -> None:
    for slug in (*PROBLEMS, "error"):
        english, vietnamese = i18n.EN[f"audit.problem.{slug}"], i18n.VI[f"audit.problem.{slug}"]
        if slug != "error":
            assert "#{index}" in english
            assert "#{index}" in vietnamese
        assert english != vietnamese


def test_an_audit_that_could_not_run_says_so_without_internals(
    people: People, inspector: FlaskClient
) -> None:
    with people.site.app.extensions["agritrace"].sessions() as session:
        run = access.start_audit_run(session, by="lan", target_size=5, now=utcnow())
        access.finish_audit_run(
            session,
            run.id,
            intact=False,
            message="the audit could not run: OperationalError",
            first_bad_index=None,
            done=2,
            now=utcnow(),
            problem="error",
        )
    page = page_text(inspector.get(f"/inspect/audit/{run.id}?lang=vi").data)
    assert "Không chạy được kiểm toán" in page
    assert "OperationalError" not in page


def test_inclusion_proof_is_checked_step_by_step(people: People, inspector: FlaskClient) -> None:
    size = people.site.checkpoint_sizes[-1]
    page = inspector.get(f"/inspect/proof/inclusion?index=3&size={size}&lang=en")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Proof verified" in text
    assert "Leaf hash of entry #3" in text
    assert "Hashed with the sibling" in text


def test_consistency_of_two_checkpoints(people: People, inspector: FlaskClient) -> None:
    old, new = people.site.checkpoint_sizes[:2]
    page = inspector.get(f"/inspect/proof/consistency?old={old}&new={new}&lang=en")
    assert page.status_code == 200
    assert "Consistent" in page.get_data(as_text=True)
    missing = inspector.get(f"/inspect/proof/consistency?old={old}&new=999999")
    assert missing.status_code == 404


def test_entries_are_paginated(people: People, inspector: FlaskClient) -> None:
    page = inspector.get("/inspect/entries").get_data(as_text=True)
    assert 'href="/inspect/entries/0"' in page
    assert inspector.get("/inspect/entries?before=abc").status_code == 422


def test_recall_needs_a_reason_and_cascades(people: People, inspector: FlaskClient) -> None:
    ref = people.fresh_lot()
    empty = _post(people, "inspector", f"/inspect/lots/{ref}/recall", reason=" ")
    assert empty.status_code == 422
    done = _post(people, "inspector", f"/inspect/lots/{ref}/recall", reason="Listeria")
    assert done.status_code == 303
    page = inspector.get(f"/inspect/lots/{ref}?lang=en").get_data(as_text=True)
    assert "Recalled" in page
    again = _post(people, "inspector", f"/inspect/lots/{ref}/recall", reason="twice")
    assert again.status_code == 409


def test_suspending_a_facility_shows_its_reason(people: People, inspector: FlaskClient) -> None:
    code = people.fresh_lot(people.unique("SUS-")).split("/")[0]
    done = _post(people, "inspector", f"/inspect/facilities/{code}/suspend", reason="audit failed")
    assert done.status_code == 303
    assert "audit failed" in inspector.get(f"/inspect/facilities/{code}").get_data(as_text=True)


def test_certificates_show_their_validity(people: People, inspector: FlaskClient) -> None:
    page = inspector.get("/inspect/facilities?lang=en").get_data(as_text=True)
    assert f"VG-{FACILITY_B}" in page
    assert "Valid" in page


def test_exports_name_their_checkpoint_and_hash(people: People, inspector: FlaskClient) -> None:
    for kind, media in (
        ("epcis", "application/ld+json"),
        ("fsma", "text/csv"),
        ("bundle", "application/json"),
    ):
        response = inspector.get(f"/inspect/lots/{people.lot_a}/export.{kind}")
        assert response.status_code == 200, kind
        assert response.mimetype == media
        assert int(response.headers["X-Agritrace-Checkpoint-Size"]) > 0
        assert len(response.headers["X-Agritrace-SHA256"]) == 64
    assert inspector.get(f"/inspect/lots/{people.lot_a}/export.xml").status_code == 422
    ranged = inspector.get("/inspect/exports/fsma?from=2026-01-01&to=2026-12-31")
    assert ranged.data.startswith(b"Traceability Lot Code")


def test_dashboard_draws_charts_without_script(people: People, inspector: FlaskClient) -> None:
    page = inspector.get("/inspect/dashboard?days=7")
    text = page.get_data(as_text=True)
    assert text.count("<svg") == 2
    assert "<script" not in text
    assert "style=" not in text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_admin_adds_a_user_and_an_inspector_cannot(people: People) -> None:
    form = {
        "username": "newbie",
        "password": "a-long-password",
        "role": "operator",
        "facility": FACILITY_B,
    }
    assert _post(people, "admin", "/admin/users", **form).status_code == 303
    assert _post(people, "inspector", "/admin/users", **form).status_code == 403
    bad = _post(people, "admin", "/admin/users", username="x", password="short", role="operator")
    assert bad.status_code == 422


def test_admin_cannot_demote_itself(people: People) -> None:
    response = _post(
        people, "admin", f"/admin/users/{people.users['admin']}", role="inspector", active="1"
    )
    assert response.status_code == 409


def test_key_rotation_adds_a_key_and_stamps_keep_verifying(people: People) -> None:
    before = len(people.site.app.extensions["agritrace"].keys.infos())
    assert _post(people, "admin", "/admin/keys/rotate", purpose="stamp").status_code == 303
    ring = people.site.app.extensions["agritrace"].runtime.ring()
    assert len(ring.list()) == before + 1
    check = people.site.client().get(f"/api/v1/stamps/{people.site.genuine}")
    assert check.get_json()["verdict"] == "genuine"
