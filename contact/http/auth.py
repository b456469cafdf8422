"""Operator login, sessions and CSRF.

- Passwords: argon2id (argon2-cffi), verified off the event loop.
- Sessions: a random 256-bit token in an HttpOnly, SameSite=Strict cookie; only its sha256 is
  stored. 30 minutes idle, 12 hours absolute (OWASP ASVS L2), both checked on every request.
  Activity is written every `touch_every_s` (a quarter of the idle timeout). An open operator
  WebSocket whose page answers pings is activity too (`SessionManager.alive`), so a ready
  operator on a quiet page is not logged out under her open offer; logout or expiry closes
  her sockets (ws.py, SESSION_ENDED).
- CSRF: a per-session synchronizer token, required in `X-CSRF-Token` (or the form field
  `csrf_token`) on every state-changing request made with the session cookie; the login form
  uses a double-submit cookie because no session exists yet. A cross-site Origin is refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from contact.config import AuthSettings
from contact.domain.model import Role
from contact.errors import Forbidden, Unauthorized
from contact.ports import Session, SessionRepository

SESSION_COOKIE = "contact_session"
LOGIN_CSRF_COOKIE = "contact_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def verify_password(password_hash: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.get_running_loop().run_in_executor(None, check)


# a real hash to verify against for unknown users, so timing does not reveal who exists
DUMMY_HASH = hash_password(secrets.token_hex(16))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    operator_id: str
    role: Role
    csrf_token: str
    token_hash: str

    def require(self, role: Role) -> None:
        if not self.role.at_least(role):
            raise Forbidden(f"this needs the {role.value} role", error_id="role_required")


# who made the request, set by the session middleware (re-exported by http/keys)
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal")


class SessionManager:
    def __init__(
        self, sessions: SessionRepository, settings: AuthSettings, secure_cookies: bool
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._secure = secure_cookies

    async def create(self, response: web.StreamResponse, operator_id: str, role: Role) -> None:
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        await self._sessions.create(
            Session(
                token_hash=token_hash(token),
                operator_id=operator_id,
                role=role,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
            )
        )
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="Strict",
            secure=self._secure,
            path="/",
            max_age=self._settings.session_absolute_s,
        )

    async def principal(self, request: web.Request) -> Principal | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token or len(token) > 200:
            return None
        session = await self.alive(token_hash(token))
        if session is None:
            return None
        return Principal(session.operator_id, session.role, session.csrf_token, session.token_hash)

    async def alive(self, digest: str) -> Session | None:
        """The session if it has not expired, its activity recorded (at most every
        touch_every_s); an expired one is deleted."""
        session = await self._sessions.get(digest)
        if session is None:
            return None
        now = datetime.now(UTC)
        idle = (now - session.last_seen_at).total_seconds()
        age = (now - session.created_at).total_seconds()
        if idle > self._settings.session_idle_s or age > self._settings.session_absolute_s:
            await self._sessions.delete(digest)
            return None
        if idle >= self._settings.touch_every_s:
            await self._sessions.touch(digest, now)
        return session

    async def end(self, response: web.StreamResponse, principal: Principal) -> None:
        await self._sessions.delete(principal.token_hash)
        response.del_cookie(SESSION_COOKIE, path="/")


def check_csrf(request: web.Request, principal: Principal, form_token: str | None = None) -> None:
    if request.method not in UNSAFE_METHODS:
        return
    check_origin(request)
    sent = request.headers.get(CSRF_HEADER) or form_token or ""
    if not hmac.compare_digest(sent.encode(), principal.csrf_token.encode()):
        raise Forbidden("missing or wrong CSRF token", error_id="csrf")


def check_origin(request: web.Request) -> None:
    """Browsers send Origin on cross-site POSTs and WebSocket handshakes: it must be us."""
    origin = request.headers.get("Origin")
    if origin is None:  # not a browser, or a same-origin GET
        return
    host = request.headers.get("Host", "")
    if origin.split("://", 1)[-1] != host:
        raise Forbidden("cross-site request refused", error_id="csrf_origin")


def login_csrf_token(request: web.Request) -> str:
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)


def check_login_csrf(request: web.Request, form_token: str) -> None:
    check_origin(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), form_token.encode()):
        raise Forbidden("the login form expired; reload the page", error_id="csrf")


def need_principal(request: web.Request) -> Principal:
    principal: Principal | None = request.get(PRINCIPAL)
    if principal is None:
        raise Unauthorized("log in first", error_id="login_required")
    return principal
