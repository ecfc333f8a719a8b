"""Explain: the trace of an evaluation and its renderings as text, JSON and Markdown."""
