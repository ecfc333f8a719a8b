"""OpenAPI: the document at `/openapi.json`, built from the policies being served.

Each served policy gets its own decide and decide-many paths whose request bodies are the
policy's own fact schema (`Policy.schema()`, JSON Schema 2020-12, which OpenAPI 3.1 uses as
it is), so a client generated from the document sends exactly the facts the policy declares.
The document changes when a policy is reloaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from policy_engine import __version__
from policy_engine.serve.registry import ServedPolicy

_EXPLAIN = {
    "name": "explain", "in": "query", "required": False,
    "description": "full: the decision with its explanation (the default unless the server "
                   "was started with another); summary: the decision and each rule's "
                   "outcome; none: the decision alone",
    "schema": {"type": "string", "enum": ["full", "summary", "none"]},
}

_ERROR = {
    "type": "object",
    "required": ["format", "format_version", "status", "diagnostics"],
    "properties": {
        "format": {"const": "policy-engine/error"},
        "format_version": {"const": 1},
        "status": {"type": "integer"},
        "error_id": {"type": "string", "description": "only for 500: the id in the server log"},
        "diagnostics": {"type": "array", "items": {"$ref": "#/components/schemas/Diagnostic"}},
    },
}

_DIAGNOSTIC = {
    "type": "object",
    "required": ["code", "severity", "message"],
    "properties": {
        "code": {"type": "string", "pattern": "^[EWN][0-9]{3}$"},
        "severity": {"type": "string", "enum": ["error", "warning", "note"]},
        "file": {"type": ["string", "null"]},
        "line": {"type": ["integer", "null"]},
        "column": {"type": ["integer", "null"]},
        "end_line": {"type": ["integer", "null"]},
        "end_column": {"type": ["integer", "null"]},
        "path": {"type": ["string", "null"], "description": "the JSON path of the bad value"},
        "message": {"type": "string"},
        "help": {"type": ["string", "null"]},
        "label": {"type": ["string", "null"]},
    },
}

_RESULT = {
    "type": "object",
    "description": "Decision.to_json(): the JSON result format of docs/cli.md; a refusal has "
                   "decision null and its diagnostics in refused",
    "required": ["format", "format_version", "policy", "decision"],
    "properties": {
        "format": {"const": "policy-engine/result"},
        "format_version": {"const": 1},
        "policy": {"type": "object"},
        "decision": {"type": ["string", "null"]},
        "rule": {"type": "string"},
        "outputs": {"type": "object"},
        "reason": {"type": ["string", "null"]},
        "citation": {"type": ["string", "null"]},
        "refused": {"type": "array", "items": {"$ref": "#/components/schemas/Diagnostic"}},
        "facts": {"type": "object"},
        "trace": {"type": "object"},
        "trace_summary": {"type": "array", "items": {
            "type": "object", "required": ["rule", "outcome"],
            "properties": {"rule": {"type": "string"}, "outcome": {"type": "string"}}}},
    },
}


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {400: "The body is not JSON, or a query parameter is wrong",
               401: "No valid bearer token", 403: "The token may not use this policy",
               404: "No such policy", 409: "The policy's name is declared by two files",
               413: "The body is over a limit", 422: "The facts are not a valid fact set",
               500: "Internal error; its error_id is in the server log",
               503: "The decision log cannot be written, and the server refuses to answer "
                    "without it"}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {str(s): {"description": reasons[s], "content": error} for s in statuses}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _policy_paths(served: ServedPolicy, secured: bool) -> dict[str, Any]:
    name = served.name
    facts = {"$ref": f"#/components/schemas/{name}.facts"}
    result = {"$ref": "#/components/schemas/Result"}
    errors = (400, 401, 403, 404, 409, 413, 422, 500, 503) if secured else \
        (400, 404, 409, 413, 422, 500, 503)
    decision_id = {"Decision-Id": {"description": "the decision's id in the decision log",
                                   "schema": {"type": "string"}}}
    decide = {
        "operationId": f"decide_{name}",
        "summary": f"Decide: {served.title or name}",
        "tags": [name],
        "parameters": [_EXPLAIN],
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": facts}}},
        "responses": {"200": {**_json(result, "The decision, or the policy's refusal"),
                              "headers": decision_id}, **_errors(*errors)},
    }
    many = {
        "operationId": f"decide_many_{name}",
        "summary": f"Decide several fact sets: {served.title or name}",
        "tags": [name],
        "parameters": [_EXPLAIN],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "array", "items": facts}}}},
        "responses": {"200": _json({
            "type": "object", "required": ["decision_ids", "results"],
            "properties": {"decision_ids": {"type": "array", "items": {"type": "string"}},
                           "results": {"type": "array", "items": result}}},
            "One result per fact set, in order"), **_errors(*errors)},
    }
    residual = {
        "operationId": f"residual_{name}",
        "summary": f"What is still needed: {served.title or name}",
        "description": "Policy.residual on the facts known so far (any may be left out): "
                       "decided with its explanation, or the outcomes still possible, the "
                       "facts that still matter and the next question (docs/partial.md; "
                       "the JSON Schema ships as schemas/residual.schema.json). Not logged.",
        "tags": [name],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "description": f"facts of {name}, any of them left out"}}}},
        "responses": {"200": _json({"type": "object"}, "The residual"),
                      **_errors(*errors)},
    }
    return {
        f"/v1/policies/{name}/decide": {"post": decide},
        f"/v1/policies/{name}/decide-many": {"post": many},
        f"/v1/policies/{name}/residual": {"post": residual},
        f"/v1/policies/{name}/schema": {"get": {
            "operationId": f"schema_{name}", "tags": [name],
            "summary": "The JSON Schema of a fact set",
            "responses": {"200": _json({"type": "object"}, "JSON Schema 2020-12")}}},
    }


def document(policies: Iterable[ServedPolicy], secured: bool) -> dict[str, Any]:
    """The OpenAPI 3.1 document for these policies."""
    served = sorted(policies, key=lambda p: p.name)
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Result": _RESULT, "Error": _ERROR, "Diagnostic": _DIAGNOSTIC}
    for policy in served:
        paths.update(_policy_paths(policy, secured))
        schemas[f"{policy.name}.facts"] = policy.schema
    plain = {"type": "object"}
    paths.update({
        "/v1/policies": {"get": {"operationId": "list_policies", "summary": "Policies served",
                                 "responses": {"200": _json(plain, "Every policy served, "
                                                            "and files not served")}}},
        "/v1/policies/{name}": {"get": {
            "operationId": "policy_status", "summary": "A policy's state and problems",
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": _json(plain, "The policy's state"), **_errors(404)}}},
        "/health": {"get": {"operationId": "health", "summary": "The process is alive",
                            "security": [], "responses": {"200": _json(plain, "alive")}}},
        "/ready": {"get": {"operationId": "ready", "security": [],
                           "summary": "Ready to answer: policies loaded, decision log "
                                      "writable",
                           "responses": {"200": _json(plain, "ready"),
                                         "503": _json(plain, "not ready, and why")}}},
        "/metrics": {"get": {"operationId": "metrics", "summary": "Prometheus metrics",
                             "responses": {"200": {"description": "Prometheus text format",
                                                   "content": {"text/plain": {"schema": {
                                                       "type": "string"}}}}}}},
    })
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "policy-engine decisions", "version": __version__,
                 "description": "Decisions and their explanations from the policies served "
                                "by `policy serve` (docs/serve.md)."},
        "paths": paths,
        "components": {"schemas": schemas},
    }
    if secured:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http",
                                                           "scheme": "bearer"}}
        doc["security"] = [{"bearer": []}]
    return doc
