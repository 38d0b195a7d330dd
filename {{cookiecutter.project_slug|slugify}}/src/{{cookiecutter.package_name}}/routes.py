"""Routes over the example models: list and create users, get one, give a user a role."""

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from {{ cookiecutter.package_name }}.dependencies import SessionDep
from {{ cookiecutter.package_name }}.models import Role, User
from {{ cookiecutter.package_name }}.schemas import RoleGrant, UserCreate, UserRead

router = APIRouter(prefix="/users", tags=["users"])


def find_user(session: Session, user_id: int) -> User:
    """The user with its roles, read afresh (defaults the database set included); else 404."""
    user = session.scalar(
        select(User)
        .options(selectinload(User.roles))
        .where(User.id == user_id)
        .execution_options(populate_existing=True)
    )
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user with id {user_id}")
    return user


@router.get("")
def list_users(session: SessionDep) -> list[UserRead]:
    users = session.scalars(select(User).options(selectinload(User.roles)).order_by(User.id))
    return [UserRead.model_validate(user) for user in users]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_user(new: UserCreate, session: SessionDep) -> UserRead:
    user = User(email=new.email, display_name=new.display_name, roles=[])
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"a user with the email {new.email} exists already"
        ) from None
    return UserRead.model_validate(find_user(session, user.id))


@router.get("/{user_id}")
def get_user(user_id: int, session: SessionDep) -> UserRead:
    return UserRead.model_validate(find_user(session, user_id))


@router.post("/{user_id}/roles")
def give_role(user_id: int, grant: RoleGrant, session: SessionDep) -> UserRead:
    user = find_user(session, user_id)
    if any(role.name == grant.name for role in user.roles):
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"user {user_id} holds the role {grant.name} already"
        )
    role = session.scalar(select(Role).where(Role.name == grant.name))
    user.roles.append(role or Role(name=grant.name))
    session.flush()
    return UserRead.model_validate(find_user(session, user_id))
