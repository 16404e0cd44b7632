"""The one error hierarchy of agritrace.

Every error a user can cause or meet derives from :class:`AgritraceError`, whose ``str()``
is a single line fit to show a person, in English. The families split errors by cause, so
the CLI and the web translate each family once (exit code 2 / an HTTP status) and nowhere
else. Errors carry the facts that explain them as attributes (``index``, ``expected``, ...).

An error that a web page can show is raised with a stable message ``key`` instead of a
text: its English message comes from :data:`agritrace.messages.ERROR_MESSAGES` filled in
with its facts, and the web shows the same key in the visitor's language.
"""

from __future__ import annotations

from typing import Any

from agritrace.messages import render_message

__all__ = [
    "AgritraceError",
    "ConflictError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "StorageUnavailableError",
    "VerificationError",
]


#: Names a fact cannot have: they are the error's own attributes.
_RESERVED_FACTS = frozenset({"args", "facts", "http_status", "key", "message", "slug"})


class AgritraceError(Exception):
    """Root of every agritrace error. ``message`` is one line for a person to read.

    Raise it with a ``message``, or with a ``key`` of
    :data:`~agritrace.messages.ERROR_MESSAGES` whose template the facts fill in (then ``key``
    stays on the error, for a user interface to show the message in another language).
    Facts become attributes; raises TypeError for neither or both of message and key, or a
    fact named like an attribute of the error itself.
    """

    #: HTTP status the web layer answers with for this family.
    http_status: int = 400
    #: Short machine-readable slug used in RFC 9457 problem ``type`` URIs.
    slug: str = "error"

    # ``key`` is typed Any only so that callers may forward ``**facts: object``; it must be a
    # string (checked below).
    def __init__(self, message: str | None = None, /, *, key: Any = None, **facts: Any) -> None:
        if (message is None) == (key is None) or not isinstance(key, str | None):
            raise TypeError("an agritrace error takes a message or a key (a string), not both")
        clashes = _RESERVED_FACTS.intersection(facts)
        if clashes:
            raise TypeError(f"reserved fact names: {', '.join(sorted(clashes))}")
        text = message if message is not None else render_message(str(key), facts)
        super().__init__(text)
        self.message = text
        self.key: str | None = key
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
