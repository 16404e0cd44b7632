"""Import every model module so that ``Base.metadata`` knows all tables (for Alembic)."""

from __future__ import annotations

import agritrace.ledger.store
import agritrace.trace.access
import agritrace.trace.disclosure
import agritrace.trace.event_models
import agritrace.trace.models  # noqa: F401

__all__: list[str] = []
