"""agritrace.ledger."""
