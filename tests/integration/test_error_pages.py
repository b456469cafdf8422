"""Errors met by a person in a browser are pages in their language; the API keeps its JSON
errors (the public contract); a wrong password keeps the user name on the login page."""

from __future__ import annotations

import re

import aiohttp

from contact.domain.model import Role
from tests.support import PASSWORD, Center

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def _get(center: Center, path: str, **headers: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s,
        s.get(center.url + path, headers=headers, allow_redirects=False) as r,
    ):
        return r.status, r.content_type, await r.text()


async def test_a_missing_page_is_a_page_in_the_browsers_language(center: Center) -> None:
    status, kind, body = await _get(center, "/no-such-page", **HTML)
    assert (status, kind) == (404, "text/html")
    assert "Страница не найдена" in body and '<html lang="ru">' in body
    assert '"error"' not in body

    status, kind, body = await _get(
        center, "/no-such-page", **HTML, **{"Accept-Language": "de-DE,kk-KZ;q=0.9,ru;q=0.8"}
    )
    assert (status, kind) == (404, "text/html")
    assert "Бет табылмады" in body and '<html lang="kk">' in body

    # English is a language of the staff's pages too
    status, _, body = await _get(
        center, "/no-such-page", **HTML, **{"Accept-Language": "en-US,ru;q=0.8"}
    )
    assert status == 404 and "Page not found" in body and '<html lang="en">' in body

    # the language chosen on the pages wins over the browser's
    status, _, body = await _get(
        center, "/no-such-page", **HTML, **{"Accept-Language": "kk", "Cookie": "contact_lang=ru"}
    )
    assert status == 404 and "Страница не найдена" in body


async def test_api_and_scripts_keep_json_errors(center: Center) -> None:
    for path, headers in (
        ("/api/v1/no-such-route", HTML),  # the API is JSON even for a browser
        ("/no-such-page", {"Accept": "application/json"}),  # a script on a page route
        ("/no-such-page", {}),
    ):
        status, kind, body = await _get(center, path, **headers)
        assert (status, kind) == (404, "application/json"), path
        assert '"id": "not_found"' in body.replace('":"', '": "')


async def test_a_forbidden_page_is_a_page(center: Center) -> None:
    await center.add_operator("aigerim")
    browser = await center.browser("aigerim")
    try:
        async with browser.session.get("/supervisor", headers=HTML) as r:
            assert (r.status, r.content_type) == (403, "text/html")
            body = await r.text()
        assert "Нет доступа" in body
        async with browser.session.get("/supervisor", headers=HTML, params={"lang": "kk"}) as r:
            assert "Рұқсат жоқ" in await r.text()
        async with browser.session.get("/api/v1/supervisor/overview", headers=HTML) as r:
            assert (r.status, r.content_type) == (403, "application/json")
    finally:
        await browser.close()


async def test_a_wrong_password_keeps_the_user_name_and_never_the_password(
    center: Center,
) -> None:
    await center.add_operator("aigerim", Role.OPERATOR)
    async with aiohttp.ClientSession(
        base_url=center.url, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as s:
        async with s.get("/login") as r:
            page = await r.text()
        assert re.search(r'<input name="username"[^>]*value=""[^>]*autofocus', page)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        wrong = "not-the-password-" + PASSWORD[:4]
        async with s.post(
            "/login",
            data={"username": "aigerim", "password": wrong, "csrf_token": token.group(1)},
            headers=HTML,
            allow_redirects=False,
        ) as r:
            assert (r.status, r.content_type) == (401, "text/html")
            page = await r.text()
    assert "Неверный логин или пароль." in page
    assert re.search(r'<input name="username"[^>]*value="aigerim"', page)
    assert re.search(r'<input name="password"[^>]*autofocus', page)
    assert wrong not in page


async def test_the_kept_user_name_is_escaped(center: Center) -> None:
    async with aiohttp.ClientSession(
        base_url=center.url, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as s:
        async with s.get("/login") as r:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await r.text())
        assert token
        hostile = '"><script>alert(1)</script>'
        async with s.post(
            "/login",
            data={"username": hostile, "password": "x" * 12, "csrf_token": token.group(1)},
            allow_redirects=False,
        ) as r:
            assert r.status == 401
            page = await r.text()
    assert "<script>alert(1)" not in page
    assert 'value="&#34;&gt;&lt;script&gt;' in page
