"""Fuzzing: odd inputs thrown at every front door; the bounded run and the campaign."""
