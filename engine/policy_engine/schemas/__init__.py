"""Schemas: the JSON Schemas of the JSON the engine prints, shipped as package data.

Each is named for the command or the object it describes (`result`, `eval`, `invalid`,
`test`, `check`, `lint`, `diff`, ...) and has the `$id` `urn:policy-engine:schema:NAME`, by which
the others refer to it; `validator(NAME)` gives a validator that resolves those references.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any


@functools.cache
def load(name: str) -> dict[str, Any]:
    """The schema `NAME.schema.json`."""
    text = resources.files(__name__).joinpath(f"{name}.schema.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def names() -> list[str]:
    """The names of every shipped schema."""
    return sorted(entry.name.removesuffix(".schema.json")
                  for entry in resources.files(__name__).iterdir()
                  if entry.name.endswith(".schema.json"))


def validator(name: str) -> Any:
    """A Draft 2020-12 validator for schema `name`, resolving references to the others."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    registry: Registry = Registry().with_resources(
        (load(other)["$id"], Resource.from_contents(load(other))) for other in names())
    return Draft202012Validator(load(name), registry=registry,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)
