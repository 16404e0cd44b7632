"""CSV that spreadsheet programs open as data, never as formulas (OWASP "CSV Injection").

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a line break (or their
full-width forms, which some East Asian spreadsheet locales also read as formula signs) is
written with a leading apostrophe, so Excel, LibreOffice and Google Sheets show it as text;
rows end in CRLF (RFC 4180) and any cell holding a separator, quote or line break is
quoted. Every CSV this project writes from stored text goes through :func:`csv_writer`.
Pure: no web, no database.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

__all__ = ["FORMULA_STARTS", "SafeCsvWriter", "csv_writer", "neutralise"]

#: The first characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def neutralise(value: object) -> object:
    """``value``, with an apostrophe put in front when it is text a spreadsheet would read as a
    formula; numbers and other values are returned as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeCsvWriter:
    """A :func:`csv.writer` whose every row is neutralised first."""

    def __init__(self, out: TextIO) -> None:
        # RFC 4180's CRLF rows: the csv module then quotes any cell holding a carriage return
        # or a line feed, so neither can end a row early.
        self._writer = csv.writer(out, lineterminator="\r\n")

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([neutralise(cell) for cell in row])


def csv_writer(out: TextIO) -> SafeCsvWriter:
    """A writer of formula-safe CSV rows to ``out`` (open it with ``newline=""``)."""
    return SafeCsvWriter(out)
