"""One-off converter (issue 13): the dict catalogues of ``agritrace/web/i18n.py``,
``agritrace/web/i18n_errors.py`` and the English of ``agritrace/messages.py`` into gettext
catalogues under ``agritrace/web/translations`` (``messages.pot``, ``vi`` and ``en`` ``.po``).

Kept for the record of how the catalogues were made; run it from the commit before the dicts
were removed. From then on the ``.po`` files are the source (docs/adr/0016).
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "agritrace" / "web" / "translations"

#: Keys whose text names a count: English singular (the plural is today's text).
PLURALS = {
    "portal.scanned_times": "scanned {count} time",
    "scans.summary": "First scanned on {time}. Scanned {count} time.",
    "inspect.step_proof": "Consistency proof ({count} hash)",
    "entry.proof_hashes": "Proof hashes ({count})",
}


def _catalog(locale: str | None) -> Catalog:
    return Catalog(
        locale=locale,
        domain="messages",
        project="agritrace",
        version="0.1.0",
        copyright_holder="agritrace",
        charset="utf-8",
        fuzzy=False,
    )


def _flags(text: str) -> tuple[str, ...]:
    return ("python-brace-format",) if "{" in text else ()


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from agritrace.web import i18n
    from agritrace.web.i18n_errors import FIELDS_VI

    english: dict[str, str] = dict(i18n.EN)
    vietnamese: dict[str, str] = dict(i18n.VI)
    for name, vi_name in FIELDS_VI.items():
        english[f"field.{name}"] = name
        vietnamese[f"field.{name}"] = vi_name
    pot, en, vi = _catalog(None), _catalog("en"), _catalog("vi")
    for key, text in english.items():
        if key in PLURALS:
            ids: str | tuple[str, str] = (key, f"{key}.plural")
            singular = PLURALS[key] or text
            pot.add(ids, "", flags=_flags(text))
            en.add(ids, (singular, text), flags=_flags(text))
            vi.add(ids, (vietnamese[key],), flags=_flags(text))
            continue
        pot.add(key, "", flags=_flags(text))
        en.add(key, text, flags=_flags(text))
        vi.add(key, vietnamese.get(key, ""), flags=_flags(text))
    OUT.mkdir(parents=True, exist_ok=True)
    for catalog, path in (
        (pot, OUT / "messages.pot"),
        (en, OUT / "en" / "LC_MESSAGES" / "messages.po"),
        (vi, OUT / "vi" / "LC_MESSAGES" / "messages.po"),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            write_po(out, catalog, width=100, omit_header=False, sort_output=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
