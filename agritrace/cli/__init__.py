"""agritrace.cli."""
