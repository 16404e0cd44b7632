"""Public keys, revocations, checkpoints and proofs: everything verifies offline with the
published keys alone, and bad parameters are RFC 9457 problems, never 500s."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from agritrace.keys import KeyPurpose, KeyRing, public_keys_from_jwks
from agritrace.ledger import merkle
from agritrace.ledger.checkpoint import Checkpoint, NoteVerifier, open_note
from agritrace.stamps.codec import verify_code
from agritrace.stamps.revocations import is_revoked, verify_revocations
from agritrace.web import PublicKeys
from tests.web.conftest import PREFIX, RECALL_REASON, Site


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _jwks(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/.well-known/agritrace/keys.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def _checkpoint(client: FlaskClient, site: Site) -> Checkpoint:
    keys = public_keys_from_jwks(_jwks(client), KeyPurpose.CHECKPOINT)
    verifiers = [NoteVerifier.from_public_key(site.settings.origin, k) for k in keys.values()]
    note = client.get("/ledger/checkpoint").data
    body, _signers = open_note(note, verifiers=verifiers)
    return Checkpoint.from_body(body)


def test_keys_json_is_a_public_jwk_set_that_verifies_stamps(
    site: Site, client: FlaskClient
) -> None:
    response = client.get("/.well-known/agritrace/keys.json")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "max-age" in response.headers["Cache-Control"]
    document = response.get_json()
    assert {key["kid"] for key in document["keys"]} == {"stamp-0", "checkpoint-0"}
    assert all("d" not in key for key in document["keys"])
    stamp_keys = public_keys_from_jwks(document, KeyPurpose.STAMP)
    stamp = verify_code(PREFIX + site.genuine, prefix=PREFIX, public_keys=stamp_keys)
    assert stamp.serial == site.genuine_batch["first_serial"]


def test_revocations_are_signed_and_name_the_recalled_serials(
    site: Site, client: FlaskClient
) -> None:
    document = client.get("/.well-known/agritrace/revocations.json").get_json()
    stamp_keys = public_keys_from_jwks(_jwks(client), KeyPurpose.STAMP)
    payload = verify_revocations(document, public_keys=stamp_keys)
    revoked = is_revoked(payload, site.recalled_batch["first_serial"])
    assert revoked is not None
    assert revoked["reason"] == RECALL_REASON
    assert is_revoked(payload, site.genuine_batch["first_serial"]) is None


def test_checkpoint_is_a_signed_c2sp_note(site: Site, client: FlaskClient) -> None:
    response = client.get("/ledger/checkpoint")
    assert response.content_type == "text/plain; charset=utf-8"
    checkpoint = _checkpoint(client, site)
    assert checkpoint.origin == site.settings.origin
    assert checkpoint.size == site.checkpoint_sizes[-1]


def test_every_entry_is_proven_by_the_checkpoint(site: Site, client: FlaskClient) -> None:
    checkpoint = _checkpoint(client, site)
    for index in range(checkpoint.size):
        proof = client.get(f"/ledger/proof/inclusion?index={index}&size={checkpoint.size}")
        assert proof.status_code == 200
        body = proof.get_json()
        merkle.verify_inclusion(
            leaf_hash=_b64(body["leaf_hash"]),
            index=index,
            size=checkpoint.size,
            proof=[_b64(h) for h in body["inclusion_proof"]],
            root=checkpoint.root_hash,
        )
        assert body["checkpoint"] is not None


def test_entry_carries_its_exact_bytes_and_proof(site: Site, client: FlaskClient) -> None:
    index = site.journey_indices[0]
    body = client.get(f"/ledger/entries/{index}").get_json()
    content = body["entry"].encode("utf-8")
    assert _b64(body["leaf_hash"]) == merkle.leaf_hash(content)
    assert '"step":"harvest"' in body["entry"]
    proof = body["proof"]
    keys = public_keys_from_jwks(_jwks(client), KeyPurpose.CHECKPOINT)
    verifiers = [NoteVerifier.from_public_key(site.settings.origin, k) for k in keys.values()]
    note_body, _ = open_note(proof["checkpoint"].encode("utf-8"), verifiers=verifiers)
    checkpoint = Checkpoint.from_body(note_body)
    merkle.verify_inclusion(
        leaf_hash=merkle.leaf_hash(content),
        index=index,
        size=proof["tree_size"],
        proof=[_b64(h) for h in proof["inclusion_proof"]],
        root=checkpoint.root_hash,
    )


def test_consistency_between_the_two_checkpoints_verifies(site: Site, client: FlaskClient) -> None:
    old, new = site.checkpoint_sizes[0], site.checkpoint_sizes[-1]
    assert old < new
    body = client.get(f"/ledger/proof/consistency?old={old}&new={new}").get_json()
    keys = public_keys_from_jwks(_jwks(client), KeyPurpose.CHECKPOINT)
    verifiers = [NoteVerifier.from_public_key(site.settings.origin, k) for k in keys.values()]
    roots = [
        Checkpoint.from_body(open_note(body[name].encode(), verifiers=verifiers)[0]).root_hash
        for name in ("old_checkpoint", "new_checkpoint")
    ]
    merkle.verify_consistency(
        size1=old,
        size2=new,
        proof=[_b64(h) for h in body["consistency_proof"]],
        root1=roots[0],
        root2=roots[1],
    )


def _problem(client: FlaskClient, path: str, status: int) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == status, response.data
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    assert body["instance"] == path.split("?")[0]
    assert {"type", "title"} <= body.keys()
    return body


@pytest.mark.parametrize(
    "query",
    [
        "",
        "index=1",
        "size=3",
        "index=x&size=3",
        "index=-1&size=3",
        "index=1.5&size=3",
        "index=%201&size=3",
        "index=1&size=99999999999999999999999",
        "index=5&size=3",
        "index=3&size=3",
        "index=0&size=100000",
    ],
)
def test_bad_inclusion_queries_are_422_problems(client: FlaskClient, query: str) -> None:
    body = _problem(client, f"/ledger/proof/inclusion?{query}", 422)
    assert body["type"].endswith("/problems/invalid-input")
    assert body["detail"]


@pytest.mark.parametrize(
    "query", ["", "old=0&new=3", "old=4&new=3", "old=a&new=3", "old=1&new=999999"]
)
def test_bad_consistency_queries_are_422_problems(client: FlaskClient, query: str) -> None:
    _problem(client, f"/ledger/proof/consistency?{query}", 422)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/ledger/entries/999999", 404),
        ("/ledger/entries/999999999999999999", 404),
        ("/ledger/entries/-1", 422),
        ("/ledger/entries/abc", 422),
        ("/ledger/entries/9999999999999999999999", 422),
        ("/ledger/nothing", 404),
        ("/.well-known/agritrace/other.json", 404),
    ],
)
def test_missing_and_malformed_records_are_problems(
    client: FlaskClient, path: str, status: int
) -> None:
    _problem(client, path, status)


def test_problem_types_are_described(site: Site, client: FlaskClient) -> None:
    body = _problem(client, "/ledger/entries/abc", 422)
    assert body["type"] == f"{site.settings.base_url}/problems/invalid-input"
    page = client.get(body["type"].removeprefix(site.settings.base_url))
    assert page.status_code == 200
    assert b"Invalid input" in page.data


def test_wrong_method_on_json_paths_is_a_405_problem(client: FlaskClient) -> None:
    response = client.post("/ledger/checkpoint")
    assert response.status_code == 405
    assert response.content_type == "application/problem+json"


def test_a_rotated_key_is_published_without_a_restart(tmp_path: Path) -> None:
    ring = KeyRing.create(tmp_path / "keys", b"rotation test passphrase")
    clock = [0.0]
    keys = PublicKeys(ring.folder, recheck_s=30, clock=lambda: clock[0])
    assert set(keys.stamp_keys()) == {0}
    ring.rotate(KeyPurpose.STAMP)
    assert set(keys.stamp_keys()) == {0}  # checked again only after recheck_s
    clock[0] = 31.0
    assert set(keys.stamp_keys()) == {0, 1}
    assert {key["kid"] for key in keys.jwks()["keys"]} >= {"stamp-0", "stamp-1"}


def test_healthz_answers_without_rate_limit(client: FlaskClient) -> None:
    for _ in range(3):
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.data == b"ok\n"
