"""Shared helpers of the test suite: paths, the CLI invoker, golden files, strategies."""
