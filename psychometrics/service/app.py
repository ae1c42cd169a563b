"""The FastAPI application: routers per concern, limits, error handling, the store's lifecycle."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from psychometrics.service.deps import VerifiedKeys
from psychometrics.service.limits import BodyLimit, RateLimiter
from psychometrics.service.repository import BankCache
from psychometrics.service.routers import banks, cat, health, responses, take
from psychometrics.service.scoring import AnswerError
from psychometrics.service.settings import Settings
from psychometrics.service.store import make_engine, upgrade, writer

__all__ = ["create_app", "app_from_environment", "quiet_scoring_warnings", "tune_garbage_collection", "SETTINGS_ENV"]

#: JSON of :class:`Settings` for :func:`app_from_environment` (how ``serve --workers N`` hands them over).
SETTINGS_ENV = "PSYCHOMETRICS_SERVICE_SETTINGS"

logger = logging.getLogger("psychometrics.service")

#: Routers in the order their paths appear in /openapi.json. A later concern (adaptive testing
#: sessions, say) adds its own ``APIRouter`` here.
ROUTERS = (health.router, banks.router, responses.router, cat.router, take.router)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A scoring service on the store named in ``settings`` (migrated at start unless told not to).

    Examples
    --------
    >>> from psychometrics.service import Settings, create_app
    >>> app = create_app(Settings(database_url="sqlite:///./psychometrics.db"))  # doctest: +SKIP
    """
    from psychometrics import __version__

    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate:
            upgrade(settings.database_url)
        _import_scoring_modules()
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.writer = writer(engine)
        app.state.large_calls = asyncio.Lock()  # of the loop that serves (routers/banks.py)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(title="psychometrics scoring service", version=__version__, lifespan=lifespan,
                  description="Score respondents against versioned item banks; store responses durably.")
    app.state.settings = settings
    app.state.limiter = RateLimiter(settings.rate_limit, settings.burst)
    app.state.verified = VerifiedKeys(ttl=settings.key_cache_seconds)
    app.state.banks = BankCache()
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(CatchAll)
    _error_handlers(app)
    _document_raw_bodies(app)
    return app


def _document_raw_bodies(app: FastAPI) -> None:
    """Put the models that routes parse themselves (``bodies.parse_body``) into /openapi.json."""
    from psychometrics.service.bodies import RAW_BODY_MODELS

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in RAW_BODY_MODELS:
                document = model.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(document.pop("$defs", {}))
                schemas[model.__name__] = document
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _import_scoring_modules() -> None:
    """Import what requests need now rather than inside the first request that needs it
    (scipy.stats alone takes about a second), so no client waits for an import."""
    import orjson  # noqa: F401

    from psychometrics import cat, irt, norms, scoring  # noqa: F401


def quiet_scoring_warnings() -> None:
    """Keep the library's data and convergence warnings out of a server process's log.

    A warning may quote a respondent's data, and what it says reaches the client anyway as the
    score's ``flags``. Process-wide: for ``psychometrics serve`` and its workers, not for an
    application that embeds :func:`create_app`.
    """
    import warnings

    from psychometrics.errors import ConvergenceWarning, DataWarning

    warnings.filterwarnings("ignore", category=DataWarning)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)


def tune_garbage_collection() -> None:
    """Collect less often in a server process: a scoring call of 1,000 respondents allocates
    some 10^5 small objects, and each default collection would also walk every object of
    numpy, pandas and scipy. Those are frozen (never collected again) and the young
    generation may grow to 50,000 objects. Process-wide, like :func:`quiet_scoring_warnings`."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def app_from_environment() -> FastAPI:
    """The app with the settings in ``$PSYCHOMETRICS_SERVICE_SETTINGS`` (uvicorn's factory for worker processes)."""
    import json
    import os

    quiet_scoring_warnings()
    app = create_app(Settings(**json.loads(os.environ.get(SETTINGS_ENV, "{}"))))
    tune_garbage_collection()
    return app


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # loc, msg and type only: echoing the input back could hold NaN (not JSON) and answers
        detail = [{"loc": list(error.get("loc", ())), "msg": str(error.get("msg", "")),
                   "type": str(error.get("type", ""))} for error in exc.errors()[:20]]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(AnswerError)
    async def invalid_answers(_request: Request, exc: AnswerError) -> JSONResponse:
        return JSONResponse({"detail": [{"type": "answer_error", **problem} for problem in exc.problems]},
                            status_code=422)



class CatchAll:
    """ASGI middleware: an unexpected exception becomes a bare 500, logged by type and route only.

    Starlette's own handler would hand the exception on to the server, which logs its message,
    and a message may quote a respondent's answers.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            logger.error("unexpected %s on %s %s", type(exc).__name__, scope.get("method"), scope.get("path"))
            if not started:
                await JSONResponse({"detail": "internal error"}, status_code=500)(scope, receive, send)


