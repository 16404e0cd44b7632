"""The one error hierarchy of agritrace.

Every error a user can cause or meet derives from :class:`AgritraceError`, whose ``str()``
is a single line fit to show a person, in English. The families split errors by cause, so
the CLI and the web translate each family once (exit code 2 / an HTTP status) and nowhere
else. Errors carry the facts that explain them in one read-only mapping, ``facts``
(``index``, ``expected``, ...); nothing is ever set on an error after it is made, and an
error family that has a fact every instance needs declares it as a class attribute
(``VerificationError`` subclasses of ``stamps.codec`` declare ``reason``).

An error that a web page can show is raised with a stable message ``key`` instead of a
text: its English message comes from :data:`agritrace.messages.ERROR_MESSAGES` filled in
with its facts, and the web shows the same key in the visitor's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
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


#: Names a fact cannot have: they are the error's own attributes (or the problem JSON's).
_RESERVED_FACTS = frozenset({"args", "facts", "http_status", "key", "message", "slug"})


class AgritraceError(Exception):
    """Root of every agritrace error. ``message`` is one line for a person to read.

    Raise it with a ``message``, or with a ``key`` of
    :data:`~agritrace.messages.ERROR_MESSAGES` whose template the facts fill in (then ``key``
    stays on the error, for a user interface to show the message in another language).
    Facts are kept, read-only, in ``facts``; raises TypeError for neither or both of
    message and key, or a fact named like an attribute of the error itself.
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
        self.facts: Mapping[str, Any] = MappingProxyType(facts)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process pools (the parallel audit): a mapping proxy does not pickle,
        # so the facts travel as a plain dict and are made read-only again on arrival.
        state = {name: value for name, value in vars(self).items() if name != "facts"}
        return (_restore, (type(self), self.args, state, dict(self.facts)))


def _restore(
    cls: type[AgritraceError], args: tuple[Any, ...], state: dict[str, Any], facts: dict[str, Any]
) -> AgritraceError:
    error = cls.__new__(cls)
    error.args = args
    vars(error).update(state, facts=MappingProxyType(facts))
    return error


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
