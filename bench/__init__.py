"""Benchmarks: ``python -m bench NAME`` prints a table of measured figures."""
