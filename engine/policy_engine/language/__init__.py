"""Language: the policy language itself: grammar, syntax nodes, parsers, syntax hints, formatter."""
