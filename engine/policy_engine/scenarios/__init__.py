"""Scenarios: scenario files, and deciding, testing and diffing folders of them."""
