"""Print output for stamps: A4 PDF label sheets, one PNG or SVG per stamp, CSV for print shops.

No database and no web, and no signing: callers pass :class:`PrintItem` s (serial, signed URL,
short code) that they signed, with :func:`agritrace.stamps.signing.make_print_items` for a
serial range or :meth:`PrintItem.from_stamp` for one signed stamp. Guarantees (DESIGN.md
"Stamps", "Print"):

* QR modules are at least :data:`MIN_MODULE_MM` (0.4 mm) and every code has a light quiet
  zone of :data:`~agritrace.stamps.qr.QUIET_ZONE_MODULES` (4) modules; a layout that breaks
  either rule, or whose labels cannot hold the code and its short code, is refused with
  :class:`~agritrace.errors.InvalidInputError` naming the numbers.
* PDF modules are vector rectangles (dark runs merged horizontally and vertically), one
  filled path per code, and the short code is printed under each code in a small font.
* Output written to a path appears only when complete (temporary file, then
  ``os.replace``); a stream is written to as it goes.
* Jobs above :data:`PARALLEL_MIN_ITEMS` use every core: QR matrices and their path
  operators are computed in a process pool in chunks, with a bounded number in flight,
  and consumed in order by the calling process.
* reportlab's process-wide ``rl_config`` is set once, when this module is imported (PDF
  streams are Flate-only, without the ASCII85 filter: reportlab's pure-Python ASCII85 costs
  more than the rest of a job and makes files 25 % bigger), and never changed while
  rendering, so threaded workers can render at the same time.
* CSV has exactly the header ``serial,url`` and one row per stamp, lines ending in ``\\n``;
  items with claim codes add a third column, ``claim_code``.
* A claim code is printed under the short code in a dashed, marked area
  (``SCRATCH-OFF``) that the print shop covers with a scratch-off layer.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO, TypeVar

from PIL import Image
from reportlab import rl_config

from agritrace.errors import InvalidInputError
from agritrace.stamps.codec import Stamp, short_code
from agritrace.stamps.qr import DEFAULT_ENCODER, QUIET_ZONE_MODULES, EcLevel, QrMatrix, qr_matrix

__all__ = [
    "A4_MM",
    "MIN_MODULE_MM",
    "PARALLEL_MIN_ITEMS",
    "LabelLayout",
    "PdfSummary",
    "PrintItem",
    "in_order",
    "processes",
    "render_pdf",
    "render_png",
    "render_svg",
    "svg_text",
    "write_csv",
]

#: Page size, width and height in millimetres.
A4_MM = (210.0, 297.0)
#: Smallest printed module (DESIGN.md): smaller ones do not scan reliably after printing.
MIN_MODULE_MM = 0.4
#: Jobs with more items than this use a process pool (below it, starting one costs more).
PARALLEL_MIN_ITEMS = 2000

_PT_PER_MM = 72 / 25.4
_TEXT_LINE = 1.25  # height of the short-code line as a multiple of the font size
_CLAIM_BOX = 1.6  # height of the claim code's scratch-off area, as a multiple of the font size
_CLAIM_MARK = "SCRATCH-OFF"  # printed inside the area, left of the code
_PDF_CHUNK = 240  # items per task when drawing in parallel (5 pages of the default layout)
_FONT = "Helvetica"

_R = TypeVar("_R")
_T = TypeVar("_T")

# Once, at import: Flate-only PDF streams (see the module docstring). Never flipped later.
rl_config.useA85 = 0


@dataclass(frozen=True, slots=True)
class PrintItem:
    """One stamp to print: its serial, the URL the QR holds, the short code under it and,
    for a batch with claim codes, the claim code (``12345-67890``) printed in a marked
    area beneath, for the print shop to cover with a scratch-off layer."""

    serial: int
    url: str
    label: str
    claim: str | None = None

    @classmethod
    def from_stamp(cls, stamp: Stamp, prefix: str) -> PrintItem:
        """The print item for a signed stamp under the issuer ``prefix``."""
        return cls(stamp.serial, stamp.to_url(prefix), short_code(stamp.serial))


@dataclass(frozen=True, slots=True)
class LabelLayout:
    """Label grid on an A4 sheet, in millimetres, the printed module size and the font size.

    Labels are placed left to right, top to bottom, from the top-left margin. The defaults
    (30 x 32 mm labels, 7 mm margins, 2 mm gaps, 0.5 mm modules) give 6 x 8 = 48 labels per
    page; each holds a version 6 code (24.5 mm with its quiet zone) or a version 8 code
    (level Q, 28.5 mm) and a 6 pt short code. Construction refuses a module under 0.4 mm and
    non-positive sizes (InvalidInputError).
    """

    label_w_mm: float = 30.0
    label_h_mm: float = 32.0
    margin_mm: float = 7.0
    gap_mm: float = 2.0
    module_mm: float = 0.5
    font_pt: float = 6.0

    def __post_init__(self) -> None:
        if self.module_mm < MIN_MODULE_MM:
            raise InvalidInputError(
                f"QR modules of {self.module_mm} mm are too small to scan after printing: "
                f"use at least {MIN_MODULE_MM} mm",
                module_mm=self.module_mm,
                min_module_mm=MIN_MODULE_MM,
            )
        if min(self.label_w_mm, self.label_h_mm, self.font_pt) <= 0:
            raise InvalidInputError("label width, height and font size must be positive")
        if min(self.margin_mm, self.gap_mm) < 0:
            raise InvalidInputError("margins and gaps cannot be negative")

    def code_mm(self, modules: int) -> float:
        """Side of a code of ``modules`` modules, quiet zone included, in mm."""
        return (modules + 2 * QUIET_ZONE_MODULES) * self.module_mm

    def grid(self, modules: int | None = None) -> tuple[int, int]:
        """Columns and rows of labels on an A4 page; InvalidInputError if not one fits.

        With ``modules``, also checks that a label holds a code of that size
        (:meth:`check_fits`), so a caller can refuse a layout before any work.
        """
        if modules is not None:
            self.check_fits(modules)
        page_w, page_h = A4_MM
        cols = int((page_w - 2 * self.margin_mm + self.gap_mm) // (self.label_w_mm + self.gap_mm))
        rows = int((page_h - 2 * self.margin_mm + self.gap_mm) // (self.label_h_mm + self.gap_mm))
        if cols < 1 or rows < 1:
            raise InvalidInputError(
                f"no {self.label_w_mm} x {self.label_h_mm} mm label fits on an A4 page "
                f"({A4_MM[0]:g} x {A4_MM[1]:g} mm) with {self.margin_mm} mm margins",
                label_w_mm=self.label_w_mm,
                label_h_mm=self.label_h_mm,
                margin_mm=self.margin_mm,
            )
        return cols, rows

    def claim_box_mm(self) -> float:
        """Height of the scratch-off area that holds a claim code."""
        return self.font_pt * _CLAIM_BOX / _PT_PER_MM

    def check_fits(self, modules: int, *, claim: bool = False) -> None:
        """Raise InvalidInputError, with the numbers, if a label cannot hold a code of
        ``modules`` modules with its quiet zone and, beneath, the short-code line (and, with
        ``claim``, the scratch-off area of a claim code)."""
        code = self.code_mm(modules)
        needed_h = code + self.font_pt * _TEXT_LINE / _PT_PER_MM
        if claim:
            needed_h += self.claim_box_mm()
        if code > self.label_w_mm or needed_h > self.label_h_mm:
            raise InvalidInputError(
                f"a {self.label_w_mm:g} x {self.label_h_mm:g} mm label cannot hold a "
                f"{modules}-module code at {self.module_mm:g} mm per module: it needs "
                f"{code:.1f} x {needed_h:.1f} mm (code with quiet zone, then the short code)",
                label_w_mm=self.label_w_mm,
                label_h_mm=self.label_h_mm,
                needed_w_mm=round(code, 2),
                needed_h_mm=round(needed_h, 2),
            )


@dataclass(frozen=True, slots=True)
class PdfSummary:
    """What :func:`render_pdf` wrote."""

    stamps: int
    pages: int
    per_page: int


# --- output helpers ----------------------------------------------------------------------


@contextmanager
def _atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``, renamed to it once the block completes (and
    removed if it fails), so a half-written file never appears under the target's name.
    A folder that does not exist or cannot be written is InvalidInputError."""
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise InvalidInputError(
            f"cannot write {target}: {exc.strerror or exc}", path=str(target)
        ) from exc
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.chmod(0o644)  # mkstemp makes 0600; print files are not secret
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def _binary_out(out: BinaryIO | str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """``out`` itself if it is a stream, else an atomically written file at that path."""
    if not isinstance(out, str | os.PathLike):
        yield out
        return
    with _atomic_path(Path(out)) as tmp, tmp.open("wb") as fh:
        yield fh


@contextmanager
def _text_out(out: TextIO | str | os.PathLike[str]) -> Iterator[IO[str]]:
    """``out`` itself if it is a stream, else an atomically written UTF-8 file."""
    if not isinstance(out, str | os.PathLike):
        yield out
        return
    with _atomic_path(Path(out)) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
        yield fh


def in_order(
    pool: ProcessPoolExecutor,
    fn: Callable[..., _R],
    jobs: Iterable[tuple[_T, tuple[object, ...]]],
    *,
    ahead: int,
) -> Iterator[tuple[_T, _R]]:
    """Run ``fn(*args)`` for each ``(tag, args)`` job in ``pool`` and yield ``(tag, result)``
    in job order, with at most ``ahead`` jobs in flight, so a huge job stream never sits in
    memory (``Executor.map`` submits everything at once)."""
    pending: deque[tuple[_T, Future[_R]]] = deque()
    for tag, args in jobs:
        pending.append((tag, pool.submit(fn, *args)))
        if len(pending) >= ahead:
            tag, future = pending.popleft()
            yield tag, future.result()
    while pending:
        tag, future = pending.popleft()
        yield tag, future.result()


def processes(workers: int | None) -> int:
    """``workers`` if given, else one process per core."""
    return workers if workers is not None else (os.cpu_count() or 1)


# --- PDF ---------------------------------------------------------------------------------


def _code_ops(url: str, level: EcLevel, encoder: str) -> tuple[int, str]:
    """The QR size and its PDF path operators: one ``re`` per horizontal dark run, in module
    units with the origin at the symbol's bottom-left corner (PDF's y grows upward), then
    one fill for the whole path."""
    matrix = qr_matrix(url, level=level, encoder=encoder)
    top = matrix.size - 1
    ops = "\n".join(f"{x} {top - y} {w} 1 re" for y, x, w in matrix.runs())
    return matrix.size, ops + "\nf"


def _chunk_ops(urls: list[str], level: EcLevel, encoder: str) -> list[tuple[int, str]]:
    return [_code_ops(url, level, encoder) for url in urls]


def _chunks(items: Iterable[PrintItem], size: int) -> Iterator[list[PrintItem]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def render_pdf(
    items: Iterable[PrintItem],
    out: BinaryIO | str | os.PathLike[str],
    *,
    layout: LabelLayout | None = None,
    level: EcLevel = "M",
    encoder: str = DEFAULT_ENCODER,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> PdfSummary:
    """Draw ``items`` on A4 label sheets laid out by ``layout`` (default: :class:`LabelLayout`).

    Each label holds the QR code of ``item.url`` (vector modules, quiet zone of 4 modules,
    top-centred) and ``item.label`` centred beneath it. ``progress``, if given, is called
    after each page with the number of stamps that page added. More than
    :data:`PARALLEL_MIN_ITEMS` items are encoded by ``workers`` processes (default: one per
    core). The output is deterministic: the same items give the same bytes. reportlab holds
    the whole document in memory until it is written (about 8 KB per stamp), so split jobs
    far beyond 100,000 stamps. Raises InvalidInputError for no items or a layout the codes
    do not fit.
    """
    from reportlab.pdfgen.canvas import Canvas

    layout = layout or LabelLayout()
    layout.grid()  # refuse a layout that fits no label on the page before any work
    iterator = iter(items)
    head = list(itertools.islice(iterator, PARALLEL_MIN_ITEMS + 1))
    if not head:
        raise InvalidInputError("nothing to print: no stamps were given")
    chunks = _chunks(itertools.chain(head, iterator), _PDF_CHUNK)
    procs = processes(workers)
    with _binary_out(out) as fh:
        page = (A4_MM[0] * _PT_PER_MM, A4_MM[1] * _PT_PER_MM)
        # invariant: no creation time or random id, so the same stamps give the same bytes
        canvas = Canvas(fh, pagesize=page, invariant=True)
        canvas.setPageCompression(1)
        canvas.setTitle("agritrace stamps")
        sheet = _Sheet(canvas, layout, progress)
        if len(head) <= PARALLEL_MIN_ITEMS or procs < 2:
            for chunk in chunks:
                sheet.draw(chunk, _chunk_ops([item.url for item in chunk], level, encoder))
        else:
            jobs = ((chunk, ([item.url for item in chunk], level, encoder)) for chunk in chunks)
            with ProcessPoolExecutor(procs) as pool:
                for chunk, ops in in_order(pool, _chunk_ops, jobs, ahead=2 * procs):
                    sheet.draw(chunk, ops)
        summary = sheet.finish()
        canvas.save()
    return summary


class _Sheet:
    """Places codes on consecutive label slots of a reportlab canvas."""

    def __init__(
        self, canvas: Any, layout: LabelLayout, progress: Callable[[int], None] | None
    ) -> None:
        self.canvas = canvas  # a reportlab Canvas (reportlab ships no type hints)
        self.layout = layout
        self.progress = progress
        self.cols, self.rows = layout.grid()
        self.per_page = self.cols * self.rows
        self.slot = 0  # index of the next free label on the current page
        self.pages = 0
        self.stamps = 0
        self.checked: set[tuple[int, bool]] = set()
        self.module_pt = layout.module_mm * _PT_PER_MM

    def draw(self, chunk: list[PrintItem], ops: list[tuple[int, str]]) -> None:
        c = self.canvas
        lay = self.layout
        page_h = A4_MM[1] * _PT_PER_MM
        for item, (size, path) in zip(chunk, ops, strict=True):
            fits = (size, item.claim is not None)
            if fits not in self.checked:
                lay.check_fits(size, claim=item.claim is not None)
                self.checked.add(fits)
            if self.slot == 0:
                c.setFont(_FONT, lay.font_pt)
            col, row = self.slot % self.cols, self.slot // self.cols
            left = (lay.margin_mm + col * (lay.label_w_mm + lay.gap_mm)) * _PT_PER_MM
            top = page_h - (lay.margin_mm + row * (lay.label_h_mm + lay.gap_mm)) * _PT_PER_MM
            code = lay.code_mm(size) * _PT_PER_MM
            centre = left + lay.label_w_mm * _PT_PER_MM / 2
            quiet = QUIET_ZONE_MODULES * self.module_pt
            x, y = centre - code / 2 + quiet, top - code + quiet
            m = self.module_pt
            c.addLiteral(f"q {m:.5f} 0 0 {m:.5f} {x:.3f} {y:.3f} cm\n{path}\nQ")
            c.drawCentredString(centre, top - code - lay.font_pt, item.label)
            if item.claim is not None:
                self._claim_box(item.claim, left, top - code - lay.font_pt * _TEXT_LINE)
            self.stamps += 1
            self.slot += 1
            if self.slot == self.per_page:
                self._end_page()

    def _claim_box(self, claim: str, left: float, top: float) -> None:
        """The marked area the print shop covers with a scratch-off layer: a dashed frame,
        the mark and the claim code inside, under the short code."""
        c, lay = self.canvas, self.layout
        height = lay.claim_box_mm() * _PT_PER_MM
        inset = 1.0 * _PT_PER_MM
        width = lay.label_w_mm * _PT_PER_MM - 2 * inset
        c.saveState()
        c.setDash(1, 1)
        c.setLineWidth(0.3)
        c.rect(left + inset, top - height, width, height, stroke=1, fill=0)
        baseline = top - height / 2 - lay.font_pt * 0.35
        c.setFont(_FONT, lay.font_pt * 0.55)
        c.drawString(left + inset + 1.5, baseline, _CLAIM_MARK)
        c.setFont(_FONT, lay.font_pt)
        c.drawRightString(left + inset + width - 1.5, baseline, claim)
        c.restoreState()

    def _end_page(self) -> None:
        self.canvas.showPage()
        self.pages += 1
        if self.progress is not None:
            self.progress(self.slot)
        self.slot = 0

    def finish(self) -> PdfSummary:
        if self.slot:
            self._end_page()
        return PdfSummary(stamps=self.stamps, pages=self.pages, per_page=self.per_page)


# --- PNG, SVG, CSV -----------------------------------------------------------------------


def _with_quiet_zone(matrix: QrMatrix) -> Image.Image:
    """The symbol as an 8-bit grey image, one pixel per module, quiet zone included."""
    q = QUIET_ZONE_MODULES
    side = matrix.size + 2 * q
    light = b"\xff"
    blank = light * side
    to_grey = bytes.maketrans(b"\x00\x01", b"\xff\x00")
    rows = [blank] * q
    rows += [light * q + row.translate(to_grey) + light * q for row in matrix.rows]
    rows += [blank] * q
    return Image.frombytes("L", (side, side), b"".join(rows))


def render_png(
    item: PrintItem,
    out: BinaryIO | str | os.PathLike[str],
    *,
    scale_px: int = 8,
    level: EcLevel = "M",
    encoder: str = DEFAULT_ENCODER,
) -> None:
    """Write ``item``'s QR code as a 1-bit PNG, ``scale_px`` pixels per module, with a quiet
    zone of 4 modules. Raises InvalidInputError for ``scale_px`` < 1."""
    if scale_px < 1:
        raise InvalidInputError("a PNG needs at least 1 pixel per module", scale_px=scale_px)
    grey = _with_quiet_zone(qr_matrix(item.url, level=level, encoder=encoder))
    side = grey.width * scale_px
    image = grey.resize((side, side), Image.Resampling.NEAREST).convert(
        "1", dither=Image.Dither.NONE
    )
    with _binary_out(out) as fh:
        image.save(fh, format="PNG", optimize=True)


def svg_text(
    item: PrintItem,
    *,
    module_mm: float = 0.5,
    level: EcLevel = "M",
    encoder: str = DEFAULT_ENCODER,
) -> str:
    """``item``'s QR code as an SVG document with a single ``<path>`` element.

    The view box is in modules, quiet zone included (the quiet zone is simply left empty,
    so the background is the paper's); width and height are in mm. Each subpath is one
    rectangle ``M x y h w v h h -w z``. Raises InvalidInputError for a module under 0.4 mm.
    """
    if module_mm < MIN_MODULE_MM:
        raise InvalidInputError(
            f"QR modules of {module_mm} mm are too small: use at least {MIN_MODULE_MM} mm",
            module_mm=module_mm,
            min_module_mm=MIN_MODULE_MM,
        )
    matrix = qr_matrix(item.url, level=level, encoder=encoder)
    q = QUIET_ZONE_MODULES
    side = matrix.size + 2 * q
    d = "".join(f"M{x + q} {y + q}h{w}v1h-{w}z" for y, x, w in matrix.runs())
    mm = f"{side * module_mm:.2f}mm"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{mm}" height="{mm}" '
        f'viewBox="0 0 {side} {side}" shape-rendering="crispEdges">'
        f'<path fill="#000" d="{d}"/></svg>\n'
    )


def render_svg(
    item: PrintItem,
    out: BinaryIO | str | os.PathLike[str],
    *,
    module_mm: float = 0.5,
    level: EcLevel = "M",
    encoder: str = DEFAULT_ENCODER,
) -> None:
    """Write :func:`svg_text` of ``item`` to ``out`` (UTF-8)."""
    document = svg_text(item, module_mm=module_mm, level=level, encoder=encoder)
    with _binary_out(out) as fh:
        fh.write(document.encode("utf-8"))


def write_csv(items: Iterable[PrintItem], out: TextIO | str | os.PathLike[str]) -> int:
    """Write the header ``serial,url`` and one ``serial,url`` row per item; return the number
    of rows. A text stream should be opened with ``newline=""``. When the items carry claim
    codes (the first one decides), the header is ``serial,url,claim_code`` and each row ends
    with the item's claim code (``12345-67890``, digits and a dash).

    Rows are joined directly rather than through :mod:`csv`: a serial is digits and a stamp
    URL is upper-case letters, digits and ``:/.-`` (its prefix is validated), so no field
    ever needs quoting, and this keeps the writer from being the slowest part of a big run.
    Raises InvalidInputError if a URL would need quoting after all.
    """
    count = 0
    iterator = iter(items)
    first = next(iterator, None)
    rows = iterator if first is None else itertools.chain([first], iterator)
    claimed = first is not None and first.claim is not None
    with _text_out(out) as fh:
        fh.write("serial,url,claim_code\n" if claimed else "serial,url\n")
        for chunk in _chunks(rows, 10_000):
            if claimed:
                text = "".join([f"{i.serial},{i.url},{i.claim or ''}\n" for i in chunk])
            else:
                text = "".join([f"{item.serial},{item.url}\n" for item in chunk])
            if '"' in text or text.count(",") != len(chunk) * (1 + claimed):
                raise InvalidInputError("a stamp URL contains a comma or a quote")
            fh.write(text)
            count += len(chunk)
    return count
