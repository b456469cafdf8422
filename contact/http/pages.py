"""Server-rendered pages: login, the operator's queue, a contact, the supervisor's room.
Data arrives over the REST API and the WebSocket; the pages hold no citizen data themselves."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from contact.context import Container, Panel
from contact.domain.model import Gender, Operator, Role, UiLanguage
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
from contact.http.client_address import Network, client_address
from contact.http.edge import read_form
from contact.http.keys import CONTAINER, HUB, PROXIES, SESSIONS, THROTTLE
from contact.http.login_throttle import device_cookie, device_key
from contact.http.map_tiles import page_context
from contact.http.ws import SESSIONS_TOPIC
from contact.i18n import CATALOGUE, PAGE_PREFIXES, text

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
LANG_COOKIE = "contact_lang"
DEVICE_COOKIE = "contact_device"  # a browser this operator logged in from (login_throttle.py)
DEVICE_COOKIE_MAX_AGE_S = 180 * 86400


def ui_language(request: web.Request, saved: UiLanguage | None = None) -> UiLanguage:
    """The pages' language: asked for now (`?lang`), else the user's saved choice, else this
    browser's (the cookie), else Russian."""
    for wanted in (request.query.get("lang"), saved, request.cookies.get(LANG_COOKIE)):
        if wanted:
            try:
                return UiLanguage(wanted)
            except ValueError:
                continue
    return UiLanguage.RU


def _context(request: web.Request, lang: UiLanguage | None = None, **extra: Any) -> dict[str, Any]:
    operator: Operator | None = extra.get("operator")
    lang = lang or ui_language(request, operator.ui_language if operator else None)
    ui_texts = {k: text(k, lang) for k in CATALOGUE if k.startswith(PAGE_PREFIXES)}
    return {
        "lang": lang.value,
        "t": lambda key: text(key, lang),
        "i18n_json": json.dumps(ui_texts, ensure_ascii=False),
        "zone": request.app[CONTAINER].settings.http.time_zone,
        "gender": operator.gender.value if operator else Gender.OTHER.value,
        **extra,
    }


def _render(template: str, request: web.Request, status: int = 200, **extra: Any) -> web.Response:
    response = aiohttp_jinja2.render_template(
        template, request, _context(request, **extra), status=status
    )
    operator: Operator | None = extra.get("operator")
    saved = operator.ui_language if operator else None
    # the browser remembers the language asked for, or her account's (error pages read it)
    wanted = ui_language(request, saved) if "lang" in request.query else saved
    if wanted and wanted.value != request.cookies.get(LANG_COOKIE):
        response.set_cookie(
            LANG_COOKIE,
            wanted.value,
            samesite="Strict",
            httponly=True,
            max_age=365 * 86400,
        )
    response.headers["Cache-Control"] = "no-store"
    return response


def render_page(
    template: str, request: web.Request, lang: UiLanguage, status: int, **extra: Any
) -> web.Response:
    """A page in a language chosen by the caller (error pages: also the browser's own)."""
    response = aiohttp_jinja2.render_template(
        template, request, _context(request, lang, **extra), status=status
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
    form = await read_form(request)  # a malformed body is a 400, its text as every edge keeps it
    username = str(form.get("username", ""))[:100].strip()
    password = str(form.get("password", ""))[:200]
    check_login_csrf(request, str(form.get("csrf_token", "")))
    proxies: tuple[Network, ...] = request.app[PROXIES]
    peer = client_address(request, proxies)
    token = login_csrf_token(request)
    throttle = request.app[THROTTLE]
    device, creds = None, None
    if (cookie := request.cookies.get(DEVICE_COOKIE)) is not None:  # a known browser?
        creds = await c.db.operators.by_username(username)
        if creds is not None:
            device = device_key(cookie, username, creds.password_hash)
    try:
        slow_s = throttle.check(username, peer, device)
    except ContactError as exc:
        await c.db.audit.append(
            "anonymous", "operator.login_throttled", None, {"username": username, "peer": peer}
        )
        page = _render(
            "login.html",
            request,
            csrf_token=token,
            username=username,
            error=text("ui.login_throttled", ui_language(request)),
            status=429,
        )
        page.headers["Retry-After"] = str(exc.details.get("retry_after_s", 1))
        return page
    if slow_s:  # this user name is being guessed from many addresses: slow, never refuse
        await asyncio.sleep(slow_s)
    if creds is None:
        creds = await c.db.operators.by_username(username)
    ok = await verify_password(creds.password_hash if creds else DUMMY_HASH, password)
    if creds is None or not ok or not creds.operator.active:
        throttle.failed(username, peer, device)
        await c.db.audit.append(
            "anonymous", "operator.login_failed", None, {"username": username, "peer": peer}
        )
        return _render(
            "login.html",
            request,
            status=401,
            csrf_token=token,
            username=username,  # kept for the next try; the password never comes back
            error=text("ui.login_failed", ui_language(request)),
        )
    throttle.succeeded(username, peer)
    operator = creds.operator
    target = "/supervisor" if operator.role.at_least(Role.SUPERVISOR) else "/"
    response = see_other(target)
    await request.app[SESSIONS].create(response, operator.id, operator.role)
    response.set_cookie(
        DEVICE_COOKIE,
        device_cookie(username, creds.password_hash),
        httponly=True,
        samesite="Strict",
        secure=c.settings.http.secure_cookies,
        path="/login",
        max_age=DEVICE_COOKIE_MAX_AGE_S,
    )
    await c.db.audit.append(operator.id, "operator.login", operator.id, {"peer": peer})
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    principal = need_principal(request)
    form = await read_form(request)
    check_csrf(request, principal, str(form.get("csrf_token", "")))
    c = request.app[CONTAINER]
    response = see_other("/login")
    await request.app[SESSIONS].end(response, principal)
    # this session's sockets close now, here and on every other node
    request.app[HUB].end_session(principal.token_hash)
    with contextlib.suppress(ContactError):  # Redis down: the other nodes' check closes them
        await c.broadcast.publish(SESSIONS_TOPIC, {"ended": principal.token_hash})
    await c.routing.log_out(principal.operator_id)
    await c.db.audit.append(principal.operator_id, "operator.logout", principal.operator_id)
    return response


def panels_of(c: Container, page: str) -> dict[str, Any]:
    """The panels the installed plugins bring to a page, by slot, and their scripts in order."""
    slots: dict[str, list[Panel]] = defaultdict(list)
    scripts: list[str] = []
    for plugin in c.plugins:
        for panel in plugin.panels:
            if panel.page == page:
                slots[panel.slot].append(panel)
                scripts.extend(s for s in panel.scripts if s not in scripts)
    return {"panels": slots, "panel_scripts": scripts}


async def operator_page(request: web.Request) -> web.Response:
    principal = need_principal(request)
    c = request.app[CONTAINER]
    operator = await c.db.operators.get(principal.operator_id)
    return _render(
        "operator.html",
        request,
        operator=operator,
        csrf_token=principal.csrf_token,
        # call controls (hold, transfer, end) only where telephony runs
        telephony=c.settings.asterisk.enabled,
        transfer_targets=c.settings.asterisk.targets,
        offer_timeout_s=c.settings.routing.offer_timeout_s,
        wrap_up_s=c.settings.routing.wrap_up_s,
        **page_context(c.settings.http),
        **panels_of(c, "operator"),
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
    c = request.app[CONTAINER]
    operator = await c.db.operators.get(principal.operator_id)
    return _render(
        "supervisor.html",
        request,
        operator=operator,
        csrf_token=principal.csrf_token,
        # the page asks for live calls (GET /api/v1/calls) only where that route exists
        telephony=c.installed("telephony"),
        # and offers transcript search only where transcription runs
        transcripts=c.installed("transcribe"),
    )


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
