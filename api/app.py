"""The FastAPI application: JSON API under /api/v1, OpenAPI and docs, problem+json errors."""
from __future__ import annotations

import gc
import logging
import re
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

from api import deps, problems, web
from api.headers import SecurityHeaders
from api.routers import admin, audit, auth, deployments, inbox, organisations, plans, targets, workflows
from engine.store.config import settings
from engine.store.db import make_engine
from engine.workflow import commands
from engine.workflow.evidence import MAX_FILES
from engine.workflow.writer import GroupWriter

API = "/api/v1"
UPLOAD_PATHS = (f"{API}/plans/import",)
_log = logging.getLogger("kaoping.api")
EVIDENCE_FORM = re.compile(r"^/targets/[0-9]+/fire$")


def body_limit(path: str) -> int:
    """The largest body a path takes: plan files, evidence forms (files plus the fields), or the default."""
    config = settings()
    if path in UPLOAD_PATHS:
        return config.max_upload_bytes
    if EVIDENCE_FORM.match(path):
        return config.max_evidence_bytes * MAX_FILES + 1_048_576
    return config.max_body_bytes


class BodyLimit:
    """Refuse request bodies over the configured size with 413 — before reading them whole."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = body_limit(scope["path"])
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await self._refuse(scope, receive, send, limit)
        seen, over, started = 0, False, False

        async def counted():
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:  # a body without Content-Length (chunked) that grows past the limit
                over = True
                return {"type": "http.disconnect"}  # the app stops reading; whatever it answers is replaced
            return message

        async def guarded_send(message):
            nonlocal started
            if over:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope, receive, send, limit: int) -> None:
        detail = f"请求内容超过 {limit / 1_048_576:.1f} MiB"
        if scope["path"].startswith("/api/"):
            response = problems.problem(413, "too_large", detail)
        else:
            response = problems.page(413, detail)
        await response(scope, receive, send)


#: Allocations between two collections of the youngest generation in a served process (Python's default: 700).
YOUNG_COLLECTION = 10_000


def settle_memory() -> None:
    """What start-up made lives as long as the process: kept out of the collector's sight (``gc.freeze``), so that
    a full collection no longer walks it, stalling every request of the process for tens of ms (three times in
    1,600 transitions); the youngest generation is collected every :data:`YOUNG_COLLECTION` allocations."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION, *gc.get_threshold()[1:])


def served() -> FastAPI:
    """The application as ``kaoping serve`` runs it: the configured database, warmed up and its memory settled
    once started."""
    return create_app(settle=True)


def create_app(engine: Engine | None = None, *, scheduler: bool | None = None, settle: bool = False) -> FastAPI:
    """The application, on ``engine`` (default: the configured database).

    The scheduler runs inside it when ``scheduler`` is true (default: ``KAOPING_SCHEDULER``
    for the configured database, off for an engine handed in, as tests do). ``settle``: once started,
    :func:`commands.warm` (what the first fire would make, made before the first request) and then
    :func:`settle_memory` (a process of its own that serves only this application).
    """
    run_scheduler = scheduler if scheduler is not None else (engine is None and settings().scheduler)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.engine = engine or make_engine()
        app.state.writer = GroupWriter(app.state.engine)
        jobs = None
        if run_scheduler:
            from notifications.jobs import background

            jobs = background(app.state.engine)
        if settle:
            try:  # before the first request, not during it
                await run_in_threadpool(commands.warm, app.state.engine)
                await run_in_threadpool(deps.warm, app.state)
            except Exception:  # noqa: BLE001 - served all the same: what failed here fails (and says why) where it is used
                _log.warning("启动预热未完成，首次请求时再读取", exc_info=True)
            settle_memory()  # what start-up and the warm-up made, out of the collector's sight
        yield
        app.state.writer.close()  # what was handed to it is written (or refused with its error) before the end
        if jobs is not None:
            jobs.shutdown(wait=True)
        if engine is None:
            app.state.engine.dispose()

    app = _App(title="kaoping 考评 API", version="1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="绩效目标工作流：目标、流转、审计。除登录、/healthz 与文档外，所有接口都需要 Bearer 令牌。")
    app.state.engine = engine
    problems.install(app)
    for module in (auth, plans, targets, audit, workflows, deployments, inbox, admin, organisations):
        app.include_router(module.router, prefix=API)
    web.install(app)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness and database reachability."""
        with app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok"}

    app.add_middleware(BodyLimit)
    return app


class _App(FastAPI):
    def build_middleware_stack(self):
        # Around everything, the server-error handler included: the headers go on every response.
        return SecurityHeaders(super().build_middleware_stack())
