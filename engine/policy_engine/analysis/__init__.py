"""Analysis: static analysis over every possible fact set: lint and symbolic diff."""
