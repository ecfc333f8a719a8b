"""Scenario file: loads a scenario file's facts, policy path and expectations, and checks its shape.

The file's structure is checked against a JSON Schema so every problem carries a JSON path;
the facts themselves stay raw here and are validated against the policy's declarations later.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from policy_engine.core.data import JsonPath, json_path, kind_of, path_key
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError, did_you_mean
from policy_engine.core.records import record
from policy_engine.scenarios.yaml_data import YamlDocument, read_yaml_file

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, ValidationError


#: The structure of a scenario file. Fact values are checked later, against the policy.
SCENARIO_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "scenario",
    "type": "object",
    "properties": {
        "description": {"type": "string", "description": "what the scenario shows"},
        "policy": {
            "type": "string",
            "minLength": 1,
            "description": "the policy file, relative to the scenario file",
        },
        "facts": {"type": "object", "description": "fact names and their values"},
        "expect": {
            "type": "object",
            "description": "what the policy should decide",
            "properties": {
                "decision": {"type": "string"},
                "rule": {"type": "string"},
                "outputs": {"type": "object"},
                "error": {"type": "string", "minLength": 1},
            },
            "additionalProperties": False,
            "minProperties": 1,
            "not": {"required": ["error", "decision"]},
        },
    },
    "required": ["facts"],
    "additionalProperties": False,
}

_TOP_KEYS = frozenset(SCENARIO_SCHEMA["properties"])
_EXPECT_SCHEMA: dict[str, Any] = SCENARIO_SCHEMA["properties"]["expect"]
_EXPECT_KEYS = frozenset(_EXPECT_SCHEMA["properties"])


@functools.lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    # Imported here: most scenario files are plainly valid (`plainly_valid`), and a program
    # that decides one scenario starts faster without jsonschema.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(SCENARIO_SCHEMA)


def plainly_valid(data: dict[Any, object]) -> bool:
    """Whether a scenario's structure plainly satisfies `SCENARIO_SCHEMA`, so that checking it
    against the schema would find nothing (the tests hold the two to that)."""
    if not _TOP_KEYS.issuperset(data) or not isinstance(data.get("facts"), dict):
        return False
    if "description" in data and not isinstance(data["description"], str):
        return False
    if "policy" in data and not (isinstance(data["policy"], str) and data["policy"]):
        return False
    if "expect" not in data:
        return True
    expect = data["expect"]
    if not isinstance(expect, dict) or not expect or not _EXPECT_KEYS.issuperset(expect):
        return False
    if "error" in expect and ("decision" in expect or not isinstance(expect["error"], str)
                              or not expect["error"]):
        return False
    return (all(isinstance(expect[key], str) for key in ("decision", "rule") if key in expect)
            and isinstance(expect.get("outputs", {}), dict))

#: What each key holds, for 'must be ...' messages.
_KEY_KINDS = {
    "description": "text",
    "policy": "text (a file path)",
    "facts": "a mapping of fact names to values",
    "expect": "a mapping with 'decision', 'rule', 'outputs' or 'error'",
    "decision": "text (a decision name)",
    "rule": "text (a rule id)",
    "outputs": "a mapping of output names to values",
    "error": "text (a diagnostic code such as E308, or a constraint's 'else' label)",
}


@record
class Expectation:
    """What a scenario expects the policy to return; None means 'not checked'.

    Args:
        decision: the expected decision name.
        rule: the expected deciding rule's id.
        outputs: expected output values, raw from YAML; compared with `convert_value` later.
    """

    decision: str | None
    rule: str | None
    outputs: dict[str, object] | None
    error: str | None = None


@record
class Scenario:
    """A loaded scenario file.

    Args:
        path: the file's path as given.
        description: the scenario's description, if any.
        policy: the `policy:` path resolved against the scenario file's directory, or None.
        facts: the fact values, raw from YAML.
        expect: the expectation, or None when the scenario only decides.
        document: the loaded YAML, for positions of the values in `facts` and `expect`.
    """

    path: str
    description: str | None
    policy: str | None
    facts: dict[str, object]
    expect: Expectation | None
    document: YamlDocument


def load_scenario(path: str) -> Scenario:
    """Reads a scenario file and checks its structure.

    Args:
        path: the scenario file's path.

    Returns:
        The scenario, with raw fact values and expectations.

    Raises:
        DiagnosticError: E301/E302/E307 from reading the YAML, or E303 listing every
            structural problem, sorted by JSON path.
    """
    return read_scenario(read_yaml_file(path), path)


def read_scenario(document: YamlDocument, path: str) -> Scenario:
    """Checks the structure of a loaded scenario document (`load_scenario` without reading the
    file: an editor has the text of a scenario that is not saved yet).

    Args:
        path: the scenario file's path, which its `policy:` is relative to.

    Raises:
        DiagnosticError: E303 listing every structural problem, sorted by JSON path.
    """
    data = document.data
    if not isinstance(data, dict):
        raise DiagnosticError(
            [
                _diagnostic(
                    document,
                    f"a scenario must be a mapping with 'facts', got {kind_of(data)}",
                    (),
                    help="start the file with 'facts:' followed by one 'name: value' per line",
                )
            ]
        )
    problems = [] if plainly_valid(data) else [
        problem
        for error in _validator().iter_errors(data)
        for problem in _translate(error, document)
    ]
    if problems:
        problems.sort(key=lambda item: (item[0], item[1].message))
        raise DiagnosticError([diagnostic for _, diagnostic in problems])

    policy = data.get("policy")
    resolved = None
    if isinstance(policy, str):
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), policy))
    expect = data.get("expect")
    expectation = None
    if isinstance(expect, dict):
        expectation = Expectation(
            decision=expect.get("decision"),
            rule=expect.get("rule"),
            outputs=expect.get("outputs"),
            error=expect.get("error"),
        )
    return Scenario(
        path=path,
        description=data.get("description"),
        policy=resolved,
        facts=data["facts"],
        expect=expectation,
        document=document,
    )


#: The keys of an expectation; at the top level, they were meant under `expect:`.
_EXPECT_KEYS = frozenset({"decision", "rule", "outputs", "error"})


def _translate(
    error: ValidationError, document: YamlDocument
) -> list[tuple[tuple[tuple[int, int, str], ...], Diagnostic]]:
    """Turns one JSON Schema error into friendly diagnostics, each with its sort key."""
    path: JsonPath = tuple(error.path)
    instance = error.instance
    found: list[tuple[JsonPath, Diagnostic]] = []
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        schema = error.schema
        allowed = list(schema.get("properties", {})) if isinstance(schema, Mapping) else []
        for key in instance:
            if key in allowed:
                continue
            help_text = did_you_mean(str(key), allowed) or "allowed keys: " + ", ".join(allowed)
            message = f"unknown key '{key}'"
            if path == () and key in _EXPECT_KEYS:
                # An `expect:` whose lines are not indented: its keys land at the top level.
                message = f"'{key}' belongs under 'expect:'" + (
                    ", but it is not indented under it" if "expect" in instance else "")
                help_text = ("indent the lines of the expectation under 'expect:', for example "
                             "by 2 spaces" if "expect" in instance else
                             f"write 'expect:' on the line above and indent '{key}' under it")
            key_path = (*path, str(key))
            found.append((key_path, _diagnostic(document, message, key_path, help=help_text)))
    elif error.validator == "required" and isinstance(instance, dict):
        required = error.validator_value if isinstance(error.validator_value, list) else []
        for key in required:
            if key not in instance and key == "facts":
                message = "missing 'facts': a scenario needs the facts to decide on"
            elif key not in instance:
                message = f"missing '{key}'"
            else:
                continue
            found.append(
                ((*path, key), _diagnostic(document, message, path, help=None, at=(*path, key)))
            )
    elif error.validator == "minProperties":
        message = "'expect' needs at least one of 'decision', 'rule', 'outputs' or 'error'"
        found.append((path, _diagnostic(document, message, path)))
    elif error.validator == "not" and not isinstance(instance, dict):
        pass  # reported as a wrong type
    elif error.validator == "not":
        message = "'expect' gives both a decision and an error; a scenario expects one or the other"
        found.append((path, _diagnostic(document, message, path)))
    elif error.validator == "minLength":
        found.append((path, _diagnostic(document, f"'{path[-1]}' must not be empty", path)))
    elif error.validator == "type":
        key = str(path[-1]) if path else "the scenario"
        kind = _KEY_KINDS.get(key, "something else")
        help_text = None
        if isinstance(instance, (bool, int, Decimal)) and "text" in kind:
            help_text = "YAML reads this as a number or yes/no; put the value in quotes"
        elif instance is None and key == "expect" and isinstance(document.data, dict) \
                and _EXPECT_KEYS & set(document.data):
            help_text = "indent the lines of the expectation under 'expect:'"
        elif instance is None:
            help_text = "give it a value or leave the key out"
        message = f"'{key}' must be {kind}, got {kind_of(instance)}"
        found.append((path, _diagnostic(document, message, path, help=help_text)))
    else:  # pragma: no cover - the schema uses no other keywords
        found.append((path, _diagnostic(document, error.message, path)))
    return [(path_key(item_path), diagnostic) for item_path, diagnostic in found]


def _diagnostic(
    document: YamlDocument,
    message: str,
    path: JsonPath,
    *,
    help: str | None = None,
    at: JsonPath | None = None,
) -> Diagnostic:
    position = document.locate(path)
    return Diagnostic(
        "E303",
        message,
        file=document.name,
        line=position[0] if position else None,
        column=position[1] if position else None,
        path=json_path(at if at is not None else path),
        help=help,
    )
