"""``/ledger/entries/<index>`` for people: a page for browsers, the same JSON as ever for
every other client, and the entry's proof checked on the server and stated truthfully.

What the page states (origin, size, root, leaf hash, proof hashes) is compared with the
signed checkpoint and the JSON, each checked here with the published keys alone.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import random
import re
import string
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient

from agritrace.keys import KeyPurpose, public_keys_from_jwks
from agritrace.ledger import merkle, store
from agritrace.ledger.bundle import verify_bundle
from agritrace.ledger.checkpoint import Checkpoint, NoteVerifier, open_note, sign_note
from agritrace.ledger.store import LedgerCheckpoint, NewEntry
from tests.web.conftest import Site, build_site, page_text

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
MAX_PAGE_BYTES = 30_000
JSON_FIELDS = {"index", "kind", "entry", "leaf_hash", "recorded_at", "proof"}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _verifiers(client: FlaskClient, site: Site) -> list[NoteVerifier]:
    jwks = client.get("/.well-known/agritrace/keys.json").get_json()
    keys = public_keys_from_jwks(jwks, KeyPurpose.CHECKPOINT)
    return [NoteVerifier.from_public_key(site.settings.origin, key) for key in keys.values()]


def _by_id(body: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', body)
    assert found is not None, f"no #{element_id} on the page"
    return html.unescape(found.group(1))


def _page(client: FlaskClient, path: str, lang: str = "vi") -> str:
    separator = "&" if "?" in path else "?"
    response = client.get(f"{path}{separator}lang={lang}", headers=BROWSER)
    assert response.status_code == 200, response.data[:300]
    assert response.content_type == "text/html; charset=utf-8"
    return response.get_data(as_text=True)


# -- the JSON stays as it was ---------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Accept": "application/json"},
        {"Accept": "*/*"},
        {"Accept": "application/json, text/html"},
        {"Accept": "text/html;q=0.5, application/json"},
    ],
    ids=["no-accept", "json", "any", "tie", "json-preferred"],
)
def test_api_clients_still_get_the_json(
    site: Site, client: FlaskClient, headers: dict[str, str]
) -> None:
    index = site.journey_indices[0]
    response = client.get(f"/ledger/entries/{index}", headers=headers)
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert "Accept" in response.headers["Vary"]
    body = response.get_json()
    assert set(body) == JSON_FIELDS
    assert body == client.get(f"/ledger/entries/{index}?format=json", headers=BROWSER).get_json()


def test_format_json_is_a_stable_json_url_even_for_browsers(
    site: Site, client: FlaskClient
) -> None:
    response = client.get(f"/ledger/entries/{site.journey_indices[0]}?format=json", headers=BROWSER)
    assert response.content_type == "application/json"
    assert response.get_json()["index"] == site.journey_indices[0]


# -- the page -------------------------------------------------------------------------------


def test_a_browser_gets_a_vietnamese_page_that_says_what_the_entry_records(
    site: Site, client: FlaskClient
) -> None:
    index = site.journey_indices[0]  # the harvest of the genuine lot
    response = client.get(f"/ledger/entries/{index}", headers=BROWSER)
    assert response.content_type == "text/html; charset=utf-8"
    assert "Accept" in response.headers["Vary"]
    body = response.get_data(as_text=True)
    text = page_text(body)
    assert '<html lang="vi">' in body
    assert f"Mục sổ cái #{index}" in text
    assert "Thu hoạch" in text
    assert "06:30, 10/06/2026" in text
    assert "HTX Vải thiều (HD-VAI-01)" in text
    assert "Khối lượng 500 kg" in text
    assert "Đã kiểm chứng" in text
    assert "<script" not in body


def test_the_page_in_english(site: Site, client: FlaskClient) -> None:
    index = site.journey_indices[2]  # cooling at the cold store
    text = page_text(_page(client, f"/ledger/entries/{index}", lang="en"))
    assert f"Ledger entry #{index}" in text
    assert "Cooled" in text
    assert "Temperature 4 °C" in text
    assert "Verified: this entry is in the signed ledger" in text


def test_an_english_browser_gets_english_without_choosing(site: Site) -> None:
    phone = site.client()
    response = phone.get(
        f"/ledger/entries/{site.journey_indices[0]}",
        headers={**BROWSER, "Accept-Language": "en-US,en;q=0.9"},
    )
    assert '<html lang="en">' in response.get_data(as_text=True)


def test_the_stated_checkpoint_is_the_signed_one_and_the_proof_holds(
    site: Site, client: FlaskClient
) -> None:
    index = site.journey_indices[1]
    body = _page(client, f"/ledger/entries/{index}")
    note = client.get("/ledger/checkpoint").data
    signed = Checkpoint.from_body(open_note(note, verifiers=_verifiers(client, site))[0])
    assert _by_id(body, "cp-origin") == signed.origin == site.settings.origin
    assert int(_by_id(body, "cp-size")) == signed.size
    assert _by_id(body, "cp-root") == _b64(signed.root_hash)
    assert re.search(r'id="proof-status" data-verified="yes"', body)
    # The leaf hash and the proof hashes shown are the entry's own, and they prove it.
    entry = client.get(f"/ledger/entries/{index}").get_json()
    content = entry["entry"].encode("utf-8")
    assert _by_id(body, "leaf-hash") == _b64(merkle.leaf_hash(content)) == entry["leaf_hash"]
    shown = re.findall(r"<li><code class=\"hash\">([^<]+)</code></li>", body)
    assert shown == entry["proof"]["inclusion_proof"]
    merkle.verify_inclusion(
        leaf_hash=merkle.leaf_hash(content),
        index=index,
        size=int(_by_id(body, "cp-size")),
        proof=[base64.b64decode(h) for h in shown],
        root=base64.b64decode(_by_id(body, "cp-root")),
    )


def test_the_raw_record_is_exactly_the_hashed_bytes(site: Site, client: FlaskClient) -> None:
    index = site.genuine_batch["ledger_index"]
    body = _page(client, f"/ledger/entries/{index}")
    raw = _by_id(body, "entry-json")
    assert raw == client.get(f"/ledger/entries/{index}").get_json()["entry"]
    assert "<details" in body  # folded away, there for whoever wants it
    text = page_text(body)
    assert "Cấp tem truy xuất" in text
    assert "HD-VAI-01/L2026-001" in text  # the lot


def test_every_entry_page_is_small(site: Site, client: FlaskClient) -> None:
    for index in range(site.checkpoint_sizes[-1]):
        for lang in ("vi", "en"):
            response = client.get(f"/ledger/entries/{index}?lang={lang}", headers=BROWSER)
            assert response.status_code == 200
            assert len(response.data) < MAX_PAGE_BYTES


def test_the_proof_bundle_download_verifies_offline(site: Site, client: FlaskClient) -> None:
    index = site.journey_indices[0]
    page = _page(client, f"/ledger/entries/{index}")
    assert f'href="/ledger/entries/{index}/bundle" download' in page
    assert f'href="/ledger/entries/{index}?format=json"' in page
    response = client.get(f"/ledger/entries/{index}/bundle")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="agritrace-entry-{index}.bundle.json"'
    )
    verified = verify_bundle(response.data, verifiers=_verifiers(client, site))
    assert [i for i, _ in verified.entries] == [index]


# -- back to the stamp ----------------------------------------------------------------------


def test_a_journey_badge_leads_to_the_page_and_back_to_the_stamp(
    site: Site, client: FlaskClient
) -> None:
    stamp = client.get(f"/S/{site.genuine}").get_data(as_text=True)
    links = re.findall(r'class="ledger" href="([^"]+)"', stamp)
    assert links
    first = html.unescape(links[0])
    assert re.fullmatch(r"/ledger/entries/[0-9]+", first)  # the same for every stamp of the lot
    # A browser tells this site which of its pages it came from (Referrer-Policy: same-origin).
    came_from = {**BROWSER, "Referer": f"http://localhost/S/{site.genuine}"}
    body = client.get(first, headers=came_from).get_data(as_text=True)
    back = re.search(r'class="back" href="([^"]+)"', body)
    assert back is not None
    assert html.unescape(back.group(1)) == f"/S/{site.genuine}"
    # the language switch keeps the way back
    switch = re.search(r'class="lang" href="([^"]+)"', body)
    assert switch is not None
    assert f"back=/S/{site.genuine}" in html.unescape(switch.group(1)).replace("%2F", "/")


@pytest.mark.parametrize(
    "referrer",
    [
        "https://evil.example/S/ABC",
        "http://localhost.evil.example/S/ABC",
        "http://localhost/admin/",
        "http://localhost/S/ABC?x=1#y",
        "not a url",
    ],
)
def test_a_referrer_leads_back_only_from_a_stamp_page_of_this_site(
    site: Site, client: FlaskClient, referrer: str
) -> None:
    index = site.journey_indices[0]
    response = client.get(f"/ledger/entries/{index}", headers={**BROWSER, "Referer": referrer})
    body = response.get_data(as_text=True)
    link = re.search(r'class="back" href="([^"]+)"', body)
    if referrer == "http://localhost/S/ABC?x=1#y":
        assert link is not None
        assert html.unescape(link.group(1)) == "/S/ABC"  # the path only
    else:
        assert link is None
    assert "evil.example" not in body


@pytest.mark.parametrize(
    "back",
    [
        "https://evil.example/S/ABC",
        "//evil.example/S/ABC",
        "/S/../admin/",
        "/admin/",
        "javascript:alert(1)",
        "/S/ABC?x=1",
        "/S/ABC\\@evil.example",
        "",
    ],
)
def test_only_a_stamp_page_of_this_site_is_linked_back_to(
    site: Site, client: FlaskClient, back: str
) -> None:
    from urllib.parse import quote

    index = site.journey_indices[0]
    body = _page(client, f"/ledger/entries/{index}?back={quote(back, safe='')}")
    assert 'class="back"' not in body
    assert "evil.example" not in body
    assert "javascript:" not in body


# -- bad input ------------------------------------------------------------------------------

BAD = [
    ("abc", 422, "không phải 'abc'", "not 'abc'"),
    ("-1", 422, "không phải '-1'", "not '-1'"),
    ("1.5", 422, "không phải '1.5'", "not '1.5'"),
    ("99999999", 404, "sổ cái không có mục #99999999", "no ledger entry #99999999"),
    ("9" * 25, 422, "phải là số nguyên", "must be a whole number"),
    ("0?format=xml", 422, "'format'", "'format'"),
]


@pytest.mark.parametrize(("raw", "status", "vi", "en"), BAD)
def test_bad_input_is_a_friendly_page_for_browsers(
    client: FlaskClient, raw: str, status: int, vi: str, en: str
) -> None:
    separator = "&" if "?" in raw else "?"
    for lang, expected in (("vi", vi), ("en", en)):
        response = client.get(f"/ledger/entries/{raw}{separator}lang={lang}", headers=BROWSER)
        assert response.status_code == status
        assert response.content_type == "text/html; charset=utf-8"
        text = page_text(response.data)
        assert expected in text
        assert "Traceback" not in text


@pytest.mark.parametrize(("raw", "status", "vi", "en"), BAD)
def test_bad_input_is_a_problem_document_for_json_clients(
    client: FlaskClient, raw: str, status: int, vi: str, en: str
) -> None:
    response = client.get(f"/ledger/entries/{raw}", headers={"Accept": "application/json"})
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == status
    assert en in problem["detail"]


def test_a_missing_entry_has_no_bundle(client: FlaskClient) -> None:
    assert client.get("/ledger/entries/99999999/bundle").status_code == 404
    page = client.get("/ledger/entries/99999999/bundle?lang=vi", headers=BROWSER)
    assert page.status_code == 404
    assert "sổ cái không có mục #99999999" in page_text(page.data)


def test_random_indexes_formats_and_backs_never_fail_nor_lead_away(
    site: Site, client: FlaskClient
) -> None:
    from urllib.parse import quote

    rng = random.Random(20261126)
    odd = string.printable + "ĐđẠạ/\\:@%?#&=.\u202e😀"
    for _ in range(300):
        index = rng.choice(
            [str(rng.randrange(0, 30)), "".join(rng.choice(odd) for _ in range(rng.randint(0, 12)))]
        )
        back = "".join(rng.choice(odd) for _ in range(rng.randint(0, 40)))
        query = {"back": rng.choice([back, "/S/" + back, f"/S/{site.genuine}"])}
        chosen = rng.choice([None, "html", "json", "xml", ""])
        if chosen is not None:
            query["format"] = chosen
        headers = rng.choice([BROWSER, {"Accept": "application/json"}, {}])
        response = client.get(
            f"/ledger/entries/{quote(index, safe='')}", query_string=query, headers=headers
        )
        assert response.status_code < 500, (index, query)
        link = re.search(r'class="back" href="([^"]+)"', response.get_data(as_text=True))
        if link is not None:
            assert re.fullmatch(r"/[Ss]/[A-Za-z0-9]{1,200}", html.unescape(link.group(1)))


# -- what the page says when the proof does not hold -----------------------------------------


def _append_unsigned(site: Site) -> int:
    with site.sessions() as session:
        [appended] = store.append(
            session, [NewEntry(body={"type": "note", "n": store.head(session).size}, subjects=())]
        )
        session.commit()
        return appended.index


def _forge_checkpoint(site: Site, *, key: Ed25519PrivateKey, wrong_root: bool) -> int:
    with site.sessions() as session:
        head = store.head(session)
        root = bytes(32) if wrong_root else head.root_hash
        body = Checkpoint(origin=site.settings.origin, size=head.size, root_hash=root).to_body()
        note = sign_note(body, name=site.settings.origin, private_key=key)
        session.add(
            LedgerCheckpoint(
                size=head.size,
                root_hash=root,
                note=note.decode("utf-8"),
                created_at=dt.datetime.now(dt.UTC),
            )
        )
        session.commit()
        return head.size


def _status(body: str) -> str:
    found = re.search(r'id="proof-status" data-verified="(\w+)"', body)
    assert found is not None
    return found.group(1)


def test_the_page_says_so_when_no_checkpoint_covers_the_entry_or_it_does_not_verify(
    backend: str, tmp_path: Path
) -> None:
    with build_site(backend, tmp_path) as site:
        client = site.client()
        index = _append_unsigned(site)
        body = _page(client, f"/ledger/entries/{index}")
        assert _status(body) == "none"
        assert "Chưa có điểm kiểm tra đã ký nào bao gồm mục này" in page_text(body)
        assert "/bundle" not in body
        assert client.get(f"/ledger/entries/{index}").get_json()["proof"] is None
        assert client.get(f"/ledger/entries/{index}/bundle").status_code == 404

        # A checkpoint signed by a key this site never published: the signature fails.
        _forge_checkpoint(site, key=Ed25519PrivateKey.generate(), wrong_root=False)
        body = _page(client, f"/ledger/entries/{index}", lang="en")
        assert _status(body) == "no"
        assert "The proof does NOT verify" in page_text(body)

        # Signed with the site's own key but over a root the ledger never had: the signature
        # holds and the inclusion proof (merkle.verify_inclusion) fails.
        index = _append_unsigned(site)
        key = site.ring.active_signer(KeyPurpose.CHECKPOINT)[1]
        _forge_checkpoint(site, key=key, wrong_root=True)
        body = _page(client, f"/ledger/entries/{index}", lang="en")
        assert _status(body) == "no"
        assert "computed root differs" in page_text(body)
