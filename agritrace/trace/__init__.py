"""agritrace.trace."""
