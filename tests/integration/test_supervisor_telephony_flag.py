"""The supervisor's page is told by the server whether this center drives calls, so it never
polls GET /api/v1/calls where that route does not exist (telephony off: the demo without
Asterisk used to get a 404 from it)."""

from __future__ import annotations

from contact.domain.model import Role
from tests.support import Center


async def test_without_telephony_the_page_knows_there_are_no_calls(center: Center) -> None:
    await center.add_operator("erzhan", Role.SUPERVISOR)
    browser = await center.browser("erzhan")
    try:
        async with browser.session.get("/supervisor") as r:
            page = await r.text()
        assert 'id="sv-live"' in page and 'data-telephony="off"' in page
        async with browser.session.get("/api/v1/calls") as r:
            assert r.status == 404  # the route the page would have polled does not exist
    finally:
        await browser.close()
