"""The key ring: creation, opening, rotation, publication as JWKS, and every failure mode."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agritrace import keys
from agritrace.errors import (
    AgritraceError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    StorageUnavailableError,
)
from agritrace.key_seal import ARGON2ID_OWASP, UNSAFE_TEST_KDF, SealedKey
from agritrace.keys import (
    INDEX_FILE,
    DamagedKeyRingError,
    KeyPurpose,
    KeyRing,
    KeyStatus,
    WrongPassphraseError,
    public_keys_from_jwks,
    read_public_keys,
)
from agritrace.stamps.codec import sign_stamp, verify_stamp

PASSPHRASE = b"correct horse battery staple"
NOW = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)
LATER = dt.datetime(2027, 1, 2, 8, 30, 15, tzinfo=dt.UTC)
PREFIX = "HTTPS://TRACE.EXAMPLE.VN/S/"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "instance" / "keys"


@pytest.fixture
def ring(folder: Path) -> KeyRing:
    return KeyRing.create(folder, PASSPHRASE, now=NOW)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- create and open ---------------------------------------------------------------------


def test_create_makes_one_active_key_per_purpose(ring: KeyRing) -> None:
    infos = ring.list()
    assert [(i.purpose, i.key_id, i.status) for i in infos] == [
        (KeyPurpose.CHECKPOINT, 0, KeyStatus.ACTIVE),
        (KeyPurpose.STAMP, 0, KeyStatus.ACTIVE),
    ]
    assert {i.created for i in infos} == {NOW}
    assert {i.kid for i in infos} == {"stamp-0", "checkpoint-0"}


def test_files_are_sealed_with_argon2id_and_private_modes(folder: Path, ring: KeyRing) -> None:
    assert mode(folder) == 0o700
    for purpose in KeyPurpose:
        name = f"{purpose}-0.sealed"
        sealed = SealedKey.from_bytes((folder / name).read_bytes())
        assert sealed.params == ARGON2ID_OWASP
        assert mode(folder / name) == 0o600
        seed = ring.signer(purpose, 0).private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        assert seed not in (folder / name).read_bytes()
    for path in folder.iterdir():
        assert PASSPHRASE not in path.read_bytes()
    assert not [p for p in folder.iterdir() if p.name.endswith((".tmp", ".pem"))]


def _write_the_old_way(folder: Path, ring: KeyRing) -> None:
    """Replace each sealed file by the PBKDF2 PEM agritrace wrote before ADR 0012."""
    for info in ring.list():
        pem = ring.signer(info.purpose, info.key_id).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(PASSPHRASE),
        )
        (folder / f"{info.kid}.pem").write_bytes(pem)
        (folder / f"{info.kid}.sealed").unlink()


def test_a_ring_written_the_old_way_opens_and_is_resealed(folder: Path, ring: KeyRing) -> None:
    _write_the_old_way(folder, ring)
    with pytest.raises(WrongPassphraseError):
        KeyRing.open(folder, b"not the passphrase")
    assert sorted(p.name for p in folder.glob("*.pem")) == ["checkpoint-0.pem", "stamp-0.pem"]
    opened = KeyRing.open(folder, PASSPHRASE)
    assert opened.public_keys(KeyPurpose.STAMP) is not None
    assert not list(folder.glob("*.pem"))
    for info in ring.list():
        sealed = SealedKey.from_bytes((folder / f"{info.kid}.sealed").read_bytes())
        assert sealed.params == ARGON2ID_OWASP
        assert _seed(opened, info) == _seed(ring, info)
    assert _seed(KeyRing.open(folder, PASSPHRASE), ring.list()[0]) == _seed(ring, ring.list()[0])


def _seed(ring: KeyRing, info: keys.KeyInfo) -> bytes:
    return ring.signer(info.purpose, info.key_id).private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def test_a_ring_sealed_at_a_lower_cost_is_resealed(tmp_path: Path) -> None:
    cheap = KeyRing.create(tmp_path, PASSPHRASE, kdf=UNSAFE_TEST_KDF)
    assert (
        SealedKey.from_bytes((tmp_path / "stamp-0.sealed").read_bytes()).params == UNSAFE_TEST_KDF
    )
    KeyRing.open(tmp_path, PASSPHRASE, kdf=UNSAFE_TEST_KDF)  # asked for the same: unchanged
    assert (
        SealedKey.from_bytes((tmp_path / "stamp-0.sealed").read_bytes()).params == UNSAFE_TEST_KDF
    )
    opened = KeyRing.open(tmp_path, PASSPHRASE)
    assert SealedKey.from_bytes((tmp_path / "stamp-0.sealed").read_bytes()).params == ARGON2ID_OWASP
    assert _seed(opened, cheap.list()[0]) == _seed(cheap, cheap.list()[0])


def test_a_short_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="at least 16"):
        KeyRing.create(tmp_path, b"fifteen chars!!")


def test_index_lists_public_facts_only(folder: Path, ring: KeyRing) -> None:
    index = json.loads((folder / INDEX_FILE).read_text(encoding="utf-8"))
    assert index["format"] == "agritrace-keyring-v1"
    stamp_entry = next(e for e in index["keys"] if e["purpose"] == "stamp")
    assert stamp_entry == {
        "purpose": "stamp",
        "id": 0,
        "created": "2026-11-20T03:00:00Z",
        "status": "active",
        "public_key": stamp_entry["public_key"],
    }
    raw = base64.urlsafe_b64decode(stamp_entry["public_key"] + "=")
    assert raw == ring.active(KeyPurpose.STAMP).public_raw
    assert "=" not in stamp_entry["public_key"]


def test_create_refuses_an_existing_ring(folder: Path, ring: KeyRing) -> None:
    before = (folder / INDEX_FILE).read_bytes()
    with pytest.raises(ConflictError, match="already exists"):
        KeyRing.create(folder, PASSPHRASE)
    assert (folder / INDEX_FILE).read_bytes() == before


def test_open_loads_the_same_keys(folder: Path, ring: KeyRing) -> None:
    opened = KeyRing.open(folder, PASSPHRASE)
    assert opened.list() == ring.list()
    for purpose in KeyPurpose:
        key_id, private = opened.active_signer(purpose)
        signature = private.sign(b"message")
        ring.public_keys(purpose)[key_id].verify(signature, b"message")


def test_wrong_passphrase_is_a_clear_invalid_input(folder: Path, ring: KeyRing) -> None:
    with pytest.raises(WrongPassphraseError, match="wrong key passphrase") as info:
        KeyRing.open(folder, b"not the passphrase")
    assert isinstance(info.value, InvalidInputError)
    assert "AGRITRACE_KEY_PASSPHRASE" in str(info.value)
    assert "not the passphrase" not in str(info.value)
    assert PASSPHRASE.decode() not in str(info.value)


def test_missing_ring_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="run 'agritrace init'"):
        KeyRing.open(tmp_path / "nowhere", PASSPHRASE)
    assert not KeyRing.exists(tmp_path / "nowhere")


@pytest.mark.parametrize("passphrase", [b"", "text-not-bytes"])
def test_empty_or_text_passphrase_is_refused(folder: Path, passphrase: Any) -> None:
    with pytest.raises(InvalidInputError, match="passphrase must be bytes, at least 16 long"):
        KeyRing.create(folder, passphrase)
    assert not KeyRing.exists(folder)


def test_repr_shows_no_secret(ring: KeyRing) -> None:
    text = repr(ring) + repr(ring.list())
    assert "keys" in repr(ring)
    assert PASSPHRASE.decode() not in text
    assert "PRIVATE" not in text


# --- rotation ----------------------------------------------------------------------------


def test_rotation_adds_an_active_key_and_retires_the_old_one(folder: Path, ring: KeyRing) -> None:
    old_id, old_key = ring.active_signer(KeyPurpose.STAMP)
    new = ring.rotate(KeyPurpose.STAMP, now=LATER)
    assert (new.key_id, new.status, new.created) == (1, KeyStatus.ACTIVE, LATER)
    assert ring.active_signer(KeyPurpose.STAMP)[0] == 1
    statuses = {(i.purpose, i.key_id): i.status for i in ring.list()}
    assert statuses == {
        (KeyPurpose.STAMP, 0): KeyStatus.RETIRED,
        (KeyPurpose.STAMP, 1): KeyStatus.ACTIVE,
        (KeyPurpose.CHECKPOINT, 0): KeyStatus.ACTIVE,
    }
    # a stamp signed before the rotation still verifies, with the ring reopened from disk
    stamp = sign_stamp(5, key_id=old_id, private_key=old_key, prefix=PREFIX)
    reopened = KeyRing.open(folder, PASSPHRASE)
    assert reopened.list() == ring.list()
    verify_stamp(stamp, prefix=PREFIX, public_keys=reopened.public_keys(KeyPurpose.STAMP))
    new_id, new_key = reopened.active_signer(KeyPurpose.STAMP)
    fresh = sign_stamp(6, key_id=new_id, private_key=new_key, prefix=PREFIX)
    verify_stamp(fresh, prefix=PREFIX, public_keys=reopened.public_keys(KeyPurpose.STAMP))


def test_rotating_one_purpose_leaves_the_other(ring: KeyRing) -> None:
    before = ring.active(KeyPurpose.STAMP)
    ring.rotate(KeyPurpose.CHECKPOINT)
    assert ring.active(KeyPurpose.STAMP) == before
    assert ring.active(KeyPurpose.CHECKPOINT).key_id == 1


def test_rotations_by_two_processes_never_lose_a_key(folder: Path, ring: KeyRing) -> None:
    other = KeyRing.open(folder, PASSPHRASE)
    assert ring.rotate(KeyPurpose.STAMP).key_id == 1
    assert other.rotate(KeyPurpose.STAMP).key_id == 2  # saw the first rotation on disk
    final = KeyRing.open(folder, PASSPHRASE)
    stamp_keys = [(i.key_id, i.status) for i in final.list() if i.purpose is KeyPurpose.STAMP]
    assert stamp_keys == [(0, KeyStatus.RETIRED), (1, KeyStatus.RETIRED), (2, KeyStatus.ACTIVE)]
    assert other.active_signer(KeyPurpose.STAMP)[0] == 2


def test_rotation_stops_when_key_ids_run_out(
    monkeypatch: pytest.MonkeyPatch, folder: Path, ring: KeyRing
) -> None:
    monkeypatch.setattr(keys, "MAX_KEY_ID", 2)
    ring.rotate(KeyPurpose.STAMP)
    ring.rotate(KeyPurpose.STAMP)
    with pytest.raises(ConflictError, match="key ids are used"):
        ring.rotate(KeyPurpose.STAMP)
    assert ring.active(KeyPurpose.STAMP).key_id == 2
    assert KeyRing.open(folder, PASSPHRASE).active(KeyPurpose.STAMP).key_id == 2


def test_a_failed_write_leaves_the_previous_ring(
    monkeypatch: pytest.MonkeyPatch, folder: Path, ring: KeyRing
) -> None:
    before = (folder / INDEX_FILE).read_bytes()
    real_fsync = os.fsync
    calls = {"n": 0}

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # new key file, its folder, then the index: fail on the index
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(StorageUnavailableError, match="No space left on device"):
        ring.rotate(KeyPurpose.STAMP)
    monkeypatch.setattr(os, "fsync", real_fsync)

    assert ring.active_signer(KeyPurpose.STAMP)[0] == 0  # the object did not move on either
    assert (folder / INDEX_FILE).read_bytes() == before
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    reopened = KeyRing.open(folder, PASSPHRASE)
    assert reopened.active(KeyPurpose.STAMP).key_id == 0
    assert reopened.rotate(KeyPurpose.STAMP).key_id == 1  # the orphan key file is replaced


def test_signer_gives_active_and_retired_keys(ring: KeyRing) -> None:
    old_id, old_key = ring.active_signer(KeyPurpose.STAMP)
    ring.rotate(KeyPurpose.STAMP)
    assert ring.signer(KeyPurpose.STAMP, old_id) is old_key
    assert ring.signer(KeyPurpose.STAMP, 1) is ring.active_signer(KeyPurpose.STAMP)[1]
    with pytest.raises(NotFoundError, match="no stamp key 7"):
        ring.signer(KeyPurpose.STAMP, 7)


def test_read_public_keys_needs_no_passphrase(folder: Path, ring: KeyRing) -> None:
    ring.rotate(KeyPurpose.CHECKPOINT)
    assert read_public_keys(folder) == ring.list()
    with pytest.raises(NotFoundError, match="agritrace init"):
        read_public_keys(folder.parent / "elsewhere")


# --- damage ------------------------------------------------------------------------------


def test_garbled_index_is_damage(folder: Path, ring: KeyRing) -> None:
    (folder / INDEX_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(DamagedKeyRingError, match="damaged"):
        KeyRing.open(folder, PASSPHRASE)


@pytest.mark.parametrize(
    "change",
    [
        lambda doc: doc.update(format="other"),
        lambda doc: doc["keys"][0].update(id=300),
        lambda doc: doc["keys"][0].update(id=True),
        lambda doc: doc["keys"][0].update(status="sleeping"),
        lambda doc: doc["keys"][0].update(created="2026-11-20 03:00"),
        lambda doc: doc["keys"][0].update(public_key="AAAA"),
        lambda doc: doc["keys"].append(dict(doc["keys"][0])),
        lambda doc: doc["keys"][0].update(status="retired"),
    ],
    ids=["format", "id-range", "id-bool", "status", "created", "public-key", "dup", "no-active"],
)
def test_inconsistent_index_is_damage(folder: Path, ring: KeyRing, change: Any) -> None:
    doc = json.loads((folder / INDEX_FILE).read_text(encoding="utf-8"))
    change(doc)
    (folder / INDEX_FILE).write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(DamagedKeyRingError):
        KeyRing.open(folder, PASSPHRASE)


def test_swapped_key_file_is_refused(folder: Path, ring: KeyRing) -> None:
    # A sealed file is bound to its key's name and public key: it opens nowhere else.
    (folder / "stamp-0.sealed").write_bytes((folder / "checkpoint-0.sealed").read_bytes())
    with pytest.raises(WrongPassphraseError, match="damaged"):
        KeyRing.open(folder, PASSPHRASE)


def test_swapped_old_key_file_is_damage(folder: Path, ring: KeyRing) -> None:
    _write_the_old_way(folder, ring)
    (folder / "stamp-0.pem").write_bytes((folder / "checkpoint-0.pem").read_bytes())
    with pytest.raises(DamagedKeyRingError, match="does not match"):
        KeyRing.open(folder, PASSPHRASE)


def test_missing_key_file_is_damage(folder: Path, ring: KeyRing) -> None:
    (folder / "checkpoint-0.sealed").unlink()
    with pytest.raises(DamagedKeyRingError, match="cannot read"):
        KeyRing.open(folder, PASSPHRASE)


def test_unencrypted_key_file_is_refused(folder: Path, ring: KeyRing) -> None:
    plain = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (folder / "stamp-0.pem").write_bytes(plain)
    (folder / "stamp-0.sealed").unlink()
    with pytest.raises(DamagedKeyRingError, match="not encrypted"):
        KeyRing.open(folder, PASSPHRASE)


def test_every_error_is_an_agritrace_error() -> None:
    for error in (WrongPassphraseError, DamagedKeyRingError):
        assert issubclass(error, AgritraceError)


# --- JWKS --------------------------------------------------------------------------------


def test_jwks_follows_rfc_8037(ring: KeyRing) -> None:
    ring.rotate(KeyPurpose.STAMP)
    doc = json.loads(json.dumps(ring.jwks()))
    assert [k["kid"] for k in doc["keys"]] == ["checkpoint-0", "stamp-0", "stamp-1"]
    stamp_1 = doc["keys"][2]
    assert stamp_1 == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": stamp_1["x"],
        "kid": "stamp-1",
        "use": "sig",
        "alg": "EdDSA",
        "agritrace_purpose": "stamp",
        "agritrace_key_id": 1,
        "status": "active",
    }
    assert len(stamp_1["x"]) == 43
    assert doc["keys"][1]["status"] == "retired"
    for jwk in doc["keys"]:
        assert "d" not in jwk


def test_public_keys_from_jwks_round_trip(ring: KeyRing) -> None:
    ring.rotate(KeyPurpose.STAMP)
    doc = json.loads(json.dumps(ring.jwks()))
    for purpose in KeyPurpose:
        found = public_keys_from_jwks(doc, purpose)
        expected = ring.public_keys(purpose)
        assert found.keys() == expected.keys()
        for key_id, key in found.items():
            assert key.public_bytes_raw() == expected[key_id].public_bytes_raw()
    assert public_keys_from_jwks(doc, "stamp").keys() == {0, 1}


def test_public_keys_from_jwks_ignores_foreign_members(ring: KeyRing) -> None:
    doc = ring.jwks()
    doc["keys"].append({"kty": "RSA", "kid": "someone-else", "n": "AQAB", "e": "AQAB"})
    assert public_keys_from_jwks(doc, KeyPurpose.STAMP).keys() == {0}


def _stamp_member(ring: KeyRing, **changes: Any) -> dict[str, Any]:
    member = dict(ring.jwks()["keys"][1])
    assert member["kid"] == "stamp-0"
    member.update(changes)
    return {key: value for key, value in member.items() if value is not None}


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"kty": "EC"}, "kty must be OKP"),
        ({"crv": "X25519"}, "crv Ed25519"),
        ({"use": "enc"}, "use must be sig"),
        ({"alg": "ES256"}, "alg EdDSA"),
        ({"d": "AAAA"}, "private key"),
        ({"agritrace_key_id": None}, "agritrace_key_id"),
        ({"agritrace_key_id": "0"}, "agritrace_key_id"),
        ({"agritrace_key_id": True}, "agritrace_key_id"),
        ({"agritrace_key_id": 256}, "agritrace_key_id"),
        ({"kid": "stamp-9"}, "kid must be stamp-0"),
        ({"x": None}, "x must be base64url"),
        ({"x": 17}, "x must be base64url"),
        ({"x": "AAAA="}, "x must be base64url"),
        ({"x": "AA+A"}, "x must be base64url"),
        ({"x": "AAAA"}, "32-byte"),
    ],
)
def test_public_keys_from_jwks_refuses_bad_members(
    ring: KeyRing, changes: dict[str, Any], match: str
) -> None:
    doc = {"keys": [_stamp_member(ring, **changes)]}
    with pytest.raises(InvalidInputError, match=match):
        public_keys_from_jwks(doc, KeyPurpose.STAMP)


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ([], "JSON object with a 'keys' array"),
        ({"keys": {}}, "JSON object with a 'keys' array"),
        ({"keys": ["x"]}, "member 0 is not an object"),
        ({"keys": []}, "no stamp key"),
    ],
)
def test_public_keys_from_jwks_refuses_bad_documents(doc: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        public_keys_from_jwks(doc, KeyPurpose.STAMP)


def test_public_keys_from_jwks_refuses_duplicates(ring: KeyRing) -> None:
    member = _stamp_member(ring)
    with pytest.raises(InvalidInputError, match="twice"):
        public_keys_from_jwks({"keys": [member, member]}, KeyPurpose.STAMP)


def test_public_keys_from_jwks_refuses_unknown_purpose(ring: KeyRing) -> None:
    with pytest.raises(InvalidInputError, match="unknown key purpose"):
        public_keys_from_jwks(ring.jwks(), "encryption")
