"""Core: what every stage shares: source text and spans, diagnostics, the visitor, the cache."""
