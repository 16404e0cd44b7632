"""The one Ed25519 key ring: stamp-signing keys and the ledger's checkpoint keys, by purpose.

A ring lives in one folder (normally ``<instance>/keys/``, mode 0700):

* ``keyring.json``: the index, ``{"format": "agritrace-keyring-v1", "keys": [...]}``, one
  entry per key with its ``purpose`` (``stamp`` or ``checkpoint``), ``id`` (a small int,
  0..255), ``created`` (UTC, ISO 8601 ``...Z``), ``status`` (``active`` or ``retired``) and
  ``public_key`` (the raw 32 bytes, base64url without padding);
* ``<purpose>-<id>.sealed``: each private key's seed sealed under the passphrase with
  Argon2id and AES-256-GCM (:mod:`agritrace.key_seal`), mode 0600. Rings written before
  ADR 0012 hold ``<purpose>-<id>.pem`` (PKCS#8 PEM, PBKDF2 with 2,048 iterations) instead;
  :meth:`KeyRing.open` still reads those and re-seals them at once, then removes the PEM.
  Sealed files of a lower cost than the one asked for are re-sealed the same way.

Guarantees: each purpose has exactly one active key; rotation adds a key and retires the
previous one, which keeps verifying (stamp key ids are the 1-byte key id in a stamp payload,
so ids never change or get reused). Every write goes to a temporary file that is then
renamed (``os.replace``), and writers take a lock on the folder, so a crash or a concurrent
rotation never leaves a half-written or lost key. Opening decrypts every private key and
checks it against the index. Passphrases and private keys never appear in messages, reprs
or logs.

Errors: a missing ring raises :class:`~agritrace.errors.NotFoundError` (hint: run
``agritrace init``); a wrong passphrase :class:`WrongPassphraseError` (an
:class:`~agritrace.errors.InvalidInputError`); a damaged ring :class:`DamagedKeyRingError`;
creating over an existing ring or exhausting the 256 stamp key ids
:class:`~agritrace.errors.ConflictError`; a malformed JWK Set InvalidInputError.

Public keys are published as an RFC 8037 JWK Set (:meth:`KeyRing.jwks`), which offline
verifiers read back with :func:`public_keys_from_jwks`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from agritrace import files
from agritrace.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    StorageUnavailableError,
)
from agritrace.key_seal import ARGON2ID_OWASP, KdfParams, SealedKey, Unsealer, WrongPassphraseError

__all__ = [
    "INDEX_FILE",
    "MAX_KEY_ID",
    "MIN_PASSPHRASE_BYTES",
    "DamagedKeyRingError",
    "KeyInfo",
    "KeyPurpose",
    "KeyRing",
    "KeyStatus",
    "WrongPassphraseError",
    "public_keys_from_jwks",
    "read_public_keys",
]

#: Name of the index file inside the ring's folder.
INDEX_FILE = "keyring.json"
#: Largest key id: stamp payloads carry the key id in one byte.
MAX_KEY_ID = 255
#: Shortest passphrase a ring accepts (ADR 0012).
MIN_PASSPHRASE_BYTES = 16

_FORMAT = "agritrace-keyring-v1"
_LOCK_FILE = ".lock"


class KeyPurpose(StrEnum):
    """What a key signs."""

    STAMP = "stamp"
    CHECKPOINT = "checkpoint"


class KeyStatus(StrEnum):
    """An active key signs; a retired key only verifies what it signed before."""

    ACTIVE = "active"
    RETIRED = "retired"


class DamagedKeyRingError(StorageUnavailableError):
    """The ring's files are unreadable or disagree with each other."""


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64url(text: object) -> bytes:
    """Strict base64url without padding: raises ValueError for anything non-canonical."""
    if not isinstance(text, str) or not text.isascii() or "=" in text:
        raise ValueError("not base64url text")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url text") from exc
    if _b64url(raw) != text:
        raise ValueError("not canonical base64url")
    return raw


def _utc_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """Public facts about one key of the ring (never the private key)."""

    purpose: KeyPurpose
    key_id: int
    created: dt.datetime
    status: KeyStatus
    public_raw: bytes

    @property
    def kid(self) -> str:
        """The JWK key id, ``"<purpose>-<id>"``, e.g. ``"stamp-0"``."""
        return f"{self.purpose}-{self.key_id}"

    @property
    def public_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_raw)

    def to_json(self) -> dict[str, Any]:
        """The key's entry in the index file."""
        return {
            "purpose": str(self.purpose),
            "id": self.key_id,
            "created": _utc_text(self.created),
            "status": str(self.status),
            "public_key": _b64url(self.public_raw),
        }

    @classmethod
    def from_json(cls, entry: object) -> KeyInfo:
        """Read an index entry; raises ValueError (or KeyError/TypeError) if malformed."""
        if not isinstance(entry, dict):
            raise TypeError("a key entry must be an object")
        key_id = entry["id"]
        if not isinstance(key_id, int) or isinstance(key_id, bool):
            raise TypeError("a key id must be an integer")
        if not 0 <= key_id <= MAX_KEY_ID:
            raise ValueError("a key id must be 0..255")
        created = dt.datetime.strptime(entry["created"], "%Y-%m-%dT%H:%M:%S%z")
        if not entry["created"].endswith("Z"):
            raise ValueError("created must be UTC, written with Z")
        public_raw = _unb64url(entry["public_key"])
        if len(public_raw) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes")
        return cls(
            purpose=KeyPurpose(entry["purpose"]),
            key_id=key_id,
            created=created.astimezone(dt.UTC),
            status=KeyStatus(entry["status"]),
            public_raw=public_raw,
        )

    def jwk(self) -> dict[str, Any]:
        """The key as an RFC 8037 public JWK with agritrace's extra members."""
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(self.public_raw),
            "kid": self.kid,
            "use": "sig",
            "alg": "EdDSA",
            "agritrace_purpose": str(self.purpose),
            "agritrace_key_id": self.key_id,
            "status": str(self.status),
        }


def _public_raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _check_passphrase(passphrase: bytes) -> None:
    if not isinstance(passphrase, bytes) or len(passphrase) < MIN_PASSPHRASE_BYTES:
        raise InvalidInputError(
            f"the key passphrase must be bytes, at least {MIN_PASSPHRASE_BYTES} long"
        )


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` all at once (:func:`agritrace.files.write_atomic`). Raises
    StorageUnavailableError if the disk refuses; ``path`` then still holds its previous
    content (or nothing)."""
    try:
        files.write_atomic(path, data, mode=mode)
    except OSError as exc:
        raise _unwritable(path, exc) from exc


def _unwritable(path: Path, exc: OSError) -> StorageUnavailableError:
    return StorageUnavailableError(
        f"cannot write {path.name} in the key ring {path.parent}: {exc.strerror or exc}",
        folder=str(path.parent),
    )


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on the ring's folder for the duration of a write."""
    try:
        with files.locked(folder / _LOCK_FILE, mode=0o600):
            yield
    except OSError as exc:
        raise _unwritable(folder / _LOCK_FILE, exc) from exc


class KeyRing:
    """An opened key ring: the index and the decrypted private keys.

    Build one with :meth:`create` or :meth:`open`; the constructor is internal.
    """

    def __init__(
        self,
        folder: Path,
        infos: list[KeyInfo],
        private: dict[tuple[KeyPurpose, int], Ed25519PrivateKey],
        passphrase: bytes,
        unsealer: Unsealer,
    ) -> None:
        self.folder = folder
        self._infos = infos
        self._private = private
        self._passphrase = passphrase
        self._unsealer = unsealer

    def __repr__(self) -> str:
        return f"KeyRing({str(self.folder)!r}, {len(self._infos)} keys)"

    # -- creating and opening ----------------------------------------------------------

    @classmethod
    def create(
        cls,
        folder: str | os.PathLike[str],
        passphrase: bytes,
        *,
        now: dt.datetime | None = None,
        kdf: KdfParams = ARGON2ID_OWASP,
    ) -> KeyRing:
        """Create a ring in ``folder`` with one active stamp key and one active checkpoint
        key (both id 0), sealed with ``passphrase`` at the Argon2id cost ``kdf``.

        Raises ConflictError if a ring already exists there, InvalidInputError for a
        passphrase shorter than :data:`MIN_PASSPHRASE_BYTES`.
        """
        _check_passphrase(passphrase)
        unsealer = Unsealer(passphrase, kdf)
        path = Path(folder)
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise _unwritable(path / INDEX_FILE, exc) from exc
        moment = now or dt.datetime.now(dt.UTC)
        with _locked(path):
            if (path / INDEX_FILE).exists():
                raise ConflictError(
                    f"a key ring already exists in {path}; rotate keys instead of creating a "
                    "new ring",
                    folder=str(path),
                )
            made = [_new_key(path, unsealer, purpose, 0, moment) for purpose in KeyPurpose]
            _write_index(path, [info for info, _ in made])
        return cls(
            path,
            [info for info, _ in made],
            {(info.purpose, info.key_id): key for info, key in made},
            passphrase,
            unsealer,
        )

    @classmethod
    def exists(cls, folder: str | os.PathLike[str]) -> bool:
        """True if ``folder`` holds a ring's index (whatever its state)."""
        return (Path(folder) / INDEX_FILE).is_file()

    @classmethod
    def open(
        cls,
        folder: str | os.PathLike[str],
        passphrase: bytes,
        *,
        kdf: KdfParams = ARGON2ID_OWASP,
    ) -> KeyRing:
        """Load the ring in ``folder`` and decrypt its private keys with ``passphrase``.

        Keys stored the old way (PBKDF2 PEM) or sealed at a lower cost than ``kdf`` are
        re-sealed at ``kdf`` before this returns. Raises NotFoundError if there is no ring
        (run ``agritrace init``), WrongPassphraseError if the passphrase does not decrypt
        the keys, and DamagedKeyRingError if a file is unreadable or a private key does not
        match its public key in the index.
        """
        _check_passphrase(passphrase)
        path = Path(folder)
        infos = _read_index(path)
        unsealer = Unsealer(passphrase, kdf)
        private: dict[tuple[KeyPurpose, int], Ed25519PrivateKey] = {}
        stale: list[KeyInfo] = []
        for info in infos:
            key, current = _load_private(path, info, unsealer, passphrase)
            private[info.purpose, info.key_id] = key
            if not current:
                stale.append(info)
        if stale:
            with _locked(path):
                for info in stale:
                    _write_sealed(path, info, private[info.purpose, info.key_id], unsealer)
                for info in stale:
                    (path / _pem_name(info)).unlink(missing_ok=True)
        return cls(path, infos, private, passphrase, unsealer)

    # -- reading -----------------------------------------------------------------------

    def list(self) -> list[KeyInfo]:
        """Every key, ordered by purpose then id."""
        return sorted(self._infos, key=lambda info: (info.purpose, info.key_id))

    def active(self, purpose: KeyPurpose) -> KeyInfo:
        """The active key of ``purpose``."""
        for info in self._infos:
            if info.purpose is purpose and info.status is KeyStatus.ACTIVE:
                return info
        raise DamagedKeyRingError(  # pragma: no cover - open() and create() ensure one
            f"the key ring in {self.folder} has no active {purpose} key", purpose=str(purpose)
        )

    def active_signer(self, purpose: KeyPurpose) -> tuple[int, Ed25519PrivateKey]:
        """The id and private key that sign for ``purpose`` now."""
        info = self.active(purpose)
        return info.key_id, self._private[purpose, info.key_id]

    def signer(self, purpose: KeyPurpose, key_id: int) -> Ed25519PrivateKey:
        """The private key ``key_id`` of ``purpose``, active or retired (to reprint a batch
        with the key it was issued under). Raises NotFoundError for an unknown key."""
        key = self._private.get((purpose, key_id))
        if key is None:
            raise NotFoundError(f"the key ring has no {purpose} key {key_id}", key_id=key_id)
        return key

    def public_keys(self, purpose: KeyPurpose) -> dict[int, Ed25519PublicKey]:
        """Every key of ``purpose``, active and retired, by id: what a verifier needs."""
        return {info.key_id: info.public_key for info in self._infos if info.purpose is purpose}

    def jwks(self) -> dict[str, Any]:
        """All public keys as an RFC 8037 JWK Set, for ``/.well-known/agritrace/keys.json``.

        Each key: ``kty`` ``OKP``, ``crv`` ``Ed25519``, ``x`` (base64url, no padding),
        ``kid`` (``"stamp-0"``), ``use`` ``sig``, ``alg`` ``EdDSA``, plus
        ``agritrace_purpose``, ``agritrace_key_id`` and ``status``.
        """
        return {"keys": [info.jwk() for info in self.list()]}

    # -- changing ----------------------------------------------------------------------

    def rotate(self, purpose: KeyPurpose, *, now: dt.datetime | None = None) -> KeyInfo:
        """Add a new active key for ``purpose`` and retire the previous one (it still
        verifies). Returns the new key's info.

        The ring's state changes only once the new index is on disk: if anything fails,
        this object and the folder still describe the previous ring. Raises ConflictError
        once the 256 key ids of ``purpose`` are used up, StorageUnavailableError if the
        disk refuses the write.
        """
        moment = now or dt.datetime.now(dt.UTC)
        with _locked(self.folder):
            # Another process may have rotated since this ring was opened: start from disk.
            current = _read_index(self.folder)
            private = dict(self._private)
            for info in current:
                if (info.purpose, info.key_id) not in private:
                    private[info.purpose, info.key_id], _ = _load_private(
                        self.folder, info, self._unsealer, self._passphrase
                    )
            used = [info.key_id for info in current if info.purpose is purpose]
            new_id = max(used, default=-1) + 1
            if new_id > MAX_KEY_ID:
                raise ConflictError(
                    f"all {MAX_KEY_ID + 1} {purpose} key ids are used; no further rotation is "
                    "possible with this ring",
                    purpose=str(purpose),
                )
            retired = [
                KeyInfo(i.purpose, i.key_id, i.created, KeyStatus.RETIRED, i.public_raw)
                if i.purpose is purpose
                else i
                for i in current
            ]
            new, key = _new_key(self.folder, self._unsealer, purpose, new_id, moment)
            _write_index(self.folder, [*retired, new])
        self._infos = [*retired, new]
        self._private = private | {(purpose, new_id): key}
        return new


def _new_key(
    folder: Path, unsealer: Unsealer, purpose: KeyPurpose, key_id: int, moment: dt.datetime
) -> tuple[KeyInfo, Ed25519PrivateKey]:
    """Generate an active key and write it sealed (before any index names it)."""
    key = Ed25519PrivateKey.generate()
    info = KeyInfo(
        purpose, key_id, moment.replace(microsecond=0), KeyStatus.ACTIVE, _public_raw(key)
    )
    _write_sealed(folder, info, key, unsealer)
    return info, key


def _associated(info: KeyInfo) -> bytes:
    """What a sealed file is bound to: its key's name and public key."""
    return f"agritrace key {info.kid}\n".encode("ascii") + info.public_raw


def _write_sealed(folder: Path, info: KeyInfo, key: Ed25519PrivateKey, unsealer: Unsealer) -> None:
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    sealed = unsealer.seal(seed, associated=_associated(info))
    _write_atomic(folder / _sealed_name(info), sealed.to_bytes(), 0o600)


def _write_index(folder: Path, infos: list[KeyInfo]) -> None:
    ordered = sorted(infos, key=lambda info: (info.purpose, info.key_id))
    document = {"format": _FORMAT, "keys": [info.to_json() for info in ordered]}
    data = json.dumps(document, indent=2, sort_keys=True).encode("utf-8") + b"\n"
    _write_atomic(folder / INDEX_FILE, data, 0o644)


def _pem_name(info: KeyInfo) -> str:
    return f"{info.purpose}-{info.key_id}.pem"


def _sealed_name(info: KeyInfo) -> str:
    return f"{info.purpose}-{info.key_id}.sealed"


def _read_index(folder: Path) -> list[KeyInfo]:
    index = folder / INDEX_FILE
    try:
        raw = index.read_bytes()
    except FileNotFoundError as exc:
        raise NotFoundError(
            f"no key ring in {folder}: run 'agritrace init' to create one", folder=str(folder)
        ) from exc
    except OSError as exc:
        raise DamagedKeyRingError(
            f"cannot read the key ring index {index}: {exc.strerror}", folder=str(folder)
        ) from exc
    try:
        document = json.loads(raw)
        if not isinstance(document, dict) or document.get("format") != _FORMAT:
            raise ValueError("unknown format")
        entries = document["keys"]
        if not isinstance(entries, list):
            raise TypeError("keys must be a list")
        infos = [KeyInfo.from_json(entry) for entry in entries]
    except (ValueError, KeyError, TypeError) as exc:
        raise DamagedKeyRingError(
            f"the key ring index {index} is damaged or of an unknown format", folder=str(folder)
        ) from exc
    for purpose in KeyPurpose:
        mine = [info for info in infos if info.purpose is purpose]
        ids = {info.key_id for info in mine}
        active = [info for info in mine if info.status is KeyStatus.ACTIVE]
        if len(ids) != len(mine) or len(active) != 1:
            raise DamagedKeyRingError(
                f"the key ring index {index} must list unique {purpose} key ids with exactly "
                "one active key",
                folder=str(folder),
            )
    return infos


def _load_private(
    folder: Path, info: KeyInfo, unsealer: Unsealer, passphrase: bytes
) -> tuple[Ed25519PrivateKey, bool]:
    """The private key of ``info``, and whether it is sealed at the unsealer's cost or more
    (False: it must be re-sealed). Checks it against the index's public key."""
    sealed_path = folder / _sealed_name(info)
    if sealed_path.exists():
        key, current = _load_sealed(sealed_path, info, unsealer)
    else:
        key, current = _load_pem(folder / _pem_name(info), info, passphrase), False
    if _public_raw(key) != info.public_raw:
        raise DamagedKeyRingError(
            f"the private key file for {info.kid} does not match the key ring index in {folder}",
            kid=info.kid,
        )
    return key, current


def _load_sealed(path: Path, info: KeyInfo, unsealer: Unsealer) -> tuple[Ed25519PrivateKey, bool]:
    try:
        sealed = SealedKey.from_bytes(path.read_bytes())
    except OSError as exc:
        raise DamagedKeyRingError(
            f"cannot read the private key file {path}: {exc.strerror}", kid=info.kid
        ) from exc
    except InvalidInputError as exc:
        raise DamagedKeyRingError(f"the private key file {path} is damaged", kid=info.kid) from exc
    try:
        seed = unsealer.unseal(sealed, associated=_associated(info))
    except WrongPassphraseError as exc:
        raise WrongPassphraseError(
            f"wrong key passphrase for the key ring in {path.parent} (or the file {path.name} "
            "is damaged): check AGRITRACE_KEY_PASSPHRASE",
            kid=info.kid,
        ) from exc
    try:
        key = Ed25519PrivateKey.from_private_bytes(seed)
    except ValueError as exc:
        raise DamagedKeyRingError(
            f"the private key file {path} is not Ed25519", kid=info.kid
        ) from exc
    return key, sealed.params.at_least(unsealer.params)


def _load_pem(path: Path, info: KeyInfo, passphrase: bytes) -> Ed25519PrivateKey:
    """A key of a ring written before ADR 0012 (PKCS#8 PEM, PBKDF2)."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise DamagedKeyRingError(
            f"cannot read the private key file {path}: {exc.strerror}", kid=info.kid
        ) from exc
    if b"ENCRYPTED PRIVATE KEY" not in pem:
        raise DamagedKeyRingError(f"the private key file {path} is not encrypted", kid=info.kid)
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase)
    except ValueError as exc:
        # cryptography reports a wrong password and a corrupt file alike; the former is
        # by far the common case, so say so, and mention the latter.
        raise WrongPassphraseError(
            f"wrong key passphrase for the key ring in {path.parent} (or the file {path.name} "
            "is damaged): check AGRITRACE_KEY_PASSPHRASE",
            kid=info.kid,
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise DamagedKeyRingError(f"the private key file {path} is not Ed25519", kid=info.kid)
    return key


def public_keys_from_jwks(
    document: Mapping[str, Any] | object, purpose: KeyPurpose | str
) -> dict[int, Ed25519PublicKey]:
    """The ``purpose`` keys of a published JWK Set (as made by :meth:`KeyRing.jwks`), by id.

    For offline verifiers. Members of other purposes are ignored; every member of
    ``purpose`` must be a public Ed25519 OKP key (RFC 8037) with a canonical 32-byte ``x``,
    ``agritrace_key_id`` 0..255 matching its ``kid``, ``use`` ``sig`` and ``alg`` ``EdDSA``
    when present, and no private part ``d``. Raises InvalidInputError naming the first
    problem, including when the set holds no key of ``purpose``.
    """
    try:
        wanted = KeyPurpose(purpose)
    except ValueError:
        raise InvalidInputError(f"unknown key purpose {purpose!r}") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise InvalidInputError("a JWK Set is a JSON object with a 'keys' array")
    keys: dict[int, Ed25519PublicKey] = {}
    for position, jwk in enumerate(document["keys"]):
        if not isinstance(jwk, Mapping):
            raise InvalidInputError(f"JWK Set member {position} is not an object")
        if jwk.get("agritrace_purpose") != str(wanted):
            continue
        key_id, key = _public_from_jwk(jwk, wanted, position)
        if key_id in keys:
            raise InvalidInputError(
                f"JWK Set lists {wanted} key {key_id} twice", key_id=key_id, member=position
            )
        keys[key_id] = key
    if not keys:
        raise InvalidInputError(f"the JWK Set holds no {wanted} key", purpose=str(wanted))
    return keys


def _public_from_jwk(
    jwk: Mapping[str, Any], purpose: KeyPurpose, position: int
) -> tuple[int, Ed25519PublicKey]:
    def bad(why: str) -> InvalidInputError:
        return InvalidInputError(f"JWK Set member {position}: {why}", member=position)

    if "d" in jwk:
        raise bad("it carries a private key ('d'); publish public keys only")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise bad("kty must be OKP and crv Ed25519 (RFC 8037)")
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", "EdDSA") != "EdDSA":
        raise bad("use must be sig and alg EdDSA")
    key_id = jwk.get("agritrace_key_id")
    if not isinstance(key_id, int) or isinstance(key_id, bool) or not 0 <= key_id <= MAX_KEY_ID:
        raise bad("agritrace_key_id must be an integer 0..255")
    if "kid" in jwk and jwk["kid"] != f"{purpose}-{key_id}":
        raise bad(f"kid must be {purpose}-{key_id}")
    try:
        raw = _unb64url(jwk.get("x"))
    except ValueError:
        raise bad("x must be base64url without padding") from None
    if len(raw) != 32:
        raise bad("x must hold a 32-byte Ed25519 public key")
    return key_id, Ed25519PublicKey.from_public_bytes(raw)


def read_public_keys(folder: str | os.PathLike[str]) -> list[KeyInfo]:
    """The public facts of every key in the ring in ``folder``, without any passphrase.

    For verifiers (audits, the public key list). Raises NotFoundError if there is no ring
    and DamagedKeyRingError if its index is unreadable.
    """
    return sorted(_read_index(Path(folder)), key=lambda info: (info.purpose, info.key_id))
