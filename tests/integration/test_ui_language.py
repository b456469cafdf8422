"""Each person's pages in her language (Kazakh, Russian or English), kept with her account, and
texts about her in her grammatical form; the centre's clock comes from the configuration."""

from __future__ import annotations

import re

from tests.support import Center


async def test_the_pages_language_and_form_are_kept_with_the_account(center: Center) -> None:
    await center.add_operator("dana")
    dana = await center.browser("dana")
    try:
        me = await dana.get("/api/v1/me")
        assert (me["ui_language"], me["gender"]) == (None, "other")
        async with dana.session.get("/") as r:  # nothing chosen: Russian, neutral
            page = await r.text()
        assert '<html lang="ru">' in page and "(оператор)" in page
        assert 'data-gender="other"' in page and 'data-zone="Asia/Almaty"' in page

        saved = await dana.post("/api/v1/me/preferences", {"ui_language": "en", "gender": "female"})
        assert saved == {"ui_language": "en", "gender": "female"}
        me = await dana.get("/api/v1/me")
        assert (me["ui_language"], me["gender"]) == ("en", "female")
        async with dana.session.get("/") as r:
            page = await r.text()
        assert '<html lang="en">' in page and "(operator)" in page
        assert 'data-gender="female"' in page
        assert re.search(r'<a href="\?lang=en"[^>]*aria-current="true"', page)

        # a link to another language shows it now; the saved choice stays (a form changes it)
        async with dana.session.get("/?lang=kk") as r:
            assert '<html lang="kk">' in await r.text()
        assert (await dana.get("/api/v1/me"))["ui_language"] == "en"

        # a key left out is kept; null goes back to the browser's choice
        await dana.post("/api/v1/me/preferences", {"ui_language": None})
        me = await dana.get("/api/v1/me")
        assert (me["ui_language"], me["gender"]) == (None, "female")
    finally:
        await dana.close()

    # the same account in a fresh browser: her choice follows her
    dana = await center.browser("dana")
    try:
        await dana.post("/api/v1/me/preferences", {"ui_language": "kk"})
    finally:
        await dana.close()
    dana = await center.browser("dana")
    try:
        async with dana.session.get("/") as r:
            assert '<html lang="kk">' in await r.text()
        # this browser now remembers it: an error page met next speaks it too
        async with dana.session.get("/no-such-page", headers={"Accept": "text/html"}) as r:
            assert r.status == 404 and "Бет табылмады" in await r.text()
    finally:
        await dana.close()


async def test_wrong_preferences_are_refused(center: Center) -> None:
    await center.add_operator("erlan")
    erlan = await center.browser("erlan")
    try:
        for body in ({"ui_language": "de"}, {"gender": "x"}, {"ui_language": 5}):
            answer = await erlan.post("/api/v1/me/preferences", body, status=422)
            assert answer["error"]["id"] == "invalid_preferences"
        async with erlan.session.post(  # no CSRF token: refused
            "/api/v1/me/preferences", json={"ui_language": "en"}
        ) as r:
            assert r.status == 403
        assert (await erlan.get("/api/v1/me"))["ui_language"] is None
    finally:
        await erlan.close()


async def test_the_supervisor_sees_each_operators_form(center: Center) -> None:
    from contact.domain.model import Role

    await center.add_operator("aigerim")
    await center.add_operator("boss", role=Role.SUPERVISOR)
    aigerim = await center.browser("aigerim")
    boss = await center.browser("boss")
    try:
        await aigerim.post("/api/v1/me/preferences", {"gender": "female"})
        await aigerim.post("/api/v1/me/presence", {"presence": "away"})
        room = await boss.get("/api/v1/supervisor/overview")
        (row,) = [o for o in room["operators"] if o["operator_id"] == aigerim.operator_id]
        assert (row["presence"], row["gender"]) == ("away", "female")
        board = await boss.get("/api/v1/supervisor/wallboard")
        (row,) = [o for o in board["operators"] if o["operator_id"] == aigerim.operator_id]
        assert row["gender"] == "female"
    finally:
        await aigerim.close()
        await boss.close()
