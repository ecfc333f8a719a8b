"""Explain: the one result type (`Decision`), the trace behind it, and its renderings."""
