"""Facts: the input stage: JSON Schema, validation and conversion, constraints."""
