"""Check: types, the checker, and the checked policy that both evaluators consume."""
