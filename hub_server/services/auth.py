"""Users, bearer tokens and namespace ownership.

Tokens are ``hub_`` + 256 random bits; only their sha256 is stored. A namespace is claimed by
the first user who writes into it; from then on only its owners and administrators may.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hub_server.db import insert_ignore
from hub_server.errors import Conflict, Forbidden, NotFound, Unauthenticated
from hub_server.models import ApiToken, Namespace, NamespaceOwner, User

TOKEN_PREFIX = "hub_"  # noqa: S105 - a prefix, not a secret
ADMIN_USER = "admin"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, detached from any session."""

    id: int
    name: str
    is_admin: bool


_USER_BY_TOKEN = (
    select(User)
    .join(ApiToken, col(ApiToken.user_id) == User.id)
    .where(col(ApiToken.token_hash) == sa.bindparam("token_hash"))
)
"""Built once: it runs on every authenticated request."""


class AuthService:
    """Authentication and the ownership rules of namespaces."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def authenticate(self, token: str | None) -> Principal:
        """The user a bearer token belongs to.

        Raises:
            Unauthenticated: no token, or one the hub does not know.
        """
        if not token:
            raise Unauthenticated("this action needs a token: send 'Authorization: Bearer <token>'")
        row = self.session.exec(_USER_BY_TOKEN, params={"token_hash": hash_token(token)}).first()
        if row is None or row.id is None:
            raise Unauthenticated("the token is not valid (revoked, mistyped, or another hub's)")
        return Principal(id=row.id, name=row.name, is_admin=row.is_admin)

    def namespaces_of(self, principal: Principal) -> list[str]:
        return list(
            self.session.exec(
                select(NamespaceOwner.namespace)
                .where(NamespaceOwner.user_id == principal.id)
                .order_by(NamespaceOwner.namespace)
            )
        )

    def check_can_write(self, principal: Principal, namespace: str) -> bool:
        """Whether ``principal`` may write into ``namespace``.

        Returns:
            True if the namespace exists (and the caller owns it or is an admin); False if it is
            unclaimed (the caller's write would claim it).

        Raises:
            Forbidden: the namespace belongs to someone else.
        """
        exists = self.session.get(Namespace, namespace) is not None
        if not exists:
            return False
        if principal.is_admin:
            return True
        owned = self.session.get(NamespaceOwner, (namespace, principal.id))
        if owned is None:
            raise Forbidden(
                f"namespace {namespace!r} belongs to someone else; "
                f"{principal.name!r} may not write into it",
                namespace=namespace,
            )
        return True

    def claim(self, principal: Principal, namespace: str) -> None:
        """Make ``principal`` the owner of the unclaimed ``namespace`` (in the caller's
        transaction, so a failed publish claims nothing).

        Two writers may claim it at once (two first publishes into it): the second waits for
        the first to commit and then owns it too if it is the same user, or meets Forbidden.

        Raises:
            Forbidden: someone else claimed it first.
        """
        claimed = self.session.execute(
            insert_ignore(self.session, Namespace)
            .values(name=namespace)
            .returning(col(Namespace.name))
        ).first()
        if claimed is None:
            self.check_can_write(principal, namespace)  # claimed meanwhile: theirs or ours
            return
        self.session.add(NamespaceOwner(namespace=namespace, user_id=principal.id))
        self.session.flush()

    def create_user(self, actor: Principal, name: str, *, is_admin: bool) -> tuple[User, str]:
        """Create a user, its namespace of the same name, and a first token (admins only).

        Raises:
            Forbidden: ``actor`` is not an administrator.
            Conflict: ``user_exists``, or ``namespace_exists`` if the name is claimed already.
        """
        if not actor.is_admin:
            raise Forbidden("only administrators create users")
        if self.session.exec(select(User).where(User.name == name)).first() is not None:
            raise Conflict(f"user {name!r} exists already", code="user_exists", user=name)
        if self.session.get(Namespace, name) is not None:
            raise Conflict(
                f"namespace {name!r} is claimed already; choose another user name",
                code="namespace_exists",
                namespace=name,
            )
        user = User(name=name, is_admin=is_admin)
        self.session.add(user)
        self.session.flush()
        assert user.id is not None
        principal = Principal(id=user.id, name=user.name, is_admin=is_admin)
        self.claim(principal, name)
        token = self._add_token(user.id, "default")
        self.session.commit()
        return user, token

    def create_token(self, principal: Principal, name: str) -> str:
        token = self._add_token(principal.id, name)
        self.session.commit()
        return token

    def _add_token(self, user_id: int, name: str, token: str | None = None) -> str:
        token = token or new_token()
        self.session.add(ApiToken(user_id=user_id, name=name, token_hash=hash_token(token)))
        return token

    def get_user(self, name: str) -> User:
        user = self.session.exec(select(User).where(User.name == name)).first()
        if user is None:
            raise NotFound(f"no user {name!r}", code="user_not_found", user=name)
        return user

    def bootstrap_admin(self, admin_token: str | None) -> str | None:
        """Make sure an administrator exists.

        Args:
            admin_token: ``HUB_ADMIN_TOKEN``: when given, this token is the administrator's.

        Returns:
            A newly created administrator token (to be shown once), or None when none was made.
        """
        admin = self.session.exec(select(User).where(User.name == ADMIN_USER)).first()
        if admin is None:
            admin = User(name=ADMIN_USER, is_admin=True)
            self.session.add(admin)
            self.session.flush()
        assert admin.id is not None
        created: str | None = None
        if admin_token:
            known = self.session.exec(
                select(ApiToken).where(ApiToken.token_hash == hash_token(admin_token))
            ).first()
            if known is None:
                self._add_token(admin.id, "HUB_ADMIN_TOKEN", admin_token)
        else:
            has_token = self.session.exec(
                select(sa.func.count()).select_from(ApiToken).where(ApiToken.user_id == admin.id)
            ).one()
            if not has_token:
                created = self._add_token(admin.id, "bootstrap")
        self.session.commit()
        return created
