"""Salted commitments to the private fields of a ledger entry, and their openings.

A public ledger entry must prove what a facility recorded without telling everyone who reads
the ledger its trading partners, quantities, temperatures and notes
(docs/adr/0013-what-the-ledger-reveals.md). A *sealed* entry (version 2) therefore carries,
instead of each private field's value, a commitment to it; the value and a random salt (the
field's *opening*) are kept apart and shown only to those allowed to see them. The sealed
entry is what is hashed into the Merkle tree, so every proof works on it unchanged.

Commitment (exact bytes)::

    commitment = SHA-256( b"agritrace-commitment/v1" || 0x00 || salt || JCS(member) )
    member     = {"field": <field name>, "value": <the field's JSON value>}

``salt`` is exactly 32 bytes from the operating system's CSPRNG, fresh for every field of
every entry; ``JCS`` is RFC 8785 canonical JSON (:mod:`agritrace.ledger.canonical`: no floats).
The fixed-length salt makes the concatenation unambiguous, and the field name inside the
hashed member binds a value to its field (an opening of ``display.to`` cannot pass for
``display.note``). Without the salt, a value from a small set (a quantity, one of a few
facilities) could be found by hashing every candidate; with 256 random bits it cannot.

Field names are a member of the entry (``"reason"``) or a member of one of its objects
(``"epcis.quantityList"``, ``"display.to"``): ASCII letters, digits and ``_ : -``, at most
one dot. A sealed entry is the original entry without its private fields, plus::

    "version": 2,
    "private": {"<field name>": "<base64 commitment>", ...}

Openings travel as ``{"field": ..., "salt": "<base64>", "value": ...}`` (base64 is RFC 4648
standard alphabet with padding). :func:`reveal` puts verified openings back; given every
opening of an entry it returns exactly the entry that was sealed. Every refusal raises
:class:`CommitmentError` with the facts ``field`` and ``reason`` (``unknown field``,
``mismatch``, ``malformed``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agritrace.errors import InvalidInputError, VerificationError
from agritrace.ledger.canonical import to_canonical_bytes

__all__ = [
    "COMMITMENT_DOMAIN",
    "PRIVATE_MEMBER",
    "SALT_BYTES",
    "SEALED_VERSION",
    "CommitmentError",
    "Opening",
    "commit",
    "is_sealed",
    "reveal",
    "seal",
    "verify_opening",
    "verify_openings",
]

COMMITMENT_DOMAIN = b"agritrace-commitment/v1\x00"
SALT_BYTES = 32
SEALED_VERSION = 2
PRIVATE_MEMBER = "private"
MAX_OPENINGS = 1_000_000
_NAME = re.compile(r"[A-Za-z0-9_:-]{1,64}(\.[A-Za-z0-9_:-]{1,64})?")


class CommitmentError(VerificationError):
    """An opening does not match its entry's commitment, or is malformed. Facts: ``field``,
    ``reason``."""


@dataclass(frozen=True, slots=True)
class Opening:
    """The value of one private field and the salt its commitment was made with."""

    field: str
    salt: bytes
    value: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "salt": base64.b64encode(self.salt).decode("ascii"),
            "value": self.value,
        }

    @classmethod
    def from_json(cls, raw: object) -> Opening:
        """An opening from its JSON form; CommitmentError ``malformed`` if it is not one."""
        if not isinstance(raw, Mapping) or set(raw) != {"field", "salt", "value"}:
            raise _error("?", "malformed", "an opening needs exactly field, salt and value")
        name, salt = raw["field"], raw["salt"]
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise _error("?", "malformed", "an opening's field is not a field name")
        try:
            raw_salt = base64.b64decode(salt, validate=True) if isinstance(salt, str) else b""
        except binascii.Error:
            raw_salt = b""
        if len(raw_salt) != SALT_BYTES:
            raise _error(name, "malformed", f"the salt is not {SALT_BYTES} bytes in base64")
        return cls(field=name, salt=raw_salt, value=raw["value"])


def _error(name: str, reason: str, detail: str) -> CommitmentError:
    return CommitmentError(f"private field {name!r}: {detail}", field=name, reason=reason)


def commit(name: str, value: object, salt: bytes) -> bytes:
    """The 32-byte commitment to ``value`` as field ``name`` under ``salt`` (see above)."""
    if len(salt) != SALT_BYTES:
        raise InvalidInputError(f"a salt is {SALT_BYTES} bytes", reason="salt length")
    member = to_canonical_bytes({"field": name, "value": value})
    return hashlib.sha256(COMMITMENT_DOMAIN + salt + member).digest()


def _split(name: str) -> tuple[str, str | None]:
    if not _NAME.fullmatch(name):
        raise InvalidInputError(f"{name!r} is not a field name", reason="field name")
    outer, _, inner = name.partition(".")
    return outer, inner or None


def _take(body: dict[str, Any], name: str) -> tuple[bool, Any]:
    """Remove field ``name`` from ``body`` (a copy the caller owns); (found, value)."""
    outer, inner = _split(name)
    if inner is None:
        return (True, body.pop(outer)) if outer in body else (False, None)
    holder = body.get(outer)
    if not isinstance(holder, dict) or inner not in holder:
        return False, None
    body[outer] = {k: v for k, v in holder.items() if k != inner}
    return True, holder[inner]


def _put(body: dict[str, Any], name: str, value: Any) -> None:
    outer, inner = _split(name)
    if inner is None:
        body[outer] = value
    else:
        holder = body.get(outer)
        body[outer] = {**(holder if isinstance(holder, dict) else {}), inner: value}


def seal(
    body: Mapping[str, Any], fields: Iterable[str]
) -> tuple[dict[str, Any], tuple[Opening, ...]]:
    """The sealed form of ``body`` and the openings of its private ``fields``.

    Fields absent from ``body`` are skipped; with none present the body is returned as it
    is (an entry with nothing private stays a plain entry). Each field gets a fresh salt.
    """
    public = dict(body)
    if PRIVATE_MEMBER in public or "version" in public:
        raise InvalidInputError("a sealed entry cannot be sealed again", reason="sealed")
    openings: list[Opening] = []
    for name in dict.fromkeys(fields):
        found, value = _take(public, name)
        if found:
            openings.append(Opening(name, secrets.token_bytes(SALT_BYTES), value))
    if not openings:
        return dict(body), ()
    public["version"] = SEALED_VERSION
    public[PRIVATE_MEMBER] = {
        o.field: base64.b64encode(commit(o.field, o.value, o.salt)).decode("ascii")
        for o in openings
    }
    return public, tuple(openings)


def is_sealed(body: Mapping[str, Any]) -> bool:
    return body.get("version") == SEALED_VERSION and isinstance(body.get(PRIVATE_MEMBER), dict)


def verify_opening(public: Mapping[str, Any], opening: Opening) -> None:
    """Return if ``opening`` opens the commitment of its field in ``public``; else raise."""
    committed = public.get(PRIVATE_MEMBER) if is_sealed(public) else None
    expected = committed.get(opening.field) if isinstance(committed, dict) else None
    if not isinstance(expected, str):
        raise _error(opening.field, "unknown field", "the entry commits to no such field")
    try:
        computed = commit(opening.field, opening.value, opening.salt)
    except InvalidInputError as exc:
        raise _error(opening.field, "malformed", f"the value cannot be committed: {exc}") from exc
    if not hmac.compare_digest(base64.b64encode(computed).decode("ascii"), expected):
        raise _error(opening.field, "mismatch", "the opening does not match its commitment")


def reveal(public: Mapping[str, Any], openings: Iterable[Opening]) -> dict[str, Any]:
    """``public`` with every opening verified and put back.

    With every opening of the entry, the result is exactly the entry that was sealed; a
    field left unopened stays committed under ``private``. A plain entry with no openings is
    returned as it is. Raises CommitmentError on the first opening that does not verify.
    """
    body = dict(public)
    remaining = dict(body.get(PRIVATE_MEMBER) or {}) if is_sealed(body) else {}
    for opening in openings:
        verify_opening(public, opening)
        _put(body, opening.field, opening.value)
        remaining.pop(opening.field, None)
    if is_sealed(body):
        if remaining:
            body[PRIVATE_MEMBER] = remaining
        else:
            del body[PRIVATE_MEMBER], body["version"]
    return body


def verify_openings(raw: object, entries: Mapping[int, Any]) -> tuple[tuple[int, Opening], ...]:
    """Check the ``openings`` section of a proof bundle against its (already proven) entries.

    ``raw`` is the section as parsed JSON: absent (None) or a list of openings, each with the
    ``index`` of an entry of ``entries`` (index to parsed entry). Returns every (index,
    opening) in order; raises CommitmentError on the first that is malformed, names an entry
    the bundle does not prove, or does not match its commitment.
    """
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_OPENINGS:
        raise _error("?", "malformed", "'openings' must be a list of openings")
    checked: list[tuple[int, Opening]] = []
    for item in raw:
        index = item.get("index") if isinstance(item, dict) else None
        if not isinstance(index, int) or isinstance(index, bool) or index not in entries:
            raise _error("?", "malformed", "an opening must name the index of a bundled entry")
        opening = Opening.from_json({k: v for k, v in item.items() if k != "index"})
        body = entries[index]
        if not isinstance(body, Mapping):
            raise _error(opening.field, "unknown field", f"entry #{index} is not an object")
        verify_opening(body, opening)
        checked.append((index, opening))
    return tuple(checked)
