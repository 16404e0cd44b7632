"""agritrace: traceability for farm produce with signed QR stamps and a verifiable ledger."""

__all__ = ["__version__"]

__version__ = "0.1.0"
