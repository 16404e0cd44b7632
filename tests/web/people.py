"""A filled site with people on it: two facilities' operators, an inspector and an
administrator, each with a signed-in browser and an API token, and the records the access
tests act on (lots of facility A and B, small stamp batches, real events).

Facility A is ``HD-VAI-01`` (the site's own), facility B is ``HN-KHO-02``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from agritrace.db import utcnow
from agritrace.ledger import store
from agritrace.trace import access, events, issuance, registry
from agritrace.trace.models import User
from tests.trace.factories import certified_lot
from tests.web.conftest import PREFIX, Site, build_site

FACILITY_A = "HD-VAI-01"
FACILITY_B = "HN-KHO-02"
ROLES = ("anonymous", "operator_a", "operator_b", "inspector", "admin")
PASSWORDS = {
    "operator_a": "operator-a-password",
    "operator_b": "operator-b-password",
    "inspector": "inspector-password",
    "admin": "administrator-password",
}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(client: FlaskClient, path: str = "/sign-in") -> str:
    page = client.get(path)
    found = _CSRF.search(page.get_data(as_text=True))
    assert found is not None, f"no form token on {path} ({page.status_code})"
    return found.group(1)


def sign_in(client: FlaskClient, username: str, password: str) -> Any:
    token = csrf_of(client)
    return client.post("/sign-in", data={"csrf": token, "username": username, "password": password})


@dataclass
class People:
    site: Site
    clients: dict[str, FlaskClient]
    csrf: dict[str, str]
    tokens: dict[str, str]
    users: dict[str, int]
    lot_a: str
    lot_b: str
    batch_a: int
    batch_b: int
    event_a: int
    _serial: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def unique(self, stem: str) -> str:
        return f"{stem}{next(self._serial)}"

    def headers(self, role: str) -> dict[str, str]:
        if role == "anonymous":
            return {}
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def fresh_lot(self, facility: str = FACILITY_A) -> str:
        """A new lot of ``facility`` (harvested 2026-06-10), as ``FACILITY/LOT``."""
        code = self.unique("T")
        with self.site.sessions() as session:
            certified_lot(session, utcnow(), facility=facility, lot=code, units=50)
        return f"{facility}/{code}"

    def capture_document(self, lot_ref: str) -> bytes:
        """An EPCIS 2.0 document with one new inspection of ``lot_ref`` by its facility."""
        with self.site.sessions() as session:
            lot = registry.get_lot(session, lot_ref)
            moment = utcnow() - dt.timedelta(minutes=next(self._serial))
            location = {"id": events.facility_uri(lot.facility)}
            event = {
                "type": "ObjectEvent",
                "eventTime": moment.isoformat(timespec="seconds"),
                "eventTimeZoneOffset": "+00:00",
                "action": "OBSERVE",
                "bizStep": "inspecting",
                "disposition": "conformant",
                "quantityList": [{"epcClass": events.lot_uri(lot), "quantity": 1, "uom": "KGM"}],
                "readPoint": location,
                "bizLocation": location,
            }
        document = {
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": utcnow().isoformat(timespec="seconds"),
            "epcisBody": {"eventList": [event]},
        }
        return json.dumps(document).encode()


def _add_people(site: Site) -> tuple[dict[str, int], dict[str, str]]:
    users: dict[str, int] = {}
    tokens: dict[str, str] = {}
    facility = {"operator_a": FACILITY_A, "operator_b": FACILITY_B}
    with site.sessions() as session:
        for role, password in PASSWORDS.items():
            user: User = registry.add_user(
                session,
                username=role.replace("_", "-"),
                password=password,
                role=role.split("_")[0],
                facility_code=facility.get(role),
            )
            users[role] = user.id
            tokens[role] = access.create_token(
                session, user=user, name="tests", now=utcnow()
            ).secret
    return users, tokens


@contextmanager
def build_people(backend: str, folder: Path) -> Iterator[People]:
    with build_site(backend, folder) as site:
        now = utcnow()
        with site.sessions() as session:
            lot_b = certified_lot(session, now, facility=FACILITY_B, lot="LB-1", units=100)
            certified_lot(session, now, facility=FACILITY_A, lot="LA-1", units=100)
            batch_a = issuance.issue_batch(
                session, lot_ref=f"{FACILITY_A}/LA-1", count=3, key_id=0, prefix=PREFIX
            )
            batch_b = issuance.issue_batch(
                session, lot_ref=f"{FACILITY_B}/{lot_b.code}", count=3, key_id=0, prefix=PREFIX
            )
            recorded = events.record_event(
                session,
                step="harvest",
                lot_ref=f"{FACILITY_A}/LA-1",
                facility_code=FACILITY_A,
                event_time=now - dt.timedelta(days=1),
            )
            events.record_event(
                session,
                step="harvest",
                lot_ref=f"{FACILITY_B}/LB-1",
                facility_code=FACILITY_B,
                event_time=now - dt.timedelta(days=1),
            )
            batch_ids = (batch_a.id, batch_b.id)
            store.head(session)
        from agritrace.trace import journal

        with site.sessions() as session:
            journal.sign_checkpoint(
                session,
                origin=site.settings.origin,
                ring=site.ring,
                publish_to=site.settings.checkpoints_dir,
            )
        users, tokens = _add_people(site)
        clients: dict[str, FlaskClient] = {}
        csrf: dict[str, str] = {}
        for role in ROLES:
            client = site.client()
            if role != "anonymous":
                response = sign_in(client, role.replace("_", "-"), PASSWORDS[role])
                assert response.status_code == 303, response.get_data(as_text=True)[:500]
                csrf[role] = csrf_of(client, "/account")
            else:
                csrf[role] = csrf_of(client)
            clients[role] = client
        yield People(
            site=site,
            clients=clients,
            csrf=csrf,
            tokens=tokens,
            users=users,
            lot_a=f"{FACILITY_A}/LA-1",
            lot_b=f"{FACILITY_B}/LB-1",
            batch_a=batch_ids[0],
            batch_b=batch_ids[1],
            event_a=recorded.ledger_index,
        )
