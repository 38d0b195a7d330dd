"""The FastAPI application: ``create_app()`` builds it, and ``app`` is what uvicorn serves."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response

from {{ cookiecutter.package_name }}.db import create_db_engine, create_session_factory
from {{ cookiecutter.package_name }}.dependencies import check_health, dispose
from {{ cookiecutter.package_name }}.health import Health, load_script_directory
{%- if cookiecutter.example_models %}
from {{ cookiecutter.package_name }}.routes import router
{%- endif %}
from {{ cookiecutter.package_name }}.settings import DatabaseSettings

# GET /health's other answer, for the API's documentation (/docs).
UNAVAILABLE: dict[str, Any] = {"model": Health, "description": "Not reachable, or not at head"}
# How long GET /health waits for the database before answering 503, in seconds.
HEALTH_TIMEOUT = 3.0
# How much longer the engine's connection attempts may take: the health check's own limit then
# always decides its answer, and the attempts it leaves behind end soon after.
CONNECT_MARGIN = 1.0


def create_app(
    settings: DatabaseSettings | None = None, health_timeout: float = HEALTH_TIMEOUT
) -> FastAPI:
    """An app on the database the settings name (``DATABASE_URL`` and co.), as Alembic's.

    The engine is made when the app starts, from the settings read then, and disposed of when
    it stops; migrations/ is read then too, for the health check. Nothing here migrates.
    A database server that does not answer makes GET /health a 503 after ``health_timeout``
    seconds, and the engine's connection attempts give up a second later.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.script = load_script_directory()
        app.state.health_timeout = health_timeout
        app.state.engine = create_db_engine(
            settings, connect_timeout=health_timeout + CONNECT_MARGIN
        )
        app.state.sessions = create_session_factory(app.state.engine)
        try:
            yield
        finally:
            await dispose(app.state.engine)

    app = FastAPI(title="{{ cookiecutter.package_name }}", lifespan=lifespan)
    app.add_api_route("/health", health, responses={503: UNAVAILABLE}, tags=["health"])
{%- if cookiecutter.example_models %}
    app.include_router(router)
{%- endif %}
    return app


async def health(request: Request, response: Response) -> Health:
    """200 when the database answers and is at the migrations' head; 503 saying why not."""
    report = await check_health(request.app)
    if report.status != "ok":
        response.status_code = 503
    return report


app = create_app()
