"""QR matrices: every encoder's output decodes with zxing-cpp, at the promised version."""

from __future__ import annotations

import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from agritrace.errors import InvalidInputError
from agritrace.stamps.codec import MAX_PREFIX_CHARS, sign_stamp
from agritrace.stamps.qr import DEFAULT_ENCODER, ENCODERS, QUIET_ZONE_MODULES, QrMatrix, qr_matrix
from tests.stamps.conftest import QR_ONLY

# The longest prefix that keeps version 6 at level M, and a real signed code after it.
LONG_PREFIX = "HTTPS://" + "T" * (MAX_PREFIX_CHARS - 14) + ".VN/S/"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(32))
URL_154 = sign_stamp(98_765, key_id=0, private_key=KEY, prefix=LONG_PREFIX).to_url(LONG_PREFIX)
URL_137 = sign_stamp(98_765, key_id=0, private_key=KEY, prefix="HTTPS://EXAMPLE.VN/S/").to_url(
    "HTTPS://EXAMPLE.VN/S/"
)


def to_image(matrix: QrMatrix, scale: int = 4) -> Image.Image:
    """Render a matrix with its quiet zone, independently of the package's renderers."""
    side = matrix.size + 2 * QUIET_ZONE_MODULES
    image = Image.new("L", (side, side), 255)
    for y in range(matrix.size):
        for x in range(matrix.size):
            if matrix.is_dark(x, y):
                image.putpixel((x + QUIET_ZONE_MODULES, y + QUIET_ZONE_MODULES), 0)
    return image.resize((side * scale, side * scale), Image.Resampling.NEAREST)


def decode(image: Image.Image) -> list[zxingcpp.Barcode]:
    return list(zxingcpp.read_barcodes(image, formats=QR_ONLY))


def version_of(result: zxingcpp.Barcode) -> object:
    """The QR version the decoder read (zxing-cpp reports it in ``extra``)."""
    extra = result.extra
    assert isinstance(extra, dict)
    return extra["Version"]


def test_prefix_and_code_are_154_characters() -> None:
    assert len(LONG_PREFIX) == MAX_PREFIX_CHARS
    assert len(URL_154) == 154
    assert len(URL_137) == 137


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
@pytest.mark.parametrize("url", [URL_137, URL_154], ids=["137", "154"])
def test_encoder_gives_version_6_at_m_that_decodes_exactly(encoder: str, url: str) -> None:
    matrix = qr_matrix(url, level="M", encoder=encoder)
    assert (matrix.version, matrix.size, matrix.level) == (6, 41, "M")
    assert len(matrix.rows) == 41
    assert all(len(row) == 41 and set(row) <= {0, 1} for row in matrix.rows)
    [result] = decode(to_image(matrix))
    assert result.text == url
    assert result.ec_level == "M"
    assert version_of(result) == "6"


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_level_q_works(encoder: str) -> None:
    matrix = qr_matrix(URL_154, level="Q", encoder=encoder)
    assert matrix.level == "Q"
    assert matrix.version > 6
    [result] = decode(to_image(matrix))
    assert result.text == URL_154
    assert result.ec_level == "Q"
    assert version_of(result) == str(matrix.version)


def test_encoders_agree_on_the_symbol_size() -> None:
    sizes = {qr_matrix(URL_154, encoder=name).size for name in ENCODERS}
    assert sizes == {41}


def test_default_encoder_is_one_of_the_encoders() -> None:
    assert DEFAULT_ENCODER in ENCODERS


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 $%*+-./:", min_size=1, max_size=200))
@settings(max_examples=25, deadline=None)
def test_default_encoder_round_trips_alphanumeric_text(text: str) -> None:
    [result] = decode(to_image(qr_matrix(text)))
    assert result.text == text


def test_runs_cover_exactly_the_dark_modules() -> None:
    matrix = qr_matrix(URL_137)
    from_runs = {(x + i, y) for y, x, n in matrix.runs() for i in range(n)}
    dark = {(x, y) for y in range(41) for x in range(41) if matrix.is_dark(x, y)}
    assert from_runs == dark


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"text": ""}, "empty"),
        ({"text": "A", "level": "H"}, "level"),
        ({"text": "A", "encoder": "nope"}, "unknown QR encoder"),
    ],
)
def test_bad_arguments_are_invalid_input(kwargs: dict[str, str], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        qr_matrix(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_text_too_long_for_any_version_is_invalid_input(encoder: str) -> None:
    with pytest.raises(InvalidInputError, match="cannot encode 5000 characters"):
        qr_matrix("A" * 5000, encoder=encoder)
