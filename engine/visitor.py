"""Visitor: dispatches a node to the `visit_<ClassName>` method, shared by every tree walker."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

R = TypeVar("R")


class Visitor(Generic[R]):
    """Walks nodes by calling `visit_<ClassName>(node, *args)`; subclasses define those methods."""

    def visit(self, node: Any, *args: Any) -> R:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            return self.generic_visit(node, *args)
        return method(node, *args)  # type: ignore[no-any-return]

    def generic_visit(self, node: Any, *args: Any) -> R:
        raise TypeError(f"{type(self).__name__} cannot visit {type(node).__name__}")
