"""What the routes get from the app's database: an async session per request, committed or
rolled back."""

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, Request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from {{ cookiecutter.package_name }}.health import Health, database_health, no_answer, unreachable


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """An async session for one request, committed once the route has returned and before
    the response goes out (a commit that fails is then an error response, never a false
    success), or rolled back if the route raised, an HTTPException too."""
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


# scope="function": the commit above runs when the route returns, not after the response.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def check_health(app: FastAPI) -> Health:
    """Whether the app's database answers and is at head; not reachable if it has not
    answered within the app's ``health_timeout``."""
    engine: AsyncEngine = app.state.engine
    seconds: float = app.state.health_timeout
    try:
        # Past the limit the check is cancelled, a connect attempt included: the pool takes
        # its slot back, and the driver's half-open connection is garbage then.
        with anyio.move_on_after(seconds):
            async with engine.connect() as connection:
                return await connection.run_sync(database_health, app.state.script)
    except DBAPIError as error:
        return unreachable(error, engine.url)
    return no_answer(engine.url, seconds)


async def dispose(engine: AsyncEngine) -> None:
    """Close the engine's pooled connections."""
    await engine.dispose()
