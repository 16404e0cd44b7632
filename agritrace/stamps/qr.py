"""QR encoding behind one small function, :func:`qr_matrix`, with interchangeable encoders.

A pure core (no web, no database). :func:`qr_matrix` turns text into a :class:`QrMatrix`:
the symbol's modules without any quiet zone (renderers add it), its version and error
correction level. Three encoders give the same kind of result and are chosen by name:

* ``"zxing"``: zxing-cpp's writer (``zxingcpp.create_barcode``, C++), the default because
  it is by far the fastest (see docs/adr/0003-qr-encoder.md for the measurements);
* ``"segno"``: pure Python (optional extra ``agritrace[qr-encoders]``);
* ``"qrcode"``: pure Python, the baseline of RECIPES.md Recipe 2 (same extra).

Every encoder picks the smallest version that fits, encodes upper-case stamp URLs in
alphanumeric mode (version 6 at level M for a 154-character URL) and keeps exactly the
requested level (no silent boost). Unknown encoders or levels and text too long for any
QR version raise :class:`~agritrace.errors.InvalidInputError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from agritrace.errors import InvalidInputError

__all__ = [
    "DEFAULT_ENCODER",
    "ENCODERS",
    "QUIET_ZONE_MODULES",
    "EcLevel",
    "QrMatrix",
    "qr_matrix",
]

#: Error-correction levels offered for stamps (M by default, Q on request).
EcLevel = Literal["M", "Q"]
#: Width of the light margin every renderer adds around the modules (ISO/IEC 18004: 4).
QUIET_ZONE_MODULES = 4

_DARK_RUN = re.compile(b"\x01+")


@dataclass(frozen=True, slots=True)
class QrMatrix:
    """A QR symbol without quiet zone: ``rows[y][x]`` is 1 for a dark module, 0 for light.

    ``size`` modules square (``17 + 4 * version``). Each row is ``bytes`` of length ``size``,
    which keeps a matrix small, hashable and cheap to send between processes.
    """

    size: int
    version: int
    level: EcLevel
    rows: tuple[bytes, ...]

    def is_dark(self, x: int, y: int) -> bool:
        """True if the module in column ``x`` of row ``y`` is dark."""
        return self.rows[y][x] == 1

    def runs(self) -> Iterator[tuple[int, int, int]]:
        """Horizontal runs of dark modules as ``(y, x, length)``, row by row, left to right.

        Renderers draw one rectangle per run rather than one per module.
        """
        for y, row in enumerate(self.rows):
            for match in _DARK_RUN.finditer(row):
                yield y, match.start(), match.end() - match.start()


def _matrix(rows: list[bytes], level: EcLevel) -> QrMatrix:
    size = len(rows)
    return QrMatrix(size=size, version=(size - 17) // 4, level=level, rows=tuple(rows))


_ZXING_DARK = bytes.maketrans(bytes(range(256)), bytes([1] * 128 + [0] * 128))


def _zxing(text: str, level: EcLevel) -> QrMatrix:
    import zxingcpp

    try:
        symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level=level)
    except ValueError as exc:
        raise InvalidInputError(f"cannot encode {len(text)} characters as a QR code") from exc
    image = symbol.to_image(scale=1, add_quiet_zones=False)
    height, width = image.shape
    # zxing-cpp draws dark modules as 0 and light as 255 (8-bit grey). Its stub omits the
    # buffer protocol that zxingcpp.Image implements, hence the ignore.
    pixels = memoryview(image).tobytes().translate(_ZXING_DARK)  # type: ignore[arg-type]
    return _matrix([pixels[y * width : (y + 1) * width] for y in range(height)], level)


def _optional_encoder_missing(name: str) -> InvalidInputError:
    return InvalidInputError(
        f"the QR encoder {name!r} is not installed; install agritrace[qr-encoders]"
    )


def _segno(text: str, level: EcLevel) -> QrMatrix:
    try:
        import segno
    except ImportError as exc:
        raise _optional_encoder_missing("segno") from exc

    try:
        symbol = segno.make_qr(text, error=level.lower(), boost_error=False)
    except segno.DataOverflowError as exc:
        raise InvalidInputError(f"cannot encode {len(text)} characters as a QR code") from exc
    return _matrix([bytes(row) for row in symbol.matrix], level)


def _qrcode(text: str, level: EcLevel) -> QrMatrix:
    try:
        import qrcode
        import qrcode.constants
        import qrcode.exceptions
    except ImportError as exc:
        raise _optional_encoder_missing("qrcode") from exc

    levels: dict[str, Any] = {
        "M": qrcode.constants.ERROR_CORRECT_M,
        "Q": qrcode.constants.ERROR_CORRECT_Q,
    }
    symbol = qrcode.QRCode(error_correction=levels[level], border=0)
    symbol.add_data(text)
    try:
        symbol.make(fit=True)
    # qrcode signals "longer than version 40" as a ValueError about version 41.
    except (qrcode.exceptions.DataOverflowError, ValueError) as exc:
        raise InvalidInputError(f"cannot encode {len(text)} characters as a QR code") from exc
    return _matrix([bytes(bool(cell) for cell in row) for row in symbol.modules], level)


#: Encoders by name; all produce equivalent (decodable, same-version) matrices.
ENCODERS: dict[str, Callable[[str, EcLevel], QrMatrix]] = {
    "zxing": _zxing,
    "segno": _segno,
    "qrcode": _qrcode,
}
#: The fastest correct encoder on the reference machine (docs/adr/0003-qr-encoder.md).
DEFAULT_ENCODER = "zxing"


def qr_matrix(text: str, *, level: EcLevel = "M", encoder: str = DEFAULT_ENCODER) -> QrMatrix:
    """Encode ``text`` as a QR symbol at error-correction ``level`` with ``encoder``.

    Returns the smallest symbol that fits, without quiet zone. Raises InvalidInputError for
    empty text, an unknown level or encoder, or text too long for any version.
    """
    if not text:
        raise InvalidInputError("nothing to encode: the QR text is empty")
    if level not in ("M", "Q"):
        raise InvalidInputError(f"QR error-correction level must be M or Q, not {level!r}")
    encode = ENCODERS.get(encoder)
    if encode is None:
        raise InvalidInputError(
            f"unknown QR encoder {encoder!r}; choose one of {', '.join(sorted(ENCODERS))}"
        )
    return encode(text, level)
