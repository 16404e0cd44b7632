"""Every signed-in page and API endpoint for every role: exactly the allowed roles succeed.

Roles: anonymous, the operator of facility A (``HD-VAI-01``), the operator of facility B
(``HN-KHO-02``), an inspector and an administrator. "Succeeds" means 2xx, or a redirect that
is not to the sign-in page. Anything else must be refused: anonymous pages send the browser
to sign in, anonymous API calls get 401, other roles 403 (or 404/409 when the record is not
theirs to see or to change). Operators' routes name facility A's records, so the row of
operator B is the proof that one facility cannot read or change another's lots, batches or
events; a few routes name facility B's records for the mirror image.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from agritrace.db import utcnow
from agritrace.stamps.codec import Stamp
from agritrace.trace import access
from agritrace.web.inspect import AUDIT_THREADS
from tests.web.people import FACILITY_A, FACILITY_B, ROLES, People, build_people

ANY = frozenset({"operator_a", "operator_b", "inspector", "admin"})
OPERATORS = frozenset({"operator_a", "operator_b"})
A = frozenset({"operator_a"})
B = frozenset({"operator_b"})
SUPERVISORS = frozenset({"inspector", "admin"})
A_AND_SUPERVISORS = A | SUPERVISORS
ADMIN = frozenset({"admin"})

Maker = Callable[[People], Any]


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: Maker
    allowed: frozenset[str]
    form: Maker | None = None
    body: Maker | None = None
    raw: Maker | None = None
    #: Builds the path for the calling role (when it depends on who calls).
    path_for: Callable[[People, str], str] | None = None

    @property
    def api(self) -> bool:
        return self.name.startswith("api ")


def _time(p: People) -> str:
    return (utcnow() - dt.timedelta(minutes=len(p.unique("x")))).isoformat(timespec="seconds")


def _local_time() -> str:
    return (utcnow() + dt.timedelta(hours=7) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")


def _audit_run(p: People) -> str:
    with p.site.sessions() as session:
        run = access.start_audit_run(session, by="tests", target_size=0, now=utcnow())
        access.finish_audit_run(
            session, run.id, intact=True, message="ok", first_bad_index=None, done=0, now=utcnow()
        )
    return f"/inspect/audit/{run.id}"


def _fresh_facility(p: People) -> str:
    ref = p.fresh_lot(p.unique("F-"))
    return ref.split("/")[0]


def _fresh_certificate(p: People) -> str:
    from agritrace.trace import registry

    code = _fresh_facility(p)
    with p.site.sessions() as session:
        facility = registry.get_facility(session, code)
        return f"/inspect/certificates/{facility.certificates[0].id}/suspend"


def _own_token(p: People, role: str) -> str:
    """A token of the caller's own (any token of someone else for the anonymous visitor)."""
    with p.site.sessions() as session:
        user = access.get_user(session, p.users.get(role, p.users["admin"]))
        made = access.create_token(session, user=user, name="to revoke", now=utcnow())
    return f"/account/tokens/{made.token.id}/revoke"


def _someone_elses_token(p: People, role: str) -> str:
    """A live token of operator B's: the administrator may revoke it here; every other role,
    operator B included, is refused (this is the administrator's route)."""
    with p.site.sessions() as session:
        user = access.get_user(session, p.users["operator_b"])
        made = access.create_token(session, user=user, name="admin revokes", now=utcnow())
    return f"/admin/tokens/{made.token.id}/revoke"


def _processing(p: People) -> dict[str, str]:
    source = p.fresh_lot().split("/")[1]
    output = p.fresh_lot().split("/")[1]
    return {
        "time": _local_time(),
        "inputs": f"{FACILITY_A}/{source}=10 kg",
        "outputs": f"{FACILITY_A}/{output}=5 kg",
    }


def _stamp_of_a(p: People) -> int:
    """The serial of a fresh stamp of facility A's lot."""
    return Stamp.from_text(p.site.fresh_code()).serial


ROUTES = [
    # public
    Route("sign-in page", "GET", lambda p: "/sign-in", frozenset(ROLES)),
    Route("api openapi", "GET", lambda p: "/api/v1/openapi.json", frozenset(ROLES)),
    Route("api stamp check", "GET", lambda p: f"/api/v1/stamps/{p.site.genuine}", frozenset(ROLES)),
    Route("ledger entry page", "GET", lambda p: "/ledger/entries/0?format=html", frozenset(ROLES)),
    Route("ledger entry bundle", "GET", lambda p: "/ledger/entries/0/bundle", frozenset(ROLES)),
    # facility portal
    Route("portal home", "GET", lambda p: "/portal/", OPERATORS),
    Route("new lot form", "GET", lambda p: "/portal/lots/new", OPERATORS),
    Route(
        "create lot",
        "POST",
        lambda p: "/portal/lots/new",
        OPERATORS,
        form=lambda p: {
            "product": "VAI",
            "code": p.unique("NEW"),
            "units": "10",
            "quantity": "50",
            "quantity_unit": "kg",
            "harvest_date": "2026-06-10",
            "origin_area": "Thanh Hà",
        },
    ),
    Route("lot page of A", "GET", lambda p: "/portal/lots/LA-1", A),
    Route("lot page of B", "GET", lambda p: "/portal/lots/LB-1", B),
    Route(
        "issue stamps for A",
        "POST",
        lambda p: "/portal/lots/LA-1/batches",
        A,
        form=lambda p: {"count": "1"},
    ),
    Route("A's batch CSV", "GET", lambda p: f"/portal/batches/{p.batch_a}/stamps.csv", A),
    Route("A's batch PDF", "GET", lambda p: f"/portal/batches/{p.batch_a}/stamps.pdf", A),
    Route("A's batch PNG zip", "GET", lambda p: f"/portal/batches/{p.batch_a}/stamps.zip", A),
    Route("B's batch CSV", "GET", lambda p: f"/portal/batches/{p.batch_b}/stamps.csv", B),
    Route("event form", "GET", lambda p: "/portal/events/new", OPERATORS),
    Route(
        "record an event on A's lot",
        "POST",
        lambda p: "/portal/events/new",
        A,
        form=lambda p: {"step": "inspecting", "lot": p.lot_a, "time": _local_time()},
    ),
    Route(
        "record an event on B's lot",
        "POST",
        lambda p: "/portal/events/new",
        B,
        form=lambda p: {"step": "inspecting", "lot": p.lot_b, "time": _local_time()},
    ),
    Route(
        "correct A's event",
        "POST",
        lambda p: f"/portal/events/{p.event_a}/correct",
        A,
        form=lambda p: {"lot": "LA-1", "reason": "probe"},
    ),
    Route("processing form", "GET", lambda p: "/portal/processing", OPERATORS),
    Route(
        "record processing of A's lots", "POST", lambda p: "/portal/processing", A, form=_processing
    ),
    Route("scans", "GET", lambda p: "/portal/scans", OPERATORS),
    # account
    Route("account", "GET", lambda p: "/account", ANY),
    Route("create token", "POST", lambda p: "/account/tokens", ANY, form=lambda p: {"name": "t"}),
    Route(
        "revoke own token",
        "POST",
        lambda p: "",
        ANY,
        form=lambda p: {},
        path_for=_own_token,
    ),
    # inspector console
    Route("ledger status", "GET", lambda p: "/inspect/", SUPERVISORS),
    Route("run an audit", "POST", lambda p: "/inspect/audit", SUPERVISORS, form=lambda p: {}),
    Route("audit run", "GET", _audit_run, SUPERVISORS),
    Route("entries", "GET", lambda p: "/inspect/entries", SUPERVISORS),
    Route("entry", "GET", lambda p: "/inspect/entries/0", SUPERVISORS),
    Route(
        "inclusion proof",
        "GET",
        lambda p: f"/inspect/proof/inclusion?index=0&size={p.site.checkpoint_sizes[-1]}",
        SUPERVISORS,
    ),
    Route(
        "consistency",
        "GET",
        lambda p: "/inspect/proof/consistency?old={}&new={}".format(*p.site.checkpoint_sizes),
        SUPERVISORS,
    ),
    Route("facilities", "GET", lambda p: "/inspect/facilities", SUPERVISORS),
    Route("facility", "GET", lambda p: f"/inspect/facilities/{FACILITY_B}", SUPERVISORS),
    Route(
        "suspend facility",
        "POST",
        lambda p: f"/inspect/facilities/{_fresh_facility(p)}/suspend",
        SUPERVISORS,
        form=lambda p: {"reason": "audit failed"},
    ),
    Route(
        "suspend certificate",
        "POST",
        _fresh_certificate,
        SUPERVISORS,
        form=lambda p: {"reason": "expired paperwork"},
    ),
    Route("lots", "GET", lambda p: "/inspect/lots", SUPERVISORS),
    Route("lot", "GET", lambda p: f"/inspect/lots/{p.lot_a}", SUPERVISORS),
    Route(
        "recall",
        "POST",
        lambda p: f"/inspect/lots/{p.fresh_lot()}/recall",
        SUPERVISORS,
        form=lambda p: {"reason": "pesticide residue"},
    ),
    Route("export EPCIS", "GET", lambda p: f"/inspect/lots/{p.lot_a}/export.epcis", SUPERVISORS),
    Route("export FSMA", "GET", lambda p: f"/inspect/lots/{p.lot_a}/export.fsma", SUPERVISORS),
    Route("export bundle", "GET", lambda p: f"/inspect/lots/{p.lot_a}/export.bundle", SUPERVISORS),
    Route(
        "export FSMA range",
        "GET",
        lambda p: "/inspect/exports/fsma?from=2026-01-01&to=2026-12-31",
        SUPERVISORS,
    ),
    Route("dashboard", "GET", lambda p: "/inspect/dashboard", SUPERVISORS),
    # administration
    Route("admin", "GET", lambda p: "/admin/", ADMIN),
    Route(
        "add facility",
        "POST",
        lambda p: "/admin/facilities",
        ADMIN,
        form=lambda p: {"code": p.unique("ADM-"), "name": "N", "province": "P", "address": "A"},
    ),
    Route(
        "certify",
        "POST",
        lambda p: "/admin/certificates",
        ADMIN,
        form=lambda p: {
            "facility": FACILITY_B,
            "scheme": "globalgap",
            "number": p.unique("GG-"),
            "issuer": "I",
            "valid_from": "2026-01-01",
            "valid_to": "2027-12-31",
            "scope": "s",
        },
    ),
    Route(
        "add product",
        "POST",
        lambda p: "/admin/products",
        ADMIN,
        form=lambda p: {"code": p.unique("P-"), "name": "N", "category": "c", "unit": "box"},
    ),
    Route(
        "add user",
        "POST",
        lambda p: "/admin/users",
        ADMIN,
        form=lambda p: {
            "username": p.unique("user"),
            "password": "a-long-password",
            "role": "inspector",
        },
    ),
    Route(
        "change user",
        "POST",
        lambda p: f"/admin/users/{p.users['inspector']}",
        ADMIN,
        form=lambda p: {"role": "inspector", "active": "1"},
    ),
    Route("every user's tokens", "GET", lambda p: "/admin/tokens", ADMIN),
    Route("every user's tokens, page 2", "GET", lambda p: "/admin/tokens?before=3", ADMIN),
    Route(
        "revoke anyone's token",
        "POST",
        lambda p: "",
        ADMIN,
        form=lambda p: {"reason": "left the cooperative"},
        path_for=_someone_elses_token,
    ),
    Route(
        "rotate key",
        "POST",
        lambda p: "/admin/keys/rotate",
        ADMIN,
        form=lambda p: {"purpose": "checkpoint"},
    ),
    # API
    Route("api me", "GET", lambda p: "/api/v1/me", ANY),
    Route("api lots", "GET", lambda p: "/api/v1/lots", ANY),
    Route(
        "api create lot",
        "POST",
        lambda p: "/api/v1/lots",
        OPERATORS,
        body=lambda p: {
            "product": "VAI",
            "code": p.unique("API"),
            "units": 5,
            "quantity": "20",
            "quantity_unit": "kg",
            "harvest_date": "2026-06-10",
            "origin_area": "Thanh Hà",
        },
    ),
    Route("api lot of A", "GET", lambda p: f"/api/v1/lots/{p.lot_a}", A_AND_SUPERVISORS),
    Route(
        "api events of A's lot",
        "GET",
        lambda p: f"/api/v1/lots/{p.lot_a}/events",
        A_AND_SUPERVISORS,
    ),
    Route("api lot of B", "GET", lambda p: f"/api/v1/lots/{p.lot_b}", B | SUPERVISORS),
    Route("api batches", "GET", lambda p: "/api/v1/batches", ANY),
    Route(
        "api issue for A",
        "POST",
        lambda p: "/api/v1/batches",
        A,
        body=lambda p: {"lot": p.lot_a, "count": 1},
    ),
    Route("api batch of A", "GET", lambda p: f"/api/v1/batches/{p.batch_a}", A_AND_SUPERVISORS),
    Route(
        "api stamps of A",
        "GET",
        lambda p: f"/api/v1/batches/{p.batch_a}/stamps.csv",
        A,
    ),
    Route("api events", "GET", lambda p: "/api/v1/events", ANY),
    Route(
        "api record for A",
        "POST",
        lambda p: "/api/v1/events",
        A,
        body=lambda p: {"step": "inspecting", "lot": p.lot_a, "event_time": _time(p)},
    ),
    Route(
        "api capture for A",
        "POST",
        lambda p: "/api/v1/events/capture",
        A | ADMIN,
        raw=lambda p: p.capture_document(p.lot_a),
    ),
    Route("flagged stamps", "GET", lambda p: "/inspect/stamps", SUPERVISORS),
    Route(
        "review a stamp (inspector)",
        "POST",
        lambda p: f"/inspect/stamps/{_stamp_of_a(p)}/review",
        SUPERVISORS,
        form=lambda p: {"decision": "cleared", "reason": "probe"},
    ),
    Route(
        "review A's stamp",
        "POST",
        lambda p: f"/portal/scans/{_stamp_of_a(p)}/review",
        A,
        form=lambda p: {"decision": "cleared", "reason": "probe"},
    ),
    Route("api recalls", "GET", lambda p: "/api/v1/recalls", SUPERVISORS),
    Route(
        "api recall",
        "POST",
        lambda p: "/api/v1/recalls",
        SUPERVISORS,
        body=lambda p: {"lot": p.fresh_lot(), "reason": "listeria"},
    ),
    Route("api export", "GET", lambda p: f"/api/v1/exports/bundle?lot={p.lot_a}", SUPERVISORS),
]


@pytest.fixture(scope="module")
def people(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    with build_people(backend, tmp_path_factory.mktemp(f"people-{backend}")) as built:
        yield built
        _join_audits(built.site.app)


def _join_audits(app: Flask) -> None:
    for thread in app.extensions.get(AUDIT_THREADS, {}).values():
        thread.join(timeout=30)


def _call(people: People, route: Route, role: str) -> Any:
    client = people.clients[role]
    path = route.path_for(people, role) if route.path_for else route.path(people)
    if route.api:
        headers = people.headers(role)
        if route.raw is not None:
            return client.post(
                path, data=route.raw(people), headers=headers, content_type="application/json"
            )
        if route.body is not None:
            return client.open(path, method=route.method, json=route.body(people), headers=headers)
        return client.open(path, method=route.method, headers=headers)
    if route.method == "GET":
        return client.get(path)
    form = {"csrf": people.csrf[role], **(route.form(people) if route.form else {})}
    return client.post(path, data=form)


def _succeeded(response: Any) -> bool:
    if response.status_code in (200, 201):
        return True
    return response.status_code in (302, 303) and not response.headers["Location"].startswith(
        "/sign-in"
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_exactly_the_allowed_roles_succeed(people: People, route: Route, role: str) -> None:
    response = _call(people, route, role)
    _join_audits(people.site.app)
    body = response.get_data()[:400]
    if role in route.allowed:
        assert _succeeded(response), f"{role} refused: {response.status_code} {body}"
        return
    assert not _succeeded(response), f"{role} was let through: {response.status_code}"
    if role == "anonymous" and route.api:
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    elif role == "anonymous":
        assert response.status_code == 303
        assert response.headers["Location"].startswith("/sign-in")
    else:
        assert response.status_code in (403, 404, 409), f"{response.status_code} {body}"
    assert response.status_code < 500


#: Rules that are open to everyone by design and so have no row in ROUTES (each role is
#: treated alike there: the public pages have their own tests). Any other rule of the app
#: must appear in ROUTES, so a new route cannot ship without its access rule being tested.
PUBLIC_RULES: frozenset[tuple[str, str]] = frozenset(
    {
        ("/", "GET"),
        ("/check", "GET"),
        ("/healthz", "GET"),
        ("/problems/<slug>", "GET"),
        ("/sign-in", "POST"),
        ("/sign-out", "POST"),
        ("/s/", "GET"),
        ("/s/<path:code>", "GET"),
        ("/s/<path:code>", "POST"),
        ("/S/", "GET"),
        ("/S/<path:code>", "GET"),
        ("/S/<path:code>", "POST"),
        ("/.well-known/agritrace/keys.json", "GET"),
        ("/.well-known/agritrace/revocations.json", "GET"),
        ("/ledger/checkpoint", "GET"),
        ("/ledger/proof/consistency", "GET"),
        ("/ledger/proof/inclusion", "GET"),
    }
)


def _rules(app: Flask) -> set[tuple[str, str]]:
    return {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }


def _covered(people: People) -> set[tuple[str, str]]:
    adapter = people.site.app.url_map.bind("localhost")
    found = set()
    for route in ROUTES:
        path = route.path_for(people, "admin") if route.path_for else route.path(people)
        rule, _ = adapter.match(path.split("?")[0], method=route.method, return_rule=True)
        found.add((rule.rule, route.method))
    return found


def test_every_route_of_the_app_has_an_access_rule_in_the_matrix(people: People) -> None:
    # The matrix above is every role x every entry of ROUTES; here ROUTES is checked
    # against app.url_map, so a route that no rule covers fails the suite.
    covered = _covered(people)
    rules = _rules(people.site.app)
    uncovered = sorted(rules - covered - PUBLIC_RULES)
    assert uncovered == [], "\n".join(f"{rule} {method}" for rule, method in uncovered)
    assert sorted(PUBLIC_RULES - rules) == []  # no stale exemption
