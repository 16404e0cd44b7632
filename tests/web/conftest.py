"""A running agritrace site per backend: a key ring, a migrated database with a certified
facility, lots, a journey, a recall, a suspicious stamp and signed checkpoints, and the app.

The site is built once per test module and backend (:func:`build_site`, also used by the
end-to-end suites); tests that count scans take stamps no other test touched
(:meth:`Site.fresh_code`). The shared app has no rate limit; tests of the limit build their
own app.
"""

from __future__ import annotations

import datetime as dt
import html.parser
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agritrace.config import Settings
from agritrace.db import make_engine, make_sessionmaker, utcnow
from agritrace.keys import KeyPurpose, KeyRing
from agritrace.ledger import store
from agritrace.ledger.store import NewEntry
from agritrace.migrations import upgrade
from agritrace.stamps import claims
from agritrace.stamps.codec import Stamp, sign_stamp
from agritrace.trace import claiming, issuance, journal, recalls, scans
from agritrace.web import create_app
from tests.support import fresh_database
from tests.trace.factories import certified_lot

PASSPHRASE = b"web test passphrase, not secret"
SECRET_KEY = "web-test-secret-key-0123456789-abcdef"
BASE_URL = "https://trace.example.vn"
PREFIX = "HTTPS://TRACE.EXAMPLE.VN/S/"
#: The registry's clock for the site's records (harvest 2026-06-10, certificate 2026-2027).
RECORDED_AT = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)
NO_LIMITS = {"stamp": 0, "public": 0}
HANOI = (Decimal("21.0"), Decimal("105.8"))
SAIGON = (Decimal("10.8"), Decimal("106.7"))
RECALL_REASON = "Dư lượng thuốc bảo vệ thực vật vượt ngưỡng"


def make_settings(instance: Path, url: str, *, behind_tls: bool = False) -> Settings:
    return Settings(
        instance=instance,
        database_url=url,
        base_url=BASE_URL,
        key_passphrase=PASSPHRASE,
        secret_key=SECRET_KEY,
        behind_tls=behind_tls,
        unsafe_test_kdf=True,  # rings made here are sealed at a trivial cost (test-only knob)
    )


@dataclass
class Site:
    """The app and what it was filled with."""

    settings: Settings
    app: Flask
    ring: KeyRing
    sessions: sessionmaker[Session]
    genuine_batch: dict[str, Any]
    recalled_batch: dict[str, Any]
    claim_batch: dict[str, Any]
    suspicious: str
    forged: str
    journey_indices: list[int]
    checkpoint_sizes: list[int]
    _next: Iterator[int] = field(default_factory=lambda: itertools.count(2))
    _next_claim: Iterator[int] = field(default_factory=lambda: itertools.count(0))
    _next_address: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def stamp_key(self) -> Ed25519PrivateKey:
        return self.ring.signer(KeyPurpose.STAMP, 0)

    def stamp(self, serial: int) -> Stamp:
        return sign_stamp(serial, key_id=0, private_key=self.stamp_key, prefix=PREFIX)

    def code(self, serial: int) -> str:
        return self.stamp(serial).to_text()

    @property
    def genuine(self) -> str:
        """The first stamp of the genuine lot (opened by many tests: never counts checked)."""
        return self.code(self.genuine_batch["first_serial"])

    def fresh_code(self) -> str:
        """A genuine stamp no other test has used."""
        offset = next(self._next)
        assert offset < self.genuine_batch["count"], "the site ran out of fresh stamps"
        return self.code(self.genuine_batch["first_serial"] + offset)

    @property
    def noted(self) -> str:
        """A genuine stamp with the distant-places note (four clients' places)."""
        return self.code(self.genuine_batch["first_serial"] + 1)

    @property
    def recalled(self) -> str:
        return self.code(self.recalled_batch["first_serial"])

    def claim_code(self) -> str:
        """A stamp of the batch issued with claim codes that no other test has used."""
        offset = next(self._next_claim)
        # The batch's last stamp is the site's suspicious one (claimed twice).
        assert offset < self.claim_batch["count"] - 1, "the site ran out of claim stamps"
        return self.code(self.claim_batch["first_serial"] + offset)

    def client(self, *, address: str | None = None) -> FlaskClient:
        """A fresh browser (no cookies) on its own network address, unless ``address``."""
        client = self.app.test_client()
        if address is None:
            n = next(self._next_address)
            address = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        client.environ_base["REMOTE_ADDR"] = address
        return client


def _event(lot_id: int, step: str, when: str, facility: str, **display: str) -> NewEntry:
    return NewEntry(
        body={
            "type": "event",
            "step": step,
            "eventTime": when,
            "facility": facility,
            "facility_name": "HTX Vải thiều" if facility == "HD-VAI-01" else "Kho lạnh Hà Nội",
            "display": display,
        },
        subjects=(f"lot:{lot_id}",),
    )


def _fill(settings: Settings, sessions: sessionmaker[Session], ring: KeyRing) -> dict[str, Any]:
    now = RECORDED_AT
    with sessions() as session:
        lot = certified_lot(session, now, lot="L2026-001", units=400)
        certified_lot(session, now, lot="L2026-002", units=100)
        genuine = issuance.issue_batch(
            session, lot_ref="HD-VAI-01/L2026-001", count=60, key_id=0, prefix=PREFIX, now=now
        )
        recalled = issuance.issue_batch(
            session, lot_ref="HD-VAI-01/L2026-002", count=10, key_id=0, prefix=PREFIX, now=now
        )
        claimable = issuance.issue_batch(
            session,
            lot_ref="HD-VAI-01/L2026-001",
            count=60,
            key_id=0,
            prefix=PREFIX,
            now=now,
            claim_codes=True,
        )
        journal.sign_checkpoint(
            session, origin=settings.origin, ring=ring, publish_to=settings.checkpoints_dir
        )
        appended = store.append(
            session,
            [
                _event(
                    lot.id, "harvest", "2026-06-10T06:30:00+07:00", "HD-VAI-01", quantity="500 kg"
                ),
                _event(lot.id, "packing", "2026-06-11T08:00:00+07:00", "HD-VAI-01", stamps="60"),
                _event(
                    lot.id, "cooling", "2026-06-11T15:00:00+07:00", "HN-KHO-02", temperature="4 °C"
                ),
            ],
        )
        session.commit()
        recalls.recall_lot(
            session,
            lot_ref="HD-VAI-01/L2026-002",
            reason=RECALL_REASON,
            signer=ring.active_signer(KeyPurpose.STAMP),
            now=now,
        )
        journal.sign_checkpoint(
            session, origin=settings.origin, ring=ring, publish_to=settings.checkpoints_dir
        )
        seen = utcnow() - dt.timedelta(hours=3)
        # The noted stamp: two clients near Hanoi and two near Saigon reported it within
        # hours (a note, not a verdict).
        noted = genuine.first_serial + 1
        for n, place in enumerate((HANOI, HANOI, SAIGON, SAIGON)):
            scans.record_scan(
                session, noted, client=f"site-{n}", place=place, now=seen + dt.timedelta(minutes=n)
            )
        # The suspicious stamp: its claim code entered by two different clients (a clone).
        suspicious = claimable.last_serial
        assert claimable.claim_key is not None
        right = claims.claim_code(bytes.fromhex(claimable.claim_key), suspicious)
        for n in range(2):
            claiming.claim_stamp(
                session,
                serial=suspicious,
                text=right,
                client=f"site-buyer-{n}",
                province="Hà Nội",
                now=seen + dt.timedelta(minutes=n),
            )
        sizes = sorted(session.scalars(select(store.LedgerCheckpoint.size)))
        return {
            "genuine": issuance.batch_record(genuine),
            "recalled": issuance.batch_record(recalled),
            "claim": issuance.batch_record(claimable),
            "journey": [a.index for a in appended],
            "checkpoints": sizes,
        }


@contextmanager
def build_site(
    backend: str, folder: Path, *, rate_limits: dict[str, int] | None = None
) -> Iterator[Site]:
    """A filled site on a fresh database of ``backend``, removed afterwards."""
    with fresh_database(backend, folder) as url:
        engine = make_engine(url)
        upgrade(engine)
        settings = make_settings(folder / "instance", url)
        ring = KeyRing.create(settings.keys_dir, PASSPHRASE, kdf=settings.key_kdf)
        sessions = make_sessionmaker(engine)
        facts = _fill(settings, sessions, ring)
        app = create_app(settings, engine=engine, rate_limits=rate_limits or NO_LIMITS)
        key = ring.signer(KeyPurpose.STAMP, 0)
        genuine_first = facts["genuine"]["first_serial"]
        forged = bytearray(
            sign_stamp(genuine_first + 2, key_id=0, private_key=key, prefix=PREFIX).to_bytes()
        )
        forged[20] ^= 0x40  # one bit of the signature
        suspicious = sign_stamp(
            facts["claim"]["last_serial"], key_id=0, private_key=key, prefix=PREFIX
        )
        try:
            yield Site(
                settings=settings,
                app=app,
                ring=ring,
                sessions=sessions,
                genuine_batch=facts["genuine"],
                recalled_batch=facts["recalled"],
                claim_batch=facts["claim"],
                suspicious=suspicious.to_text(),
                forged=Stamp.from_bytes(bytes(forged)).to_text(),
                journey_indices=facts["journey"],
                checkpoint_sizes=facts["checkpoints"],
            )
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def site(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with build_site(backend, tmp_path_factory.mktemp(f"site-{backend}")) as built:
        yield built


@pytest.fixture
def client(site: Site) -> FlaskClient:
    """A fresh browser: no cookies."""
    return site.client()


class _Text(html.parser.HTMLParser):
    """The visible text of an HTML page, with the text of each element id kept apart."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.by_tag: dict[str, list[str]] = {}
        self._stack: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "title"}:
            self._skip += 1
        if tag not in {"br", "input", "meta", "link", "img"}:
            self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "title"}:
            self._skip -= 1
        if tag in self._stack:
            while self._stack and self._stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.parts.append(data)
        for tag in set(self._stack):
            self.by_tag.setdefault(tag, []).append(data)


def page_text(body: bytes | str) -> str:
    """All visible text of a page, whitespace collapsed."""
    parser = _Text()
    parser.feed(body.decode("utf-8") if isinstance(body, bytes) else body)
    return " ".join(" ".join(parser.parts).split())


def tag_text(body: bytes | str, tag: str) -> str:
    """The visible text inside every ``tag`` element of a page, whitespace collapsed."""
    parser = _Text()
    parser.feed(body.decode("utf-8") if isinstance(body, bytes) else body)
    return " ".join(" ".join(parser.by_tag.get(tag, [])).split())
