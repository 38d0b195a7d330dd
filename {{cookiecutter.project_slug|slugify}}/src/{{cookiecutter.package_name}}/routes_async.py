"""Routes over the example models, on async sessions: list and create users, get one, give a
user a role."""

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from {{ cookiecutter.package_name }}.dependencies import SessionDep
from {{ cookiecutter.package_name }}.models import Role, User
from {{ cookiecutter.package_name }}.schemas import RoleGrant, UserCreate, UserRead

# Each route awaits its queries on the event loop; sessions never load lazily here.
router = APIRouter(prefix="/users", tags=["users"])


async def find_user(session: AsyncSession, user_id: int) -> User:
    """The user with its roles loaded (an async session cannot load them lazily), read
    afresh, defaults set by the database included; else 404."""
    query = select(User).options(selectinload(User.roles)).where(User.id == user_id)
    user = await session.scalar(query.execution_options(populate_existing=True))
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user with id {user_id}")
    return user


@router.get("")
async def list_users(session: SessionDep) -> list[UserRead]:
    query = select(User).options(selectinload(User.roles)).order_by(User.id)
    return [UserRead.model_validate(user) for user in await session.scalars(query)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_user(new: UserCreate, session: SessionDep) -> UserRead:
    user = User(email=new.email, display_name=new.display_name, roles=[])
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"a user with the email {new.email} exists already"
        ) from None
    return UserRead.model_validate(await find_user(session, user.id))


@router.get("/{user_id}")
async def get_user(user_id: int, session: SessionDep) -> UserRead:
    return UserRead.model_validate(await find_user(session, user_id))


@router.post("/{user_id}/roles")
async def give_role(user_id: int, grant: RoleGrant, session: SessionDep) -> UserRead:
    user = await find_user(session, user_id)
    if any(role.name == grant.name for role in user.roles):
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"user {user_id} holds the role {grant.name} already"
        )
    role = await session.scalar(select(Role).where(Role.name == grant.name))
    user.roles.append(role or Role(name=grant.name))
    await session.flush()
    return UserRead.model_validate(await find_user(session, user_id))
