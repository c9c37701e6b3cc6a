"""Who may use the desk: sign-in, sessions, roles, CSRF, and the service token.

People (agents, supervisors, content staff) sign in with a name and password and carry an
encrypted, HttpOnly, SameSite=Lax session cookie. Processes (the action server, Rasa's
event broker) present the service bearer token instead. Every ``/api/`` path needs one or
the other; every state-changing request made with a session cookie needs the session's
CSRF token (header ``X-CSRF-Token`` or form field ``csrf_token``), checked here once for
all routes so a new handler cannot forget it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import Session, get_session, new_session
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from bot.settings import Settings
from desk.sign_in_limits import SIGN_IN_GUARD, SignInRefused
from desk.users import ROLES, User, UserStore, check_password, hash_password

__all__ = ["ROLES", "USERS", "User", "check_csrf", "csrf_token", "current_user", "require",
           "setup_auth"]

log = logging.getLogger(__name__)

USERS = web.AppKey("users", UserStore)
SERVICE_TOKEN = web.AppKey("service_token", str)
_USER = "mot.user"
_SERVICE = "mot.service"
_SESSION = "mot.session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
COOKIE_NAME = "mot_desk"
SESSION_SECONDS = 12 * 3600
TEMPLATES = Path(__file__).parent / "templates"
DEMO_USERS = (("agent", ("agent",), ("delivery", "billing", "account", "general")),
              ("supervisor", ("supervisor",), ()), ("content", ("content",), ()),
              ("manager", ("manager",), ()))

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def utc_time(at: float) -> str:
    """An epoch time as pages show it: "2026-11-28 20:15 UTC"."""
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def setup_auth(app: web.Application, settings: Settings) -> None:
    """Adds sessions, the user store, templates and the /login and /logout routes."""
    key = hashlib.sha256(settings.session_key.encode("utf-8")).digest()
    setup_session(app, EncryptedCookieStorage(
        key, cookie_name=COOKIE_NAME, httponly=True, samesite="Lax",
        secure=settings.cookie_secure, max_age=SESSION_SECONDS))
    app.middlewares.append(_authenticate)
    app[SERVICE_TOKEN] = settings.desk_token
    if aiohttp_jinja2.APP_KEY not in app:
        env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                                   autoescape=True, context_processors=[_template_context])
        env.filters["utc"] = utc_time

    async def user_store(app: web.Application) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        app[USERS] = await UserStore.open(settings.desk_database_url)
        if settings.demo_users:
            await _create_demo_users(app[USERS])
        if not await app[USERS].count():
            log.warning("the desk has no users yet; create the first one with: "
                        "python -m desk users add NAME --role supervisor")
        yield
        await app[USERS].close()

    app.cleanup_ctx.append(user_store)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)


async def current_user(request: web.Request) -> User | None:
    """The signed-in person, or None (also None for the service token)."""
    if _USER not in request:
        await _load_user(request)
    user: User | None = request[_USER]
    return user


def is_service(request: web.Request) -> bool:
    """True when the request carries the service bearer token (a process, not a person)."""
    return bool(request.get(_SERVICE))


def require(*roles: str, service: bool = False) -> Callable[[Handler], Handler]:
    """Handler decorator: a signed-in user with one of ``roles`` (any role if none given).

    Supervisors count as agents. ``service=True`` also admits the service token. Without a
    session, pages redirect to /login?next=... and /api/ paths answer 401 JSON; a wrong
    role, or the service token where a person is needed, answers 403.
    """
    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            if service and is_service(request):
                return await handler(request)
            user = await current_user(request)
            if user is None and is_service(request):  # a process, on a person's path
                raise _error(request, web.HTTPForbidden, "the service token cannot do this; "
                             "sign in as a person whose role allows it")
            if user is None:
                raise _unauthenticated(request)
            effective = set(user.roles) | ({"agent"} if "supervisor" in user.roles else set())
            if roles and not effective.intersection(roles):
                raise _error(request, web.HTTPForbidden, "your role does not allow this")
            return await handler(request)
        return guarded
    return decorate


def csrf_token(request: web.Request) -> str:
    """This session's CSRF token, created on first use (the session must be loaded)."""
    session: Session | None = request.get(_SESSION)
    if session is None:
        raise RuntimeError("csrf_token() needs setup_auth()'s middleware on this app")
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def check_csrf(request: web.Request) -> None:
    """Raises HTTPForbidden unless the request carries this session's CSRF token."""
    if is_service(request):
        return
    session = await get_session(request)
    expected = session.get("csrf")
    given = request.headers.get("X-CSRF-Token")
    if given is None and request.content_type in ("application/x-www-form-urlencoded",
                                                  "multipart/form-data"):
        value = (await request.post()).get("csrf_token")
        given = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not given or not hmac.compare_digest(
            given.encode(), expected.encode()):
        raise _error(request, web.HTTPForbidden, "missing or wrong CSRF token; reload the page")


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Loads the caller once; refuses anonymous /api/ calls and cross-site state changes."""
    await _load_user(request)
    if request.path.startswith("/api/") and request[_USER] is None and not is_service(request):
        raise _unauthenticated(request)
    if request.method not in SAFE_METHODS and request[_USER] is not None:
        await check_csrf(request)
    return await handler(request)


async def _load_user(request: web.Request) -> None:
    request[_USER] = None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        if not hmac.compare_digest(token.encode(), request.app[SERVICE_TOKEN].encode()):
            raise _error(request, web.HTTPUnauthorized, "wrong bearer token")
        request[_SERVICE] = True
        return
    session = await get_session(request)
    request[_SESSION] = session
    user_id = session.get("uid")
    if isinstance(user_id, str):
        user = await request.app[USERS].get(user_id)
        if user is None or session.get("credential") != user.credential:
            session.invalidate()  # the user was removed, or their password changed
            return
        request[_USER] = user


def _unauthenticated(request: web.Request) -> web.HTTPException:
    if request.path.startswith("/api/") or request.path.endswith("/ws"):
        return _error(request, web.HTTPUnauthorized, "sign in or send the service token")
    return web.HTTPFound(f"/login?next={quote(request.path_qs, safe='')}")


def _error(request: web.Request, kind: type[web.HTTPException], text: str) -> web.HTTPException:
    if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
        return kind(text=f'{{"error": "{text}"}}', content_type="application/json")
    return kind(text=text)


async def _template_context(request: web.Request) -> dict[str, Any]:
    user = request.get(_USER)
    token = csrf_token(request) if request.get(_SESSION) is not None else ""
    return {"current_user": user, "csrf_token": token}


def _safe_next(target: str | None) -> str:
    """Only local paths: an open redirect would let a phishing link pass through /login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def login_page(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template(
        "login.html", request, {"next": _safe_next(request.query.get("next")), "error": None})


async def login(request: web.Request) -> web.StreamResponse:
    """Checks name and password (off the event loop); rotates the session on success.

    Repeated failures are slowed, then refused with 429 (see :mod:`desk.sign_in_limits`).
    Clients that ask for JSON (``Accept: application/json``) get JSON errors.
    """
    await check_csrf(request)
    form = await request.post()
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "")))
    guard = request.app[SIGN_IN_GUARD]
    try:
        attempt = await guard.begin(name, request.remote or "")
    except SignInRefused as refused:
        log.warning("sign-in refused for %r from %s: too many failures", name[:100],
                    request.remote)
        return _login_error(request, target, str(refused), 429,
                            {"Retry-After": str(refused.retry_after_seconds)},
                            retry_after_seconds=refused.retry_after_seconds)
    if attempt.delay_seconds:
        await asyncio.sleep(attempt.delay_seconds)
    user, hashed = await request.app[USERS].password_hash(name)
    ok = await asyncio.get_running_loop().run_in_executor(None, check_password, password,
                                                          hashed)
    if user is None or not ok:
        log.info("failed sign-in for %r", name[:100])
        await guard.failed(attempt)
        return _login_error(request, target, "Wrong name or password.", 401)
    await guard.succeeded(attempt)
    session = await new_session(request)
    session["uid"] = user.id
    session["credential"] = user.credential
    session["csrf"] = secrets.token_urlsafe(32)
    log.info("%s signed in", user.name)
    raise web.HTTPFound(target)


def _login_error(request: web.Request, target: str, text: str, status: int,
                 headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    """The sign-in page with ``text`` shown, or ``{"error": text, ...}`` for JSON clients."""
    if "json" in request.headers.get("Accept", ""):
        return web.json_response({"error": text, **extra}, status=status, headers=headers)
    response = aiohttp_jinja2.render_template(
        "login.html", request, {"next": target, "error": text}, status=status)
    response.headers.update(headers or {})
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    await check_csrf(request)
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPFound("/login")


async def _create_demo_users(store: UserStore) -> None:
    """MOT_DEMO_USERS=1 only: agent/supervisor/content/manager, password 'demo' (local trials)."""
    if await store.count():
        return
    hashed = hash_password("demo", 4)
    for name, roles, skills in DEMO_USERS:
        await store.add(name, hashed, roles, skills)
    log.warning("created demo users agent, supervisor, content and manager (password 'demo')")
