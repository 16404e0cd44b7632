"""Runtime settings: the one place that reads ``os.environ``.

``Settings.from_env()`` builds a frozen :class:`Settings` from ``AGRITRACE_*`` variables and
checks them at start-up, raising :class:`~agritrace.errors.InvalidInputError` with a message
that names the variable. There is no default secret outside demo mode (``AGRITRACE_DEMO=1``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agritrace.errors import InvalidInputError
from agritrace.key_seal import ARGON2ID_OWASP, UNSAFE_TEST_KDF, KdfParams

__all__ = [
    "DEMO_KEY_PASSPHRASE",
    "DEMO_SECRET_KEY",
    "MAX_TOKEN_DAYS",
    "MIN_KEY_PASSPHRASE_CHARS",
    "Settings",
]

#: Well-known, deliberately public secrets used only when ``AGRITRACE_DEMO=1``.
DEMO_KEY_PASSPHRASE = "agritrace-demo-passphrase-not-secret"  # noqa: S105 - public by design, demo only
DEMO_SECRET_KEY = "agritrace-demo-secret-key-not-secret"  # noqa: S105 - public by design, demo only

#: Shortest key passphrase accepted (it is the only secret between a copied key file and
#: the signing keys; see ADR 0012).
MIN_KEY_PASSPHRASE_CHARS = 16

#: The longest any API token may live, whatever the settings say (ten years).
MAX_TOKEN_DAYS = 3650

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise InvalidInputError(f"{name} must be 1 or 0, not {raw!r}", variable=name)


#: The rate-limit groups a setting may name (agritrace.web.security.DEFAULT_RATE_LIMITS).
_RATE_GROUPS = frozenset({"stamp", "public", "signin", "api"})


def _rate_limits(raw: str) -> dict[str, int] | None:
    """``stamp=120,public=600`` (0 disables a limit) into a mapping; empty: None. Groups
    not named keep their defaults."""
    if not raw.strip():
        return None
    limits: dict[str, int] = {}
    for part in raw.split(","):
        group, sep, value = part.partition("=")
        number = value.strip()
        if (
            not sep
            or group.strip() not in _RATE_GROUPS
            or not (number.isascii() and number.isdigit() and len(number) <= 9)
        ):
            raise InvalidInputError(
                "AGRITRACE_RATE_LIMITS must look like stamp=120,public=600,signin=20,api=600 "
                "(0 disables)",
                variable="AGRITRACE_RATE_LIMITS",
            )
        limits[group.strip()] = int(value)
    return limits


def _check_database_url(url: str, variable: str) -> None:
    if not url.startswith(("sqlite:", "postgresql")):
        raise InvalidInputError(
            f"{variable} must be a sqlite:/// or postgresql+psycopg:// URL", variable=variable
        )


def _redis_url(raw: str) -> str:
    url = raw.strip()
    if url and urlsplit(url).scheme not in {"redis", "rediss", "redis+unix"}:
        raise InvalidInputError(
            "AGRITRACE_REDIS_URL must look like redis://127.0.0.1:6379/0",
            variable="AGRITRACE_REDIS_URL",
        )
    return url


def _days(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_TOKEN_DAYS:
        raise InvalidInputError(
            f"{name} must be a number of days from 1 to {MAX_TOKEN_DAYS}, not {raw!r}",
            variable=name,
        )
    return int(raw)


def _token_days(env: Mapping[str, str]) -> dict[str, int]:
    days = _days(env, "AGRITRACE_TOKEN_DAYS", 90)
    most = _days(env, "AGRITRACE_TOKEN_MAX_DAYS", max(365, days))
    if days > most:
        raise InvalidInputError(
            f"AGRITRACE_TOKEN_DAYS ({days}) exceeds AGRITRACE_TOKEN_MAX_DAYS ({most})",
            variable="AGRITRACE_TOKEN_DAYS",
        )
    return {"token_days": days, "token_max_days": most}


def _check_base_url(raw: str) -> str:
    url = raw.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise InvalidInputError(
            f"AGRITRACE_BASE_URL must look like https://trace.example.vn, not {raw!r}",
            variable="AGRITRACE_BASE_URL",
        )
    if parts.path or parts.query or parts.fragment:
        raise InvalidInputError(
            "AGRITRACE_BASE_URL must be scheme and host only (no path, query or fragment)",
            variable="AGRITRACE_BASE_URL",
        )
    if parts.scheme == "http" and parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise InvalidInputError(
            "AGRITRACE_BASE_URL must use https (plain http is allowed only for localhost)",
            variable="AGRITRACE_BASE_URL",
        )
    return url


@dataclass(frozen=True, slots=True)
class Settings:
    """Checked configuration. Build it with :meth:`from_env` (or directly in tests)."""

    instance: Path
    database_url: str
    base_url: str
    key_passphrase: bytes = field(repr=False)
    secret_key: str = field(repr=False)
    demo: bool = False
    timezone: str = "Asia/Ho_Chi_Minh"
    log_origin: str = ""
    behind_tls: bool = False
    rate_limits: Mapping[str, int] | None = None
    """Requests per client per minute by group (``stamp``, ``public``); None: the defaults."""
    checkpoint_dir: Path | None = None
    """Where every signed checkpoint is written for mirrors; None: ``<instance>/checkpoints``."""
    unsafe_test_kdf: bool = False
    """Seal keys at a trivial Argon2id cost (``AGRITRACE_UNSAFE_TEST_KDF=1``): test suites only."""
    owner_database_url: str = field(default="", repr=False)
    """The role that owns the schema, for migrations (``agritrace init``); empty: the
    application URL does both (ADR 0012)."""

    @property
    def checkpoints_dir(self) -> Path:
        """The folder every signed checkpoint is published to (:mod:`agritrace.ledger.mirror`)."""
        return self.checkpoint_dir or self.instance / "checkpoints"

    @property
    def key_kdf(self) -> KdfParams:
        """The Argon2id cost private keys are sealed at (ADR 0012)."""
        return UNSAFE_TEST_KDF if self.unsafe_test_kdf else ARGON2ID_OWASP

    @property
    def verify_state_file(self) -> Path:
        """Where ``agritrace ledger verify`` remembers the last checkpoint it verified."""
        return self.instance / "verified-checkpoint"

    @property
    def migration_database_url(self) -> str:
        """The URL migrations run with: the owner's when set, else the application's."""
        return self.owner_database_url or self.database_url

    redis_url: str = ""
    """Where the rate limits count (``AGRITRACE_REDIS_URL``); empty: in each process's memory."""
    redis_prefix: str = "agritrace"
    """Prefix of this site's keys in Redis (``AGRITRACE_REDIS_PREFIX``)."""
    token_days: int = 90
    """How long a new API token lives unless its owner asks for less (``AGRITRACE_TOKEN_DAYS``)."""
    token_max_days: int = 365
    """The longest lifetime an owner may ask for (``AGRITRACE_TOKEN_MAX_DAYS``)."""

    @property
    def rate_storage_url(self) -> str:
        """The ``limits`` storage URL of the rate limits: Redis when set, else memory."""
        return self.redis_url or "memory://"

    @property
    def keys_dir(self) -> Path:
        return self.instance / "keys"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def origin(self) -> str:
        """The ledger's checkpoint origin line (C2SP tlog-checkpoint)."""
        if self.log_origin:
            return self.log_origin
        host = urlsplit(self.base_url).netloc
        return f"{host}/agritrace/ledger"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, force_demo: bool = False
    ) -> Settings:
        """Read and check ``AGRITRACE_*`` variables.

        ``environ`` defaults to ``os.environ``; pass a mapping in tests. ``force_demo`` acts
        as ``AGRITRACE_DEMO=1`` (for ``agritrace demo``). Raises InvalidInputError naming the
        first bad variable.
        """
        env = os.environ if environ is None else environ
        demo = force_demo or _flag(env, "AGRITRACE_DEMO")
        instance = Path(env.get("AGRITRACE_INSTANCE", "instance")).expanduser().absolute()
        database_url = env.get("AGRITRACE_DATABASE_URL", "").strip()
        if not database_url:
            database_url = f"sqlite:///{instance / 'agritrace.db'}"
        else:
            _check_database_url(database_url, "AGRITRACE_DATABASE_URL")
        owner_url = env.get("AGRITRACE_OWNER_DATABASE_URL", "").strip()
        if owner_url:
            _check_database_url(owner_url, "AGRITRACE_OWNER_DATABASE_URL")
        checkpoint_raw = env.get("AGRITRACE_CHECKPOINT_DIR", "").strip()
        base_default = "http://127.0.0.1:5000" if demo else ""
        base_raw = env.get("AGRITRACE_BASE_URL", base_default)
        if not base_raw:
            raise InvalidInputError(
                "AGRITRACE_BASE_URL is not set: it is the address encoded in every stamp, "
                "e.g. https://trace.example.vn",
                variable="AGRITRACE_BASE_URL",
            )
        passphrase = env.get("AGRITRACE_KEY_PASSPHRASE", DEMO_KEY_PASSPHRASE if demo else "")
        secret_key = env.get("AGRITRACE_SECRET_KEY", DEMO_SECRET_KEY if demo else "")
        timezone = env.get("AGRITRACE_TIMEZONE", "Asia/Ho_Chi_Minh")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidInputError(
                f"AGRITRACE_TIMEZONE {timezone!r} is not a known time zone",
                variable="AGRITRACE_TIMEZONE",
            ) from exc
        return cls(
            instance=instance,
            database_url=database_url,
            base_url=_check_base_url(base_raw),
            key_passphrase=passphrase.encode("utf-8"),
            secret_key=secret_key,
            demo=demo,
            timezone=timezone,
            log_origin=env.get("AGRITRACE_LOG_ORIGIN", "").strip(),
            behind_tls=_flag(env, "AGRITRACE_BEHIND_TLS"),
            rate_limits=_rate_limits(env.get("AGRITRACE_RATE_LIMITS", "")),
            checkpoint_dir=Path(checkpoint_raw).expanduser().absolute() if checkpoint_raw else None,
            owner_database_url=owner_url,
            unsafe_test_kdf=_flag(env, "AGRITRACE_UNSAFE_TEST_KDF"),
            redis_url=_redis_url(env.get("AGRITRACE_REDIS_URL", "")),
            redis_prefix=env.get("AGRITRACE_REDIS_PREFIX", "").strip() or "agritrace",
            **_token_days(env),
        )

    def require_key_passphrase(self) -> bytes:
        """The passphrase for the private keys; raises if unset (no default outside demo)."""
        if len(self.key_passphrase) < MIN_KEY_PASSPHRASE_CHARS:
            raise InvalidInputError(
                f"AGRITRACE_KEY_PASSPHRASE must be set to at least {MIN_KEY_PASSPHRASE_CHARS} "
                "characters "
                "(it encrypts the signing keys)",
                variable="AGRITRACE_KEY_PASSPHRASE",
            )
        return self.key_passphrase

    def require_secret_key(self) -> str:
        """The web session secret; raises if unset or short (no default outside demo)."""
        if len(self.secret_key) < 32:
            raise InvalidInputError(
                "AGRITRACE_SECRET_KEY must be set to at least 32 random characters "
                '(python -c "import secrets; print(secrets.token_urlsafe(32))")',
                variable="AGRITRACE_SECRET_KEY",
            )
        return self.secret_key
