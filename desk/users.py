"""Desk users (agents, supervisors, content staff): stored in the desk database.

Passwords are kept as bcrypt hashes of their SHA-256 digest, so a long passphrase is not
silently cut at bcrypt's 72 bytes. Hashing is slow on purpose; callers on the event loop
run it in an executor.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass, field

import bcrypt
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from desk.tables import make_engine

ROLES = ("agent", "supervisor", "content", "manager")
BCRYPT_ROUNDS = 12

metadata = sa.MetaData()

users = sa.Table(
    "desk_users", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(100), nullable=False),
    sa.Column("roles", sa.String(200), nullable=False),
    sa.Column("skills", sa.String(500), nullable=False, default=""),
    sa.Column("created_at", sa.Float, nullable=False),
)


@dataclass(frozen=True)
class User:
    """A signed-in person; ``roles`` decide what they may see, ``skills`` what they are routed."""

    id: str
    name: str
    roles: tuple[str, ...]
    skills: tuple[str, ...]
    #: Changes with the password: a session keeps the one it signed in with, so a new
    #: password ends every session opened with the old one (:mod:`desk.auth`).
    credential: str = field(default="", compare=False, repr=False)

    def has_any(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)


class UserInvalid(ValueError):
    """A user cannot be created as asked (bad role, name taken, empty password)."""


def _digest(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def hash_password(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    return bcrypt.hashpw(_digest(password), bcrypt.gensalt(rounds)).decode("ascii")


def check_password(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(_digest(password), hashed.encode("ascii"))
    except ValueError:
        return False


def _split(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.split(",") if v)


def _user(row: sa.engine.Row) -> User:
    credential = hashlib.sha256(row.password_hash.encode("ascii")).hexdigest()[:16]
    return User(row.id, row.name, _split(row.roles), _split(row.skills), credential)


class UserStore:
    """Users in any SQLAlchemy async database (the desk's own)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        #: A fixed hash checked when the name is unknown, so timing does not reveal names.
        self._decoy = hash_password("decoy", 4)

    @classmethod
    async def open(cls, url: str) -> UserStore:
        engine = make_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        return cls(engine)

    async def close(self) -> None:
        await self._engine.dispose()

    async def add(self, name: str, password_hash: str, roles: tuple[str, ...],
                  skills: tuple[str, ...] = ()) -> User:
        """Stores a new user; the password is already hashed (see :func:`hash_password`)."""
        bad = [r for r in roles if r not in ROLES]
        if bad or not roles:
            raise UserInvalid(f"roles must be among {ROLES}, got {roles}")
        if not name.strip():
            raise UserInvalid("the name is empty")
        user = User(uuid.uuid4().hex, name.strip(), tuple(roles), tuple(skills))
        try:
            async with self._engine.begin() as connection:
                await connection.execute(users.insert().values(
                    id=user.id, name=user.name, password_hash=password_hash,
                    roles=",".join(user.roles), skills=",".join(user.skills),
                    created_at=time.time()))
        except sa.exc.IntegrityError:
            raise UserInvalid(f"a user named {user.name!r} exists already") from None
        return user

    async def get(self, user_id: str) -> User | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(
                sa.select(users).where(users.c.id == user_id))).first()
        return _user(row) if row is not None else None

    async def password_hash(self, name: str) -> tuple[User | None, str]:
        """(user or None, the hash to check); unknown names get the decoy hash."""
        async with self._engine.connect() as connection:
            row = (await connection.execute(
                sa.select(users).where(users.c.name == name.strip()))).first()
        if row is None:
            return None, self._decoy
        return _user(row), row.password_hash

    async def remove(self, name: str) -> bool:
        """Deletes the user named ``name``; their sessions end at their next request
        (:mod:`desk.auth`). False when there is no such user."""
        async with self._engine.begin() as connection:
            deleted = await connection.execute(users.delete().where(users.c.name == name))
        return bool(deleted.rowcount)

    async def set_password(self, name: str, password_hash: str) -> bool:
        """Replaces the password of the user named ``name``, ending their sessions at their
        next request (:mod:`desk.auth`); False when there is no such user."""
        async with self._engine.begin() as connection:
            changed = await connection.execute(users.update().where(users.c.name == name)
                                               .values(password_hash=password_hash))
        return bool(changed.rowcount)

    async def count(self) -> int:
        async with self._engine.connect() as connection:
            return int((await connection.execute(
                sa.select(sa.func.count()).select_from(users))).scalar_one())

    async def all(self) -> list[User]:
        async with self._engine.connect() as connection:
            rows = (await connection.execute(sa.select(users).order_by(users.c.name))).all()
        return [_user(r) for r in rows]


async def create_user(database_url: str, name: str, password: str, roles: tuple[str, ...]
                      | list[str], skills: tuple[str, ...] | list[str] = (),
                      rounds: int = BCRYPT_ROUNDS) -> User:
    """Creates one user in the desk database at ``database_url`` (CLI and tests)."""
    if not password:
        raise UserInvalid("the password is empty")
    store = await UserStore.open(database_url)
    try:
        return await store.add(name, hash_password(password, rounds), tuple(roles),
                               tuple(skills))
    finally:
        await store.close()
