"""What the routes get from the app's database: a session per request, committed or rolled back.

Synchronous sessions: FastAPI runs the routes that use them (plain ``def``) in worker threads.
"""

from collections.abc import Iterator
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, Request
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from {{ cookiecutter.package_name }}.health import Health, database_health, no_answer, unreachable


def get_session(request: Request) -> Iterator[Session]:
    """A session of the app's factory for one request.

    Committed when the route returns, before the response is sent (so a failing commit is an
    error response, not a success that did not happen); rolled back when the route raises,
    an HTTPException included.
    """
    sessions: sessionmaker[Session] = request.app.state.sessions
    with sessions() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        session.commit()


# scope="function": the commit above runs when the route returns, not after the response.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def check_health(app: FastAPI) -> Health:
    """Whether the app's database answers and is at head, asked from a worker thread; not
    reachable if it has not answered within the app's ``health_timeout``."""
    seconds: float = app.state.health_timeout
    with anyio.move_on_after(seconds):
        # A thread cannot be stopped: past the limit, the answer stops waiting for it. Its
        # connect attempt gives up a second later (create_app bounds the engine so), so
        # abandoned threads and their pool slots do not pile up while the server is silent.
        return await anyio.to_thread.run_sync(_check_health, app, abandon_on_cancel=True)
    return no_answer(app.state.engine.url, seconds)


def _check_health(app: FastAPI) -> Health:
    engine: Engine = app.state.engine
    try:
        with engine.connect() as connection:
            return database_health(connection, app.state.script)
    except DBAPIError as error:
        return unreachable(error, engine.url)


async def dispose(engine: Engine) -> None:
    """Close the engine's pooled connections, from a worker thread."""
    await anyio.to_thread.run_sync(engine.dispose)
