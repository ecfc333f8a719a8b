"""Visitor: dispatches a node to the `visit_<ClassName>` method, shared by every tree walker."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

R = TypeVar("R")


class Visitor(Generic[R]):
    """Walks nodes by calling `visit_<ClassName>(node, *args)`; subclasses define those methods."""

    def visit(self, node: Any, *args: Any) -> R:
        key = (self.__class__, node.__class__)
        method = _METHODS.get(key)
        if method is None:
            method = _METHODS[key] = getattr(self.__class__, "visit_" + type(node).__name__,
                                             _generic)
        return method(self, node, *args)  # type: ignore[no-any-return]

    def generic_visit(self, node: Any, *args: Any) -> R:
        raise TypeError(f"{type(self).__name__} cannot visit {type(node).__name__}")


def _generic(visitor: Visitor[Any], node: Any, *args: Any) -> Any:
    return visitor.generic_visit(node, *args)


#: The method that visits each (visitor class, node class), found once.
_METHODS: dict[tuple[type, type], Any] = {}
