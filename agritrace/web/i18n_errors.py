"""Vietnamese for the service errors a page can show, and the form fields they name, as
read from the ``vi`` gettext catalogue (:mod:`agritrace.web.catalogue`, docs/adr/0016).

The English of each message is :data:`agritrace.messages.ERROR_MESSAGES` (what the CLI, the
logs and the API say); the catalogues file it under ``err.<key>`` and the form fields under
``field.<name>``. A translation names only facts that every raise site of its key passes
(``tests/test_messages.py`` reads them); it may leave one out, e.g. a command-line hint.
Facts named ``field`` are translated through :data:`FIELDS_VI` before they are filled in.
"""

from __future__ import annotations

from collections.abc import Mapping

from agritrace.web import catalogue

__all__ = ["ERRORS_VI", "FIELDS_VI"]


def _prefixed(lang: str, prefix: str) -> Mapping[str, str]:
    return {
        key.removeprefix(prefix): text
        for key, text in catalogue.texts(lang).items()
        if key.startswith(prefix)
    }


ERRORS_VI: Mapping[str, str] = _prefixed("vi", "err.")

#: Names of the fields that messages mention (the ``field`` fact), in Vietnamese.
FIELDS_VI: Mapping[str, str] = _prefixed("vi", "field.")
