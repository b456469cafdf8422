"""Server-rendered pages: login, the operator's queue, a contact, the supervisor's room.
Data arrives over the REST API and the WebSocket; the pages hold no citizen data themselves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from contact.domain.model import Language, Role
from contact.errors import ContactError
from contact.http.auth import (
    DUMMY_HASH,
    LOGIN_CSRF_COOKIE,
    check_csrf,
    check_login_csrf,
    login_csrf_token,
    need_principal,
    verify_password,
)
from contact.http.keys import CONTAINER, SESSIONS, THROTTLE
from contact.http.map_tiles import page_context
from contact.i18n import CATALOGUE, text

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
LANG_COOKIE = "contact_lang"


def ui_language(request: web.Request) -> Language:
    wanted = request.query.get("lang") or request.cookies.get(LANG_COOKIE) or "ru"
    try:
        return Language(wanted)
    except ValueError:
        return Language.RU


def _context(request: web.Request, **extra: Any) -> dict[str, Any]:
    lang = ui_language(request)
    ui_texts = {k: text(k, lang) for k in CATALOGUE if k.startswith(("ui.", "priority."))}
    return {
        "lang": lang.value,
        "t": lambda key: text(key, lang),
        "i18n_json": json.dumps(ui_texts, ensure_ascii=False),
        **extra,
    }


def _render(template: str, request: web.Request, status: int = 200, **extra: Any) -> web.Response:
    response = aiohttp_jinja2.render_template(
        template, request, _context(request, **extra), status=status
    )
    if "lang" in request.query:
        response.set_cookie(
            LANG_COOKIE,
            ui_language(request).value,
            samesite="Strict",
            httponly=True,
            max_age=365 * 86400,
        )
    response.headers["Cache-Control"] = "no-store"
    return response


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def login_page(request: web.Request) -> web.Response:
    token = login_csrf_token(request)
    response = _render("login.html", request, csrf_token=token, error=None)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", max_age=3600)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    c = request.app[CONTAINER]
    form = await request.post()
    username = str(form.get("username", ""))[:100].strip()
    password = str(form.get("password", ""))[:200]
    check_login_csrf(request, str(form.get("csrf_token", "")))
    peer = request.remote or "?"
    token = login_csrf_token(request)
    try:
        request.app[THROTTLE].check(username, peer)
    except ContactError:
        await c.db.audit.append(
            "anonymous", "operator.login_throttled", None, {"username": username, "peer": peer}
        )
        return _render(
            "login.html",
            request,
            csrf_token=token,
            error=text("ui.login_throttled", ui_language(request)),
            status=429,
        )
    creds = await c.db.operators.by_username(username)
    ok = await verify_password(creds.password_hash if creds else DUMMY_HASH, password)
    if creds is None or not ok or not creds.operator.active:
        await c.db.audit.append(
            "anonymous", "operator.login_failed", None, {"username": username, "peer": peer}
        )
        return _render(
            "login.html",
            request,
            status=401,
            csrf_token=token,
            error=text("ui.login_failed", ui_language(request)),
        )
    operator = creds.operator
    target = "/supervisor" if operator.role.at_least(Role.SUPERVISOR) else "/"
    response = see_other(target)
    await request.app[SESSIONS].create(response, operator.id, operator.role)
    await c.db.audit.append(operator.id, "operator.login", operator.id, {"peer": peer})
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    principal = need_principal(request)
    form = await request.post()
    check_csrf(request, principal, str(form.get("csrf_token", "")))
    c = request.app[CONTAINER]
    response = see_other("/login")
    await request.app[SESSIONS].end(response, principal)
    await c.routing.log_out(principal.operator_id)
    await c.db.audit.append(principal.operator_id, "operator.logout", principal.operator_id)
    return response


async def operator_page(request: web.Request) -> web.Response:
    principal = need_principal(request)
    c = request.app[CONTAINER]
    operator = await c.db.operators.get(principal.operator_id)
    return _render(
        "operator.html",
        request,
        operator=operator,
        csrf_token=principal.csrf_token,
        **page_context(c.settings.http),
    )


async def contact_page(request: web.Request) -> web.Response:
    principal = need_principal(request)
    operator = await request.app[CONTAINER].db.operators.get(principal.operator_id)
    return _render(
        "contact.html",
        request,
        operator=operator,
        csrf_token=principal.csrf_token,
        contact_id=request.match_info["contact_id"],
    )


async def supervisor_page(request: web.Request) -> web.Response:
    principal = need_principal(request)
    principal.require(Role.SUPERVISOR)
    operator = await request.app[CONTAINER].db.operators.get(principal.operator_id)
    return _render("supervisor.html", request, operator=operator, csrf_token=principal.csrf_token)


def setup(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(WEB_DIR / "templates"),
        autoescape=True,
    )
    r = app.router
    r.add_get("/login", login_page)
    r.add_post("/login", login)
    r.add_post("/logout", logout)
    r.add_get("/", operator_page)
    r.add_get("/contacts/{contact_id}", contact_page)
    r.add_get("/supervisor", supervisor_page)
    r.add_static("/static/", WEB_DIR / "static", append_version=True)
