"""The ASGI application: routes, their answers, errors as diagnostics, start and stop.

Starlette routes each request to a handler below; every handler answers JSON made by the
library (`Decision.to_json()`, `Diagnostic.to_json()`), never a traceback: a problem with the
request is a 4xx with diagnostics, and anything unexpected a 500 whose error id is written,
with the traceback, to the server's log. A request takes the registry's snapshot once, so it
finishes on the policy version it started with, whatever a reload does meanwhile.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.serve.auth import Access, Grant, unauthorized
from policy_engine.serve.bodies import BodyLimits, BodyParser, BodyProblem, read_body
from policy_engine.serve.config import ServeConfig
from policy_engine.serve.deciding import REQUEST, Decided, decide, decide_all
from policy_engine.serve.log_writer import DecisionLogWriter, LogUnavailable
from policy_engine.serve.metrics import Metrics
from policy_engine.serve.openapi import document
from policy_engine.serve.records import Masker, dumps, new_id, new_ids, record
from policy_engine.serve.registry import Registry, ServedPolicy, Snapshot

log = logging.getLogger("policy_engine.serve")

ERROR_FORMAT = "policy-engine/error"
#: decide-many requests with more fact sets than this are decided on a worker thread, so the
#: event loop goes on answering others (and /health) meanwhile.
_THREAD_AT = 16

Handler = Callable[[Request], Awaitable[Response]]


class Problem(Exception):
    """A request the server answers with an error status and diagnostics."""

    def __init__(self, status: int, diagnostics: Sequence[Diagnostic],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.diagnostics = tuple(diagnostics)
        self.headers = headers or {}


def _json(data: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(data), status_code=status, headers=headers,
                    media_type="application/json")


def error_response(status: int, diagnostics: Sequence[Diagnostic],
                   headers: dict[str, str] | None = None,
                   error_id: str | None = None) -> Response:
    """The body of every error: the status and the diagnostics, in the tools' JSON form."""
    body: dict[str, Any] = {"format": ERROR_FORMAT, "format_version": 1, "status": status}
    if error_id is not None:
        body["error_id"] = error_id
    body["diagnostics"] = [d.to_json() for d in diagnostics]
    return _json(body, status, headers)


def _request_problem(message: str, help: str | None = None) -> Diagnostic:
    return Diagnostic("E509", message, help=help)


class Service:
    """What the routes share: the registry, the decision log, the metrics, the limits."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.registry = Registry(config.policy_paths, reload_interval=config.reload_interval,
                                 deleted_grace=config.deleted_grace,
                                 on_reload=self.metrics.reload)
        self.access = Access(config.tokens, config.policy_tokens)
        self.masker = Masker(config.mask)
        self.parser = BodyParser(BodyLimits(config.max_body_bytes, config.max_depth,
                                            config.max_digits, config.max_batch))
        self.writer: DecisionLogWriter | None = None
        if config.decision_log is not None:
            self.writer = DecisionLogWriter(
                config.decision_log, self.metrics, max_bytes=config.log_max_bytes,
                fsync=config.fsync, fsync_interval=config.fsync_interval,
                on_failure=config.on_log_failure, pending_max=config.log_pending_max)
        self._openapi: tuple[Snapshot, frozenset[str] | None, dict[str, Any]] | None = None
        self._publish(self.registry.scan())

    def _publish(self, snapshot: Snapshot) -> None:
        self.metrics.policies(len(snapshot.served), len(snapshot.problems()))

    # ------------------------------------------------------------ start and stop
    def start(self) -> None:
        self.registry.start()
        if self.writer is not None:
            self.writer.start()

    def stop(self) -> None:
        self.registry.stop()
        if self.writer is not None:
            self.writer.close()
            log.info("decision log closed")

    # ------------------------------------------------------------ the request's parts
    def grant(self, request: Request) -> Grant:
        grant = self.access.grant(request.headers.get("authorization"))
        if grant is None:
            raise Problem(401, [unauthorized("a valid bearer token is needed")],
                          {"WWW-Authenticate": 'Bearer realm="policy"'})
        return grant

    def served(self, request: Request) -> ServedPolicy:
        name = request.path_params["name"]
        grant = self.grant(request)
        if not grant.allows(name):
            raise Problem(403, [unauthorized(f"this token may not use the policy '{name}'")])
        snapshot = self.registry.snapshot
        served = snapshot.served.get(name)
        if served is not None:
            return served
        status = snapshot.status(name)
        if status is None:
            known = sorted(n for n in snapshot.served if grant.allows(n))
            from policy_engine.core.diagnostics import did_you_mean

            raise Problem(404, [Diagnostic(
                "E504", f"no policy named '{name}' is served",
                help=did_you_mean(name, known) or ("policies served: " + ", ".join(known)
                                                   if known else "no policy is served"))])
        raise Problem(409, [Diagnostic(
            "E505", f"the policy '{name}' is not served: it is declared by more than one file "
                    "or has never checked without errors",
            help=f"GET /v1/policies/{name} shows the problems")])

    def explain(self, request: Request) -> Any:
        values = request.query_params.getlist("explain")
        if not values:
            return self.config.default_explain
        if len(values) > 1 or values[0] not in ("full", "summary", "none"):
            raise Problem(400, [_request_problem(
                f"explain must be full, summary or none, got {', '.join(map(repr, values))}")])
        return values[0]

    async def body(self, request: Request) -> bytes:
        return await read_body(request.headers.get("content-length"), request.stream(),
                               self.parser.limits)

    async def log_decisions(self, served: ServedPolicy, fact_sets: Sequence[object],
                            decided: Sequence[Decided], now: float,
                            ids: Sequence[str]) -> str:
        """Writes the decisions' lines; says whether they are in the log (`yes`), kept in
        memory (`pending`) or not kept because the log is off (`off`).

        Raises:
            Problem: 503 (E507), the log cannot be written and the server refuses.
        """
        writer = self.writer
        if writer is None:
            return "off"
        lines = [record(i, now, served, facts, self.masker, d.result, d.summary)
                 for i, facts, d in zip(ids, fact_sets, decided, strict=True)]
        try:
            written, ticket = writer.write(lines)
        except LogUnavailable as error:
            raise Problem(503, [Diagnostic(
                "E507", f"the decision log cannot be written ({error.reason}); no decision is "
                        "given without its log line",
                help="free space where the decision log is written; /ready says when the "
                     "log works again (--on-log-failure answer keeps answering instead)")],
                {"Retry-After": "5"}) from None
        if written and self.config.fsync == "always":
            await anyio.to_thread.run_sync(writer.wait_synced, ticket)
        return "yes" if written else "pending"

    def openapi(self, grant: Grant) -> dict[str, Any]:
        snapshot = self.registry.snapshot
        names = None if grant.every_policy else grant.policies
        cached = self._openapi
        if cached is None or cached[0] is not snapshot or cached[1] != names:
            visible = [p for p in snapshot.served.values() if grant.allows(p.name)]
            cached = self._openapi = (snapshot, names,
                                      document(visible, self.access.required))
        return cached[2]


def _endpoint(service: Service, name: str, handler: Handler) -> Handler:
    """The handler, with its problems turned into answers and its requests counted."""

    async def answer(request: Request) -> Response:
        try:
            response = await handler(request)
        except Problem as problem:
            response = error_response(problem.status, problem.diagnostics, problem.headers)
        except BodyProblem as problem:
            response = error_response(problem.status, [problem.diagnostic])
        except Exception:
            error_id = new_id(time.time())
            log.exception("internal error %s while answering %s %s", error_id,
                          request.method, request.url.path)
            service.metrics.internal_error()
            response = error_response(500, [Diagnostic(
                "E508", f"internal error {error_id}: the server failed while answering",
                help="this is a bug in the server, not in your request; report it with "
                     "the error id, which is in the server's log")], error_id=error_id)
        service.metrics.request(name, response.status_code)
        return response

    return answer


def create_app(config: ServeConfig) -> Starlette:
    """The application for `config`: its policies loaded, not yet watching for changes."""
    service = Service(config)

    async def decide_one(request: Request) -> Response:
        started = time.perf_counter()
        served = service.served(request)
        explain = service.explain(request)
        facts = service.parser.facts(await service.body(request))
        try:
            decided = decide(served, facts, explain)
        except DiagnosticError as error:
            raise Problem(422, error.diagnostics) from None
        now, ids = new_ids(1)
        logged = await service.log_decisions(served, [facts], [decided], now, ids)
        service.metrics.decided(served.name, [decided.outcome], time.perf_counter() - started)
        return Response(decided.answer, media_type="application/json",
                        headers={"Decision-Id": ids[0], "Decision-Logged": logged})

    async def decide_many(request: Request) -> Response:
        started = time.perf_counter()
        served = service.served(request)
        explain = service.explain(request)
        fact_sets = service.parser.fact_sets(await service.body(request))
        try:
            if len(fact_sets) >= _THREAD_AT:
                decided = await anyio.to_thread.run_sync(decide_all, served, fact_sets, explain)
            else:
                decided = decide_all(served, fact_sets, explain)
        except DiagnosticError as error:
            raise Problem(422, error.diagnostics) from None
        now, ids = new_ids(len(decided))
        logged = await service.log_decisions(served, fact_sets, decided, now, ids)
        service.metrics.decided(served.name, [d.outcome for d in decided],
                                time.perf_counter() - started)
        body = b"".join((b'{"decision_ids":', dumps(ids), b',"results":[',
                         b",".join(d.answer for d in decided), b"]}"))
        return Response(body, media_type="application/json",
                        headers={"Decision-Logged": logged})

    async def residual(request: Request) -> Response:
        """What the facts known so far decide, and what is still needed (docs/partial.md):
        `Policy.residual` on the facts in the body, any of them left out. It decides nothing,
        so nothing is logged; the analysis runs in a thread, within its budget (E701)."""
        served = service.served(request)
        known = service.parser.facts(await service.body(request))
        try:
            answer = await anyio.to_thread.run_sync(functools.partial(
                served.policy.residual, known, file=REQUEST, prefix=()))
        except DiagnosticError as error:
            raise Problem(422, error.diagnostics) from None
        return _json(answer.to_json())

    async def policies(request: Request) -> Response:
        grant = service.grant(request)
        snapshot = service.registry.snapshot
        listed = []
        for name, served in sorted(snapshot.served.items()):
            if grant.allows(name):
                status = snapshot.status(name) or {}
                listed.append({**served.describe(), "state": status.get("state", "serving")})
        problems = [p for p in snapshot.problems() if grant.allows(p["name"])]
        return _json({"policies": listed, "problems": problems})

    async def policy_status(request: Request) -> Response:
        name = request.path_params["name"]
        grant = service.grant(request)
        status = service.registry.snapshot.status(name) if grant.allows(name) else None
        if status is None:
            if grant.allows(name):
                service.served(request)  # raises the 404 with its help
            raise Problem(403, [unauthorized(f"this token may not use the policy '{name}'")])
        return _json(status)

    async def schema(request: Request) -> Response:
        return _json(service.served(request).schema)

    async def openapi(request: Request) -> Response:
        return _json(service.openapi(service.grant(request)))

    async def health(request: Request) -> Response:
        return _json({"status": "alive"})

    async def ready(request: Request) -> Response:
        snapshot = service.registry.snapshot
        writer = service.writer
        reasons = []
        if not snapshot.served:
            reasons.append("no policy is served")
        log_state: dict[str, Any] = {"state": "off"}
        if writer is not None:
            log_state = {"state": "ok" if writer.error is None else "failing",
                         "error": writer.error, "on_failure": writer.on_failure,
                         "target": "standard output" if writer.to_standard_output
                         else "folder"}
            if writer.error is not None:
                reasons.append(f"the decision log cannot be written: {writer.error}")
        body = {"ready": not reasons, "reasons": reasons, "policies": len(snapshot.served),
                "decision_log": log_state}
        return _json(body, 200 if not reasons else 503)

    async def metrics(request: Request) -> Response:
        grant = service.grant(request)
        if not grant.every_policy:
            raise Problem(403, [unauthorized("the metrics need a token for every policy")])
        service._publish(service.registry.snapshot)
        return Response(service.metrics.render(),
                        media_type="text/plain; version=0.0.4; charset=utf-8")

    routes = [
        Route("/v1/policies/{name}/decide", _endpoint(service, "decide", decide_one),
              methods=["POST"]),
        Route("/v1/policies/{name}/decide-many",
              _endpoint(service, "decide-many", decide_many), methods=["POST"]),
        Route("/v1/policies/{name}/residual", _endpoint(service, "residual", residual),
              methods=["POST"]),
        Route("/v1/policies", _endpoint(service, "policies", policies), methods=["GET"]),
        Route("/v1/policies/{name}", _endpoint(service, "policy", policy_status),
              methods=["GET"]),
        Route("/v1/policies/{name}/schema", _endpoint(service, "schema", schema),
              methods=["GET"]),
        Route("/openapi.json", _endpoint(service, "openapi", openapi), methods=["GET"]),
        Route("/health", _endpoint(service, "health", health), methods=["GET"]),
        Route("/ready", _endpoint(service, "ready", ready), methods=["GET"]),
        Route("/metrics", _endpoint(service, "metrics", metrics), methods=["GET"]),
    ]

    async def not_routed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            diagnostic = _request_problem(f"{request.method} is not allowed here",
                                          help=f"allowed: {(exc.headers or {}).get('Allow')}")
        elif exc.status_code == 404:
            diagnostic = _request_problem(f"no endpoint {request.url.path}",
                                          help="GET /openapi.json lists the endpoints")
        else:
            diagnostic = _request_problem(str(exc.detail))
        service.metrics.request("other", exc.status_code)
        return error_response(exc.status_code, [diagnostic], dict(exc.headers or {}))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()

    app = Starlette(routes=routes, exception_handlers={HTTPException: not_routed},
                    lifespan=lifespan)
    app.state.service = service
    return app

