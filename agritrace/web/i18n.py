"""Vietnamese and English for the web pages: gettext catalogues and the language choice.

The texts live in gettext catalogues (:mod:`agritrace.web.catalogue`,
``translations/{vi,en}/LC_MESSAGES/messages.po``, docs/adr/0016) whose message ids are stable
keys. Templates call ``t(key, **values)`` and, for a text that names a count,
``tn(key, count, **values)`` (gettext plurals); a key missing from a language falls back to
English, then to the key itself. Values are inserted with :meth:`str.format` into plain text,
and Jinja escapes the result, so a name containing ``<`` stays text. Dates and numbers are
written by Babel in the page's locale.

Service errors raised with a message key (:class:`~agritrace.errors.AgritraceError`) are
shown with :func:`error_message` (templates: ``error_text(error)``): the key's text in the
page's language (``err.<key>``: its English is :mod:`agritrace.messages`, which the CLI and
the API say, and the catalogue's ``en`` entry must agree; a test checks it) filled in with
the error's facts, the field it names (``field.<name>``) and its dates in that language too.
An error without a key keeps its English message.

The language is, in order: ``?lang=vi|en`` (remembered in a ``lang`` cookie for a year),
the ``lang`` cookie, the browser's ``Accept-Language``, and Vietnamese. Flask-Babel is told
the same choice, so its ``gettext``/``ngettext`` and formatters in templates agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.support import Translations
from flask import Flask, Response, g, request
from flask_babel import Babel, Domain

from agritrace.errors import AgritraceError
from agritrace.web import catalogue
from agritrace.web.catalogue import LANGUAGES
from agritrace.web.i18n_errors import FIELDS_VI

__all__ = [
    "DEFAULT_LANGUAGE",
    "EN",
    "FIELD_NAMES",
    "LANGUAGES",
    "MESSAGES",
    "VI",
    "current_language",
    "error_language",
    "error_message",
    "format_date",
    "format_datetime",
    "format_number",
    "has_message",
    "init_app",
    "translate",
    "translate_count",
]

DEFAULT_LANGUAGE = "vi"
LANG_COOKIE = "lang"
LANG_COOKIE_MAX_AGE_S = 365 * 24 * 3600

#: Read-only views of the catalogues: every translated key and its text.
VI: Mapping[str, str] = catalogue.texts("vi")
EN: Mapping[str, str] = catalogue.texts("en")
MESSAGES: Mapping[str, Mapping[str, str]] = {"vi": VI, "en": EN}

#: Babel patterns that keep the pages' established formats (``20/11/2026``, ``20 Nov 2026``).
_DATE_PATTERNS = {"vi": "dd/MM/yyyy", "en": "d MMM yyyy"}
_TIME_PATTERN = "HH:mm"


def _fill(template: str, values: Mapping[str, Any]) -> str:
    if not values:
        return template
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template


def translate(lang: str, key: str, **values: Any) -> str:
    """The message ``key`` in ``lang`` with ``values`` filled in (plain text)."""
    return _fill(catalogue.gettext(lang, key), values)


def translate_count(lang: str, key: str, count: int, **values: Any) -> str:
    """The message ``key`` for ``count`` things in ``lang`` (its plural form), filled in;
    ``count`` is written as a number of ``lang``."""
    template = catalogue.ngettext(lang, key, count)
    return _fill(template, {"count": format_number(count, lang), **values})


#: The names of form fields (an error's ``field`` fact) in languages other than English.
FIELD_NAMES: Mapping[str, Mapping[str, str]] = {"vi": FIELDS_VI}


def _fact(lang: str, name: str, value: Any) -> Any:
    """A fact as a message in ``lang`` shows it. The English messages name fields, roles and
    steps as the code does (``harvest date``, ``inspector``); other languages translate them."""
    if lang != "en" and isinstance(value, str):
        if name == "field":
            return FIELD_NAMES.get(lang, {}).get(value, value)
        if name in ("role", "step"):
            return MESSAGES.get(lang, EN).get(f"{name}.{value}", value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return format_date(value, lang)
    return value


def error_message(lang: str, error: AgritraceError) -> str:
    """What ``error`` says in ``lang``: its key's text filled in with its facts (fields,
    roles, steps and dates in ``lang``), or its own English message when it has no key."""
    template = MESSAGES.get(lang, EN).get(f"err.{error.key}") if error.key else None
    if template is None:
        return error.message
    facts = {name: _fact(lang, name, value) for name, value in error.facts.items()}
    try:
        return template.format_map(facts)
    except (KeyError, IndexError, ValueError):
        return error.message


def error_language(lang: str, error: AgritraceError) -> str:
    """The language :func:`error_message` answers in (English for an error without a key)."""
    return lang if error.key and f"err.{error.key}" in MESSAGES.get(lang, EN) else "en"


def has_message(key: str) -> bool:
    """True if the catalogue defines ``key`` (in English, which every language falls back to)."""
    return key in EN


def _supported(raw: str | None) -> str | None:
    if raw is None:
        return None
    value = raw.strip().lower()[:8]
    return value if value in LANGUAGES else None


def current_language() -> str:
    """The language of the current request (works in error handlers too)."""
    cached = g.get("lang")
    if isinstance(cached, str):
        return cached
    lang = (
        _supported(request.args.get("lang"))
        or _supported(request.cookies.get(LANG_COOKIE))
        or request.accept_languages.best_match(LANGUAGES)
        or DEFAULT_LANGUAGE
    )
    g.lang = lang
    return lang


def format_number(value: int, lang: str) -> str:
    """A whole number as ``lang`` writes it (Babel): ``12.345`` or ``12,345``."""
    return babel_numbers.format_decimal(value, locale=lang)


def format_date(day: dt.date, lang: str) -> str:
    """A day as ``lang`` writes it (Babel, month names from CLDR): ``20/11/2026`` or
    ``20 Nov 2026``."""
    return babel_dates.format_date(day, _DATE_PATTERNS[lang], locale=lang)


def format_datetime(moment: dt.datetime, lang: str, zone: ZoneInfo) -> str:
    """A time in the viewer's zone: ``10:05, 20/11/2026`` or ``20 Nov 2026, 10:05``."""
    local = moment.astimezone(zone)
    clock = babel_dates.format_time(local, _TIME_PATTERN, locale=lang)
    if lang == "vi":
        return f"{clock}, {format_date(local.date(), lang)}"
    return f"{format_date(local.date(), lang)}, {clock}"


class _CatalogueDomain(Domain):  # type: ignore[misc]
    """Flask-Babel's gettext in templates reads the same compiled catalogues."""

    def get_translations(self) -> Translations:
        return catalogue.translations(current_language())


class _Babel(Babel):  # type: ignore[misc]
    @cached_property
    def domain_instance(self) -> Domain:
        return _CatalogueDomain()


def _remember_choice(response: Response) -> Response:
    chosen = _supported(request.args.get("lang"))
    if chosen is not None and request.cookies.get(LANG_COOKIE) != chosen:
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=LANG_COOKIE_MAX_AGE_S,
            samesite="Lax",
            httponly=True,
            secure=request.is_secure,
        )
    response.vary.add("Accept-Language")
    response.vary.add("Cookie")
    return response


def init_app(app: Flask, zone: ZoneInfo) -> None:
    """Give templates ``t``, ``tn``, ``lang``, ``other_lang`` and the formatters; remember a
    language chosen with ``?lang=``."""

    def when(moment: dt.datetime | None) -> str:
        if moment is None or moment.year <= 1:
            return translate(current_language(), "journey.no_time")
        return format_datetime(moment, current_language(), zone)

    @app.context_processor
    def _helpers() -> dict[str, Any]:
        lang = current_language()
        return {
            "lang": lang,
            "other_lang": "en" if lang == "vi" else "vi",
            "t": lambda key, **values: translate(lang, key, **values),
            "tn": lambda key, count, **values: translate_count(lang, key, count, **values),
            "when": when,
            "day": lambda d: format_date(d, lang),
            "number": lambda n: format_number(n, lang),
            "has_message": has_message,
            "error_text": lambda error: error_message(lang, error),
            "error_lang": lambda error: error_language(lang, error),
            "label": lambda group, slug: (
                translate(lang, f"{group}.{slug}") if has_message(f"{group}.{slug}") else slug
            ),
        }

    _Babel(
        app,
        locale_selector=current_language,
        default_locale=DEFAULT_LANGUAGE,
        default_timezone=zone.key,
    )
    app.after_request(_remember_choice)
