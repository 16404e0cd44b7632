"""The gettext catalogues (docs/adr/0016): complete in Vietnamese, plurals, Babel formats,
the language choice, and Flask-Babel reading the same catalogues."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po
from flask import render_template_string
from flask.testing import FlaskClient

from agritrace.messages import ERROR_MESSAGES
from agritrace.web import catalogue, i18n

from .conftest import Site, tag_text

TEMPLATES = Path(i18n.__file__).resolve().parent / "templates"
#: ``t("key"``, ``tn("key"``; a key followed by ``~`` is the prefix of a family (marked ``*``).
_LITERAL_KEY = re.compile(r"""\b(tn?)\(\s*["']([^"']+)["']\s*(~?)""")


def _ids(path: Path) -> dict[str, bool]:
    """Every message id of a catalogue file and whether it is a plural entry."""
    with path.open("rb") as source:
        parsed = read_po(source)
    return {(m.id if isinstance(m.id, str) else m.id[0]): m.pluralizable for m in parsed if m.id}


def _template_keys() -> set[tuple[str, str]]:
    found = set()
    for path in TEMPLATES.rglob("*.html"):
        for fn, key, joined in _LITERAL_KEY.findall(path.read_text(encoding="utf-8")):
            found.add((fn, f"{key}*" if joined else key))
    return found


def test_every_template_key_has_a_vietnamese_translation() -> None:
    keys = _template_keys()
    assert len(keys) > 100  # the pattern really finds the templates' keys
    literal = {key for _, key in keys if not key.endswith("*")}
    assert sorted(literal - set(i18n.VI)) == []
    # ``t("audit.problem." ~ slug)``: every key of such a family is translated, and exists
    for prefix in {key.removesuffix("*") for _, key in keys if key.endswith("*")}:
        family = {key for key in i18n.EN if key.startswith(prefix)}
        assert family, prefix
        assert sorted(family - set(i18n.VI)) == []


def test_templates_ask_for_plural_entries_with_tn_and_the_others_with_t() -> None:
    plural = _ids(catalogue.TRANSLATIONS / "messages.pot")
    wrong = sorted(
        f"{fn}({key})"
        for fn, key in _template_keys()
        if not key.endswith("*") and plural[key] != (fn == "tn")
    )
    assert wrong == []


def test_every_catalogue_id_has_vietnamese_and_english_text() -> None:
    template = _ids(catalogue.TRANSLATIONS / "messages.pot")
    for lang in catalogue.LANGUAGES:
        assert _ids(catalogue.TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po") == template
    assert sorted(set(template) - set(i18n.VI)) == []
    assert sorted(set(template) - set(i18n.EN)) == []


def test_the_english_catalogue_says_what_the_cli_and_api_say() -> None:
    assert {key: i18n.EN[f"err.{key}"] for key in ERROR_MESSAGES} == ERROR_MESSAGES


def test_no_compiled_catalogue_is_shipped_in_the_source() -> None:
    assert list(catalogue.TRANSLATIONS.rglob("*.mo")) == []


def test_a_key_the_catalogue_lacks_in_vietnamese_falls_back_to_english_then_the_key() -> None:
    assert i18n.translate("vi", "no.such.key") == "no.such.key"
    assert i18n.translate("fr", "verdict.genuine") == "Genuine"


@pytest.mark.parametrize(
    ("lang", "count", "text"),
    [
        ("en", 1, "scanned 1 time"),
        ("en", 2, "scanned 2 times"),
        ("en", 0, "scanned 0 times"),
        ("en", 12345, "scanned 12,345 times"),
        ("vi", 1, "quét 1 lần"),
        ("vi", 12345, "quét 12.345 lần"),
    ],
)
def test_counts_take_their_languages_plural_form(lang: str, count: int, text: str) -> None:
    assert i18n.translate_count(lang, "portal.scanned_times", count) == text


def test_dates_and_numbers_are_written_by_babel_in_the_pages_formats() -> None:
    day = dt.date(2026, 11, 20)
    assert i18n.format_date(day, "vi") == "20/11/2026"
    assert i18n.format_date(day, "en") == "20 Nov 2026"
    assert i18n.format_number(1234567, "vi") == "1.234.567"
    assert i18n.format_number(1234567, "en") == "1,234,567"
    moment = dt.datetime(2026, 11, 20, 3, 5, tzinfo=dt.UTC)
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    assert i18n.format_datetime(moment, "vi", zone) == "10:05, 20/11/2026"
    assert i18n.format_datetime(moment, "en", zone) == "20 Nov 2026, 10:05"


def test_a_cookie_outranks_accept_language(site: Site, client: FlaskClient) -> None:
    client.set_cookie("lang", "vi")
    body = client.get(f"/S/{site.genuine}", headers={"Accept-Language": "en"}).data
    assert tag_text(body, "h1") == "Chính hãng"
    chosen = client.get(f"/S/{site.genuine}?lang=en", headers={"Accept-Language": "vi"}).data
    assert tag_text(chosen, "h1") == "Genuine"


@pytest.mark.parametrize(
    ("lang", "text"),
    [("vi", "Chính hãng|quét {count} lần"), ("en", "Genuine|scanned {count} time")],
)
def test_flask_babel_in_templates_reads_the_same_catalogues(
    site: Site, lang: str, text: str
) -> None:
    source = "{{ _('verdict.genuine') }}|{{ ngettext('portal.scanned_times', 'x', 1) }}"
    with site.app.test_request_context(f"/?lang={lang}"):
        rendered = render_template_string(source)
    assert rendered == text
