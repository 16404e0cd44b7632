"""Tests for agritrace.ledger.checkpoint: C2SP tlog-checkpoint bodies and signed notes."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agritrace.errors import InvalidInputError, VerificationError
from agritrace.ledger.checkpoint import (
    MAX_NOTE_SIGNATURES,
    Checkpoint,
    NoteVerificationError,
    NoteVerifier,
    key_id,
    open_note,
    sign_note,
    signer_key_from_text,
    signer_key_to_text,
)

# golang.org/x/mod/sumdb/note's documented example: the reference implementation of the
# signed-note format, with both keys, so it pins signing as well as verifying.
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    b"If you think cryptography is the answer to your problem,\n"
    b"then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT
    + (
        "\n\u2014 PeterNeumann "
        "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    ).encode()
)

# The example note of https://c2sp.org/signed-note, verbatim. The spec does not publish its
# verifier key, so it can only be checked as an unknown signature (and cosigned).
SPEC_NOTE_TEXT = (
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed \u00e8 subito sera.\n"
).encode()
SPEC_NOTE = (
    SPEC_NOTE_TEXT
    + (
        "\n\u2014 quasimodo.example/salvatore "
        "NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
    ).encode()
)

# The example checkpoint of https://c2sp.org/tlog-checkpoint, verbatim.
SPEC_CHECKPOINT_BODY = (
    b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)
SPEC_CHECKPOINT_NOTE = (
    SPEC_CHECKPOINT_BODY
    + (
        "\n\u2014 example.com/behind-the-sofa "
        "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    ).encode()
)

ROOT = bytes(range(32))


def _key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


def _verifier(name: str, seed: int) -> NoteVerifier:
    return NoteVerifier.from_public_key(name, _key(seed).public_key())


# --- checkpoint bodies ------------------------------------------------------------------------


def test_spec_checkpoint_body_parses() -> None:
    checkpoint = Checkpoint.from_body(SPEC_CHECKPOINT_BODY)
    assert checkpoint == Checkpoint(
        origin="example.com/behind-the-sofa",
        size=20852163,
        root_hash=base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="),
    )
    assert checkpoint.to_body() == SPEC_CHECKPOINT_BODY


def test_body_layout() -> None:
    checkpoint = Checkpoint("agritrace.example/log", 0, b"\x00" * 32, ("ext one", "ext two"))
    assert checkpoint.to_body() == (
        b"agritrace.example/log\n0\n"
        b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
        b"ext one\next two\n"
    )


lines = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\n", min_codepoint=0x20),
    min_size=1,
    max_size=30,
)


@settings(max_examples=200)
@given(
    origin=lines,
    size=st.integers(0, 2**64 - 1),
    root_hash=st.binary(min_size=32, max_size=32),
    extensions=st.lists(lines, max_size=3).map(tuple),
)
@example(origin="o", size=2**64 - 1, root_hash=ROOT, extensions=())
def test_body_round_trip(
    origin: str, size: int, root_hash: bytes, extensions: tuple[str, ...]
) -> None:
    checkpoint = Checkpoint(origin, size, root_hash, extensions)
    body = checkpoint.to_body()
    assert Checkpoint.from_body(body) == checkpoint
    assert Checkpoint.from_body(body).to_body() == body


def _b64_root_variant() -> str:
    # Same 32 bytes, non-zero padding bits: decodes, but is not the canonical encoding.
    text = base64.b64encode(ROOT).decode()
    return text[:-2] + chr(ord(text[-2]) + 1) + "="


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"origin\n1\n" + base64.b64encode(ROOT),  # no final newline
        b"origin\n1\n",  # two lines
        b"\n1\n" + base64.b64encode(ROOT) + b"\n",  # empty origin
        b"origin\n01\n" + base64.b64encode(ROOT) + b"\n",
        b"origin\n+1\n" + base64.b64encode(ROOT) + b"\n",
        b"origin\n-1\n" + base64.b64encode(ROOT) + b"\n",
        b"origin\n 1\n" + base64.b64encode(ROOT) + b"\n",
        b"origin\n1_0\n" + base64.b64encode(ROOT) + b"\n",
        "origin\n\u0661\n".encode() + base64.b64encode(ROOT) + b"\n",  # Arabic-Indic one
        b"origin\n18446744073709551616\n" + base64.b64encode(ROOT) + b"\n",
        b"origin\n\n" + base64.b64encode(ROOT) + b"\n",
        b"origin\n1\n" + base64.b64encode(ROOT[:31]) + b"\n",
        b"origin\n1\n" + base64.b64encode(ROOT).rstrip(b"=") + b"\n",
        b"origin\n1\n" + base64.urlsafe_b64encode(b"\xff" * 32) + b"\n",
        b"origin\n1\n" + _b64_root_variant().encode() + b"\n",
        b"origin\n1\n" + base64.b64encode(ROOT) + b"\n\n",  # empty extension line
        b"origin\n1\n" + base64.b64encode(ROOT) + b"\n\next\n",
        b"origin\r\n1\r\n" + base64.b64encode(ROOT) + b"\r\n",
        b"ori\tgin\n1\n" + base64.b64encode(ROOT) + b"\n",
        b"origin\xff\n1\n" + base64.b64encode(ROOT) + b"\n",
    ],
)
def test_from_body_refuses_malformed(body: bytes) -> None:
    with pytest.raises(InvalidInputError):
        Checkpoint.from_body(body)


@pytest.mark.parametrize(
    "fields",
    [
        {"origin": ""},
        {"origin": "two\nlines"},
        {"origin": "tab\there"},
        {"size": -1},
        {"size": 2**64},
        {"size": True},
        {"root_hash": ROOT[:31]},
        {"root_hash": ROOT.hex()},
        {"extensions": ("",)},
        {"extensions": ("a\nb",)},
        {"extensions": ["list"]},
    ],
)
def test_checkpoint_refuses_invalid_fields(fields: dict[str, Any]) -> None:
    good: dict[str, Any] = {"origin": "o", "size": 1, "root_hash": ROOT}
    with pytest.raises(InvalidInputError):
        Checkpoint(**(good | fields))


# --- key strings ------------------------------------------------------------------------------


def test_go_reference_keys_parse_and_format() -> None:
    verifier = NoteVerifier.from_text(GO_VERIFIER_KEY)
    assert verifier.name == "PeterNeumann"
    assert verifier.key_id == bytes.fromhex("c74f20a3")
    assert verifier.to_text() == GO_VERIFIER_KEY
    name, private_key = signer_key_from_text(GO_SIGNER_KEY)
    assert name == "PeterNeumann"
    assert signer_key_to_text(name=name, private_key=private_key) == GO_SIGNER_KEY
    assert NoteVerifier.from_public_key(name, private_key.public_key()) == verifier
    assert key_id(name, private_key.public_key()) == verifier.key_id


@settings(max_examples=50)
@given(
    name=st.text(
        st.characters(exclude_categories=["Cs", "Zs", "Zl", "Zp", "Cc"], exclude_characters="+"),
        min_size=1,
        max_size=20,
    ),
    seed=st.binary(min_size=32, max_size=32),
)
def test_key_strings_round_trip(name: str, seed: bytes) -> None:
    private_key = Ed25519PrivateKey.from_private_bytes(seed)
    verifier = NoteVerifier.from_public_key(name, private_key.public_key())
    assert NoteVerifier.from_text(verifier.to_text()) == verifier
    parsed_name, parsed_key = signer_key_from_text(
        signer_key_to_text(name=name, private_key=private_key)
    )
    assert parsed_name == name
    assert NoteVerifier.from_public_key(name, parsed_key.public_key()) == verifier


@pytest.mark.parametrize(
    "text",
    [
        "",
        "PeterNeumann",
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # 7 hex digits
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key ID
        "PeterNeumanN+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # other name
        "PeterNeumann+c74f20a3+AhpdmQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # type 0x02
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # bad base64
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy",  # short key
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_verifier_key_refuses_malformed(text: str) -> None:
    with pytest.raises(InvalidInputError):
        NoteVerifier.from_text(text)


@pytest.mark.parametrize(
    "text",
    [
        GO_VERIFIER_KEY,  # a verifier key is not a signer key
        GO_SIGNER_KEY.replace("c74f20a3", "c74f20a4"),
        GO_SIGNER_KEY.replace("AYEK", "AoEK"),
        GO_SIGNER_KEY[:-4],
    ],
)
def test_signer_key_refuses_malformed(text: str) -> None:
    with pytest.raises(InvalidInputError) as failure:
        signer_key_from_text(text)
    assert "AYEKFALVFGyNhPJEMzD1QIDr" not in str(failure.value)


# --- signed notes -----------------------------------------------------------------------------


def test_go_reference_note_verifies() -> None:
    text, signers = open_note(GO_NOTE, verifiers=[NoteVerifier.from_text(GO_VERIFIER_KEY)])
    assert (text, signers) == (GO_TEXT, ["PeterNeumann"])


def test_signing_reproduces_go_reference_note() -> None:
    # Ed25519 is deterministic: the same key and text give the same bytes.
    name, private_key = signer_key_from_text(GO_SIGNER_KEY)
    assert sign_note(GO_TEXT, name=name, private_key=private_key) == GO_NOTE


def test_spec_example_note_with_unknown_key_is_rejected() -> None:
    with pytest.raises(NoteVerificationError, match="no signature from a known key"):
        open_note(SPEC_NOTE, verifiers=[NoteVerifier.from_text(GO_VERIFIER_KEY)])


def test_spec_example_note_cosigned_opens_with_our_key_and_ignores_theirs() -> None:
    # The text has a blank line of its own: the signatures start after the LAST one.
    note = sign_note(SPEC_NOTE, name="agritrace.example/witness", private_key=_key(7))
    assert note.startswith(SPEC_NOTE)
    text, signers = open_note(note, verifiers=[_verifier("agritrace.example/witness", 7)])
    assert (text, signers) == (SPEC_NOTE_TEXT, ["agritrace.example/witness"])


def test_spec_checkpoint_note_cosigned_opens_to_the_checkpoint() -> None:
    note = sign_note(SPEC_CHECKPOINT_NOTE, name="witness.example", private_key=_key(8))
    text, _ = open_note(note, verifiers=[_verifier("witness.example", 8)])
    assert Checkpoint.from_body(text).size == 20852163


note_texts = st.lists(
    st.text(
        st.characters(exclude_categories=["Cs"], exclude_characters="\n", min_codepoint=0x20),
        max_size=20,
    ),
    min_size=1,
    max_size=5,
).map(lambda items: "".join(item + "\n" for item in items).encode())
key_names = st.text(
    st.characters(exclude_categories=["Cs", "Zs", "Zl", "Zp", "Cc"], exclude_characters="+"),
    min_size=1,
    max_size=20,
)


@settings(max_examples=100)
@given(text=note_texts, name=key_names, seed=st.integers(0, 255))
@example(text=b"\n", name="n", seed=0)
@example(text=b"a\n\n", name="n", seed=0)
def test_sign_and_open_round_trip(text: bytes, name: str, seed: int) -> None:
    note = sign_note(text, name=name, private_key=_key(seed))
    assert open_note(note, verifiers=[_verifier(name, seed)]) == (text, [name])


def test_checkpoint_signed_and_opened() -> None:
    checkpoint = Checkpoint("agritrace.example/ledger", 42, ROOT)
    note = sign_note(checkpoint.to_body(), name="agritrace.example/ledger", private_key=_key(1))
    body, signers = open_note(note, verifiers=[_verifier("agritrace.example/ledger", 1)])
    assert Checkpoint.from_body(body) == checkpoint
    assert signers == ["agritrace.example/ledger"]


def test_multiple_signatures_all_reported_in_order() -> None:
    body = Checkpoint("log", 3, ROOT).to_body()
    note = body
    for name, seed in (("log", 1), ("witness-a", 2), ("witness-b", 3)):
        note = sign_note(note, name=name, private_key=_key(seed))
    verifiers = [_verifier("witness-b", 3), _verifier("log", 1), _verifier("witness-a", 2)]
    assert open_note(note, verifiers=verifiers) == (body, ["log", "witness-a", "witness-b"])
    assert note.count("\u2014".encode()) == 3


def test_unknown_signers_are_ignored() -> None:
    note = sign_note(GO_NOTE, name="log", private_key=_key(1))
    note = sign_note(note, name="other", private_key=_key(2))
    # Same name with another key, and another name with the same key: both unknown.
    verifiers = [_verifier("log", 1), _verifier("other", 9), _verifier("stranger", 2)]
    assert open_note(note, verifiers=verifiers) == (GO_TEXT, ["log"])


def test_no_known_signature_is_rejected() -> None:
    note = sign_note(GO_TEXT, name="log", private_key=_key(1))
    with pytest.raises(NoteVerificationError) as failure:
        open_note(note, verifiers=[_verifier("log", 2)])
    assert failure.value.facts["reason"] == "no signature from a known key"
    with pytest.raises(NoteVerificationError):
        open_note(note, verifiers=[])


def test_tampered_text_is_rejected() -> None:
    note = sign_note(GO_TEXT, name="log", private_key=_key(1))
    tampered = note.replace(b"cryptography", b"cryptographY")
    with pytest.raises(NoteVerificationError) as failure:
        open_note(tampered, verifiers=[_verifier("log", 1)])
    assert failure.value.facts["signer"] == "log"
    assert failure.value.facts["key_id"] == _verifier("log", 1).key_id.hex()
    assert isinstance(failure.value, VerificationError)


def _resign_blob(note: bytes, change: Any) -> bytes:
    text, _, line = note.rpartition(b"\n\n")
    prefix, _, blob = line.rstrip(b"\n").rpartition(b" ")
    raw = change(base64.b64decode(blob))
    return text + b"\n\n" + prefix + b" " + base64.b64encode(raw) + b"\n"


@settings(max_examples=100)
@given(position=st.integers(4, 4 + 63), bit=st.integers(0, 7))
def test_any_flipped_signature_bit_is_rejected(position: int, bit: int) -> None:
    note = sign_note(GO_TEXT, name="log", private_key=_key(1))

    def flip(raw: bytes) -> bytes:
        return raw[:position] + bytes([raw[position] ^ 1 << bit]) + raw[position + 1 :]

    with pytest.raises(NoteVerificationError, match="does not verify"):
        open_note(_resign_blob(note, flip), verifiers=[_verifier("log", 1)])


def test_truncated_signature_from_known_key_is_rejected() -> None:
    note = sign_note(GO_TEXT, name="log", private_key=_key(1))
    with pytest.raises(NoteVerificationError, match="does not verify"):
        open_note(_resign_blob(note, lambda raw: raw[:-1]), verifiers=[_verifier("log", 1)])


def test_one_bad_known_signature_rejects_the_whole_note() -> None:
    note = sign_note(GO_TEXT, name="good", private_key=_key(1))
    forged = sign_note(GO_TEXT + b"other\n", name="bad", private_key=_key(2))
    bad_line = forged.rpartition(b"\n\n")[2]
    with pytest.raises(NoteVerificationError) as failure:
        open_note(note + bad_line, verifiers=[_verifier("good", 1), _verifier("bad", 2)])
    assert failure.value.facts["signer"] == "bad"
    # Without the "bad" key configured, its line is just an unknown signature.
    assert open_note(note + bad_line, verifiers=[_verifier("good", 1)])[1] == ["good"]


def test_resigning_replaces_own_signature() -> None:
    note = sign_note(GO_NOTE, name="log", private_key=_key(1))
    assert sign_note(note, name="log", private_key=_key(1)) == note
    assert note.startswith(GO_NOTE)


def test_verifiers_may_be_a_mapping() -> None:
    note = sign_note(GO_TEXT, name="log", private_key=_key(1))
    assert open_note(note, verifiers={"log": _verifier("log", 1)})[1] == ["log"]


def test_ambiguous_verifiers_are_refused() -> None:
    one, other = _verifier("log", 1), _verifier("log", 2)
    clash = NoteVerifier.__new__(NoteVerifier)
    for field, value in (("name", "log"), ("public_key", other.public_key)):
        object.__setattr__(clash, field, value)
    object.__setattr__(clash, "key_id", one.key_id)  # a key ID collision
    with pytest.raises(InvalidInputError):
        open_note(sign_note(GO_TEXT, name="log", private_key=_key(1)), verifiers=[one, clash])


def _note_with_lines(lines: list[bytes]) -> bytes:
    return GO_TEXT + b"\n" + b"".join(line + b"\n" for line in lines)


GOOD_LINE = GO_NOTE.rpartition(b"\n\n")[2].rstrip(b"\n")


@pytest.mark.parametrize(
    "note",
    [
        GO_TEXT,  # no signatures
        GO_TEXT + b"\n",  # blank line, no signature lines
        GO_NOTE.rstrip(b"\n"),  # no final newline
        GO_NOTE.replace("\u2014".encode(), b"--"),
        GO_NOTE.replace(b"PeterNeumann ", b"PeterNeumann  "),
        GO_NOTE.replace(b"PeterNeumann ", b"Peter+Neumann "),
        GO_NOTE.replace(b"PeterNeumann ", b""),
        GO_NOTE.replace(b"nAM=", b"nAM"),  # unpadded base64
        GO_NOTE.replace(b"x08go", b"x08g!"),
        _note_with_lines([GOOD_LINE, b"not a signature"]),
        _note_with_lines([GOOD_LINE, "\u2014 name AQID".encode()]),  # 3 bytes: no room for an ID
        GO_NOTE.replace(b"problem,", b"problem,\t"),  # control character
        GO_NOTE.replace(b"problem,", b"problem\xff"),  # invalid UTF-8
        _note_with_lines([GOOD_LINE] * (MAX_NOTE_SIGNATURES + 1)),
    ],
)
def test_malformed_notes_are_rejected(note: bytes) -> None:
    with pytest.raises(NoteVerificationError):
        open_note(note, verifiers=[NoteVerifier.from_text(GO_VERIFIER_KEY)])


def test_many_signatures_up_to_the_limit_are_read() -> None:
    note = _note_with_lines([GOOD_LINE] * MAX_NOTE_SIGNATURES)
    assert open_note(note, verifiers=[NoteVerifier.from_text(GO_VERIFIER_KEY)])[1] == [
        "PeterNeumann"
    ]


@pytest.mark.parametrize(
    ("body", "name"),
    [
        (b"", "log"),
        (b"no newline", "log"),
        (b"tab\there\n", "log"),
        (b"\xff\n", "log"),
        (b"fine\n", ""),
        (b"fine\n", "with space"),
        (b"fine\n", "with+plus"),
        (b"fine\n", "nbsp\u00a0"),
    ],
)
def test_sign_note_refuses_bad_text_or_name(body: bytes, name: str) -> None:
    with pytest.raises(InvalidInputError):
        sign_note(body, name=name, private_key=_key(1))
