"""Fixtures for the stamp tests: external tools, and a fresh signing key with its prefix.

``require_tool`` follows the project's rule for missing dependencies: a test that needs a
tool (``pdftoppm``, ``pdftotext``, ``chromium``) skips locally with a reason, and fails when
``AGRITRACE_REQUIRE_ALL=1`` (set by ``.ci/run``) so nothing skips silently in CI.
"""

from __future__ import annotations

import shutil

import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.support import unavailable

PREFIX = "HTTPS://TRACE.EXAMPLE.VN/S/"
#: What the decoder looks for: QR codes only.
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def require_tool(name: str) -> str:
    """The path of executable ``name``; skips (locally) or fails (in CI) if it is missing."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (Debian: apt-get install poppler-utils / chromium)")
    return str(path)


@pytest.fixture
def pdftoppm() -> str:
    return require_tool("pdftoppm")


@pytest.fixture
def pdftotext() -> str:
    return require_tool("pdftotext")


@pytest.fixture
def stamp_key() -> Ed25519PrivateKey:
    """A fresh key, as a real issuer has."""
    return Ed25519PrivateKey.generate()
