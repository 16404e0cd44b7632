"""The one error hierarchy of agritrace.

Every error a user can cause or meet derives from :class:`AgritraceError`, whose ``str()``
is a single line fit to show a person. The families split errors by cause, so the CLI and
the web translate each family once (exit code 2 / an HTTP status) and nowhere else.
Errors carry the facts that explain them as attributes (``index``, ``expected``, ...).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AgritraceError",
    "ConflictError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "StorageUnavailableError",
    "VerificationError",
]


class AgritraceError(Exception):
    """Root of every agritrace error. ``message`` is one line for a person to read."""

    #: HTTP status the web layer answers with for this family.
    http_status: int = 400
    #: Short machine-readable slug used in RFC 9457 problem ``type`` URIs.
    slug: str = "error"

    def __init__(self, message: str, **facts: Any) -> None:
        super().__init__(message)
        self.message = message
        self.facts: dict[str, Any] = facts
        for name, value in facts.items():
            setattr(self, name, value)

    def __str__(self) -> str:
        return self.message


class InvalidInputError(AgritraceError):
    """Input was malformed or broke a rule (bad date, bad GTIN, negative count, ...)."""

    http_status = 422
    slug = "invalid-input"


class VerificationError(AgritraceError):
    """A signature, proof, hash chain or stamp did not verify."""

    http_status = 422
    slug = "verification-failed"


class NotFoundError(AgritraceError):
    """The named record does not exist."""

    http_status = 404
    slug = "not-found"


class PermissionDeniedError(AgritraceError):
    """The actor may not see or change the named record."""

    http_status = 403
    slug = "permission-denied"


class ConflictError(AgritraceError):
    """The change clashes with existing state (duplicate code, suspended facility, ...)."""

    http_status = 409
    slug = "conflict"


class StorageUnavailableError(AgritraceError):
    """The database or instance folder cannot be reached or is not initialised."""

    http_status = 503
    slug = "storage-unavailable"
