"""Evaluate: the runtime both evaluators share, the interpreter, and the compiler."""
