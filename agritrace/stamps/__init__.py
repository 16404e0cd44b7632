"""agritrace.stamps."""
