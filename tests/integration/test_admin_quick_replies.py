"""The admins' page of the quick replies over HTTP on a whole center: only admins (the others
get the 403 page in their own language, and change nothing), CSRF on every POST, a round trip
(add, edit, move, delete) that the operators' `GET /api/v1/quick-replies` sees at once, one
audit entry per change as the API writes them, and refused forms that come back as typed with
each problem said beside its field."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from contact.domain.model import Role
from contact.i18n import message
from contact.persistence.migrate import upgrade
from contact.persistence.quick_replies import MAX_REPLIES, QuickReply
from tests.support import Browser, Center, make_settings, start_center

PAGE = "/admin/quick-replies"
HTML = {"Accept": "text/html"}


async def page_of(b: Browser, path: str = PAGE) -> str:
    async with b.session.get(path, headers=HTML) as r:
        assert r.status == 200, await r.text()
        return await r.text()


async def send(
    b: Browser, path: str, fields: dict[str, str], *, csrf: str | None = None, **headers: str
) -> tuple[int, str, str]:
    """A form posted as the page posts it: (status, Location, body)."""
    data = {"csrf_token": b.csrf if csrf is None else csrf, **fields}
    async with b.session.post(
        path, data=data, headers={**HTML, **headers}, allow_redirects=False
    ) as r:
        return r.status, r.headers.get("Location", ""), await r.text()


async def operators_replies(b: Browser) -> list[dict[str, Any]]:
    return list((await b.get("/api/v1/quick-replies"))["replies"])


def field_value(page: str, name: str) -> str:
    found = re.search(rf'<input id="qr-{name}" name="{name}"[^>]* value="([^"]*)"', page)
    assert found, page
    return html.unescape(found.group(1))


def textarea(page: str) -> str:
    found = re.search(r'<textarea id="qr-text"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, page
    return html.unescape(found.group(1))


async def test_only_admins_and_the_others_get_403_in_their_language(center: Center) -> None:
    await center.add_operator("aigerim")
    await center.add_operator("boss", role=Role.SUPERVISOR)
    await center.add_operator("admin", role=Role.ADMIN)
    op, boss, admin = [await center.browser(n) for n in ("aigerim", "boss", "admin")]
    try:
        await op.post("/api/v1/me/preferences", {"ui_language": "kk"})
        await boss.post("/api/v1/me/preferences", {"ui_language": "en"})
        for b, lang, title in ((op, "kk", "Рұқсат жоқ"), (boss, "en", "No access")):
            async with b.session.get(PAGE, headers=HTML) as r:
                body = await r.text()
                assert r.status == 403
            assert f'<html lang="{lang}">' in body and f"<h1>{title}</h1>" in body
            # a change asked for by hand, with the right token: refused the same, nothing done
            status, _, body = await send(b, PAGE, {"language": "ru", "label": "x", "text": "y"})
            assert status == 403 and title in body
            status, _, _ = await send(b, f"{PAGE}/qr-ru-1/delete", {})
            assert status == 403
            status, _, _ = await send(b, f"{PAGE}/qr-ru-2/move", {"direction": "up"})
            assert status == 403
        assert len(await operators_replies(op)) == 8  # the first set, untouched
        assert not [e for e in await center.container.db.audit.entries() if "quick" in e.action]
        # the navigation: the admins' page is linked for admins only
        async with op.session.get("/") as r:
            assert PAGE not in await r.text()
        async with boss.session.get("/supervisor") as r:
            assert PAGE not in await r.text()
        async with admin.session.get("/supervisor") as r:
            assert f'<a href="{PAGE}">' in await r.text()
        assert f'href="{PAGE}" aria-current="page"' in await page_of(admin)
    finally:
        for b in (op, boss, admin):
            await b.close()


async def test_every_post_needs_the_sessions_csrf_token(center: Center) -> None:
    await center.add_operator("admin", role=Role.ADMIN)
    admin = await center.browser("admin")
    try:
        new = {"language": "ru", "label": "Ждите", "text": "Ожидайте, пожалуйста."}
        for csrf, headers in (
            ("", {}),
            ("not-the-token", {}),
            (admin.csrf, {"Origin": "https://evil.example"}),  # another site's form
        ):
            status, _, body = await send(admin, PAGE, new, csrf=csrf, **headers)
            assert status == 403 and "Нет доступа" in body
            for path, fields in (
                (f"{PAGE}/qr-ru-1", new),
                (f"{PAGE}/qr-ru-1/delete", {}),
                (f"{PAGE}/qr-ru-2/move", {"direction": "up"}),
            ):
                status, _, _ = await send(admin, path, fields, csrf=csrf, **headers)
                assert status == 403, path
        # a script gets the JSON error
        async with admin.session.post(PAGE, data=new) as r:
            assert r.status == 403 and (await r.json())["error"]["id"] == "csrf"
        replies = await operators_replies(admin)
        assert len(replies) == 8 and {r["id"] for r in replies} >= {"qr-ru-1", "qr-ru-2"}
        assert not [e for e in await center.container.db.audit.entries() if "quick" in e.action]
        # the page's own forms carry the token
        page = await page_of(admin)
        tokens = re.findall(r'name="csrf_token" value="([^"]+)"', page)
        assert len(tokens) >= 1 + 8 + 1  # the editor, each row's moves, logout
        assert set(tokens) == {admin.csrf}
    finally:
        await admin.close()


@pytest.fixture
async def on_each_backend(tmp_path: Path, database_url: str) -> AsyncIterator[Center]:
    """A whole center on SQLite, then on PostgreSQL."""
    await upgrade(database_url)
    running = await start_center(make_settings(tmp_path, database_url=database_url))
    yield running
    await running.client.close()


async def test_add_edit_move_delete_reach_the_operators_and_are_audited(
    on_each_backend: Center,
) -> None:
    center = on_each_backend
    await center.add_operator("admin", role=Role.ADMIN)
    await center.add_operator("nurlan")
    admin, op = await center.browser("admin"), await center.browser("nurlan")
    try:
        page = await page_of(admin)
        assert "Быстрые ответы операторов" in page and "4 из 200" in page
        assert 'id="reply-qr-kk-1"' in page and 'id="reply-qr-ru-4"' in page

        # add: the text as typed in a textarea (CRLF), the order left empty: after the last
        status, location, _ = await send(
            admin,
            PAGE,
            {"language": "kk", "label": " Күтіңіз ", "text": "Біраз күтіңіз.\r\nРақмет.",
             "position": ""},
        )  # fmt: skip
        assert status == 303 and location.startswith(f"{PAGE}?done=created#reply-qr-")
        made = location.rsplit("#reply-", 1)[1]
        mine = {"id": made, "language": "kk", "label": "Күтіңіз", "text": "Біраз күтіңіз.\nРақмет."}
        assert {**mine, "position": 5} in await operators_replies(op)
        page = await page_of(admin, location.split("#")[0])
        assert 'role="status">Ответ добавлен.' in page and f'id="reply-{made}"' in page

        # edit: the form comes filled, the change reaches the operators
        page = await page_of(admin, f"{PAGE}?edit={made}")
        assert f'action="{PAGE}/{made}"' in page and field_value(page, "label") == "Күтіңіз"
        assert textarea(page) == "Біраз күтіңіз.\nРақмет."
        status, location, _ = await send(
            admin,
            f"{PAGE}/{made}",
            {"language": "kk", "label": "Күтіңіз", "text": "Біраз күте тұрыңыз.", "position": "0"},
        )  # fmt: skip
        assert (status, location) == (303, f"{PAGE}?done=updated#reply-{made}")
        kk = [r for r in await operators_replies(op) if r["language"] == "kk"]
        assert kk[0] == {**mine, "text": "Біраз күте тұрыңыз.", "position": 0}

        # move: «Адрес» one up, before «Наряд выехал»: the two swap places
        status, location, _ = await send(admin, f"{PAGE}/qr-ru-2/move", {"direction": "up"})
        assert (status, location) == (303, f"{PAGE}?done=moved#reply-qr-ru-2")
        ru = [r["id"] for r in await operators_replies(op) if r["language"] == "ru"]
        assert ru == ["qr-ru-2", "qr-ru-1", "qr-ru-3", "qr-ru-4"]
        status, _, _ = await send(admin, f"{PAGE}/qr-ru-4/move", {"direction": "down"})
        assert status == 303  # the last one stays last
        ru_after = [r["id"] for r in await operators_replies(op) if r["language"] == "ru"]
        assert ru_after == ru

        # delete, after a confirmation that names it
        page = await page_of(admin, f"{PAGE}?delete={made}")
        assert "Удалить ответ «Күтіңіз»?" in page and f'action="{PAGE}/{made}/delete"' in page
        status, location, _ = await send(admin, f"{PAGE}/{made}/delete", {})
        assert (status, location) == (303, f"{PAGE}?done=deleted")
        assert made not in {r["id"] for r in await operators_replies(op)}

        # the audit: what the API writes, who did it, before and after
        trail = list(reversed(await center.container.db.audit.entries(made)))
        assert [e.action for e in trail] == [
            "quick_reply.create",
            "quick_reply.update",
            "quick_reply.delete",
        ]
        assert {e.actor for e in trail} == {admin.operator_id}
        assert trail[1].details["before"]["text"] == "Біраз күтіңіз.\nРақмет."
        assert trail[1].details["after"]["position"] == 0
        assert trail[2].details["before"]["text"] == "Біраз күте тұрыңыз."
        moves = [
            (e.subject, e.details["before"]["position"], e.details["after"]["position"])
            for e in await center.container.db.audit.entries()
            if e.action == "quick_reply.update" and e.subject != made
        ]
        assert sorted(moves) == [("qr-ru-1", 1, 2), ("qr-ru-2", 2, 1)]
    finally:
        await admin.close()
        await op.close()


async def test_a_refused_form_comes_back_as_typed_with_each_problem_beside_its_field(
    center: Center,
) -> None:
    await center.add_operator("admin", role=Role.ADMIN)
    admin = await center.browser("admin")
    try:
        long_label = "Очень длинное название кнопки для ответа!"  # 41
        typed = {"language": "ru", "label": long_label, "text": "   ", "position": "abc"}
        status, _, page = await send(admin, PAGE, typed)
        assert status == 422
        assert "Ответ не сохранён. Исправьте отмеченные поля:" in page
        assert "Слишком длинно: 41 символ." in page and "До 40 символов." in page
        assert "Введите текст ответа." in page
        assert message("ui.qr_err_position", "ru", max=10_000) in page  # «10 000»
        assert field_value(page, "label") == long_label and field_value(page, "position") == "abc"
        assert 'aria-describedby="qr-label-hint qr-label-error" aria-invalid="true"' in page
        assert re.search(r'<input id="qr-label"[^>]*autofocus', page)  # the first to correct

        # in the admin's own language
        await admin.post("/api/v1/me/preferences", {"ui_language": "kk"})
        text = "ж" * 1001
        status, _, page = await send(admin, PAGE, {"language": "kk", "label": "Ұзын", "text": text})
        assert status == 422 and "Тым ұзын: 1\xa0001 таңба." in page
        assert textarea(page) == text and field_value(page, "label") == "Ұзын"
        await admin.post("/api/v1/me/preferences", {"ui_language": "en"})
        status, _, page = await send(admin, PAGE, {"language": "en", "label": "A", "text": "B"})
        assert status == 422 and "Choose Kazakh or Russian." in page

        # a full list: the limit said, what was typed kept
        store = center.container.db.quick_replies
        for n in range(MAX_REPLIES - 4):
            reply = QuickReply(f"qr-fill-{n}", "kk", f"№{n}", "Мәтін", 10 + n)
            await store.put(reply, by="test", at=datetime.now(UTC))
        new = {"language": "kk", "label": "Тағы бір", "text": "Тағы бір жауап.", "position": "3"}
        status, _, page = await send(admin, PAGE, new)
        assert status == 422 and "This list already holds 200 replies, the limit." in page
        assert field_value(page, "label") == "Тағы бір" and textarea(page) == "Тағы бір жауап."
        assert await store.count("kk") == MAX_REPLIES
        # moving a Russian reply into the full Kazakh list: the same limit (the API's too)
        moved = {"language": "kk", "label": "Адрес", "text": "Уточните адрес.", "position": "2"}
        status, _, page = await send(admin, f"{PAGE}/qr-ru-2", moved)
        assert status == 422 and "This list already holds 200 replies, the limit." in page
        assert f'action="{PAGE}/qr-ru-2"' in page and textarea(page) == "Уточните адрес."
        async with admin.session.put(
            "/api/v1/admin/quick-replies/qr-ru-2",
            json={**moved, "position": 2},
            headers={"X-CSRF-Token": admin.csrf},
        ) as r:
            assert r.status == 422 and (await r.json())["error"]["id"] == "too_many_replies"
        assert (await store.get("qr-ru-2")).language == "ru"

        # an edit of a reply deleted meanwhile: the form again, to add it, nothing lost
        status, _, page = await send(
            admin, f"{PAGE}/qr-gone", {"language": "ru", "label": "Мой", "text": "Мой текст"}
        )
        assert status == 409 and "This reply was deleted meanwhile." in page
        assert f'action="{PAGE}"' in page and field_value(page, "label") == "Мой"
        assert not [e for e in await center.container.db.audit.entries() if "quick" in e.action]
    finally:
        await admin.close()
