"""The gettext catalogues of the web pages: ``translations/<lang>/LC_MESSAGES/messages.po``.

The ``.po`` files (and ``messages.pot``) are the source, kept in git and shipped as package
data. They are compiled in memory the first time a language is asked for (Babel's
``read_po`` and ``write_mo``): no ``.mo`` file is committed, none is written at run time, and
a fresh clone, an editable install, a wheel and CI all read the same files (docs/adr/0016).

Message ids are the stable keys (``verdict.genuine``, ``err.<key>``, ``field.<name>``); a
plural entry's id is its key with ``<key>.plural`` as ``msgid_plural``. A language falls back
to English, then to the key itself. No Flask here.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

__all__ = [
    "DOMAIN",
    "LANGUAGES",
    "TRANSLATIONS",
    "catalog",
    "gettext",
    "ngettext",
    "texts",
    "translations",
]

DOMAIN = "messages"
LANGUAGES = ("vi", "en")
FALLBACK = "en"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


@functools.cache
def catalog(lang: str) -> Catalog:
    """The parsed ``.po`` catalogue of ``lang`` (``LookupError`` for a language we lack)."""
    if lang not in LANGUAGES:
        raise LookupError(f"no catalogue for language {lang!r}")
    path = TRANSLATIONS / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as source:
        return read_po(source, locale=lang, domain=DOMAIN)


@functools.cache
def translations(lang: str) -> Translations:
    """``lang``'s catalogue compiled to gettext form, falling back to English."""
    buffer = io.BytesIO()
    write_mo(buffer, catalog(lang if lang in LANGUAGES else FALLBACK))
    buffer.seek(0)
    compiled = Translations(fp=buffer, domain=DOMAIN)
    if lang != FALLBACK:
        compiled.add_fallback(translations(FALLBACK))
    return compiled


@functools.cache
def texts(lang: str) -> Mapping[str, str]:
    """Every translated id of ``lang`` and its text (a plural entry: its last form)."""
    found: dict[str, str] = {}
    for message in catalog(lang):
        key = message.id if isinstance(message.id, str) else message.id[0]
        forms = message.string
        text = forms if isinstance(forms, str) else (forms[-1] if forms else "")
        if key and text:
            found[key] = text
    return found


def gettext(lang: str, key: str) -> str:
    """The text of ``key`` in ``lang`` (English, then the key, when missing)."""
    return str(translations(lang).gettext(key))


def ngettext(lang: str, key: str, count: int) -> str:
    """The text of ``key`` for ``count`` things in ``lang`` (its plural rules)."""
    return str(translations(lang).ngettext(key, f"{key}.plural", count))
