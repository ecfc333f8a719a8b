"""Benchmarks: the reference policy against hand-written Python and peer engines (run.py)."""
