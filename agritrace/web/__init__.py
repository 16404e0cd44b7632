"""agritrace.web."""
