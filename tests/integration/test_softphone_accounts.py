"""GET /api/v1/me/softphone hands an operator their own SIP account: the endpoint's identity
from asterisk-config/pjsip.conf and the password `contact asterisk up` generated, which the
composition root reaches through telephony's runner (the HTTP kernel imports no telephony)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from contact.config import AsteriskSettings
from contact.domain.model import Capability, Language, Operator, Role, Skills, new_id
from contact.http.auth import hash_password
from contact.telephony.runner import AsteriskRunner
from tests.support import PASSWORD, Center, make_settings, start_center


@pytest_asyncio.fixture
async def center(tmp_path: Path) -> AsyncIterator[Center]:
    settings = make_settings(tmp_path).model_copy(
        update={"asterisk": AsteriskSettings(run_dir=tmp_path / "run")}
    )
    running = await start_center(settings)
    try:
        yield running
    finally:
        await running.client.close()


async def _operator(center: Center, username: str, endpoint: str | None) -> None:
    operator = Operator(
        id=new_id(),
        username=username,
        display_name=username.title(),
        role=Role.OPERATOR,
        skills=Skills(frozenset(Language), frozenset(Capability)),
        endpoint=endpoint,
    )
    await center.container.db.operators.add(operator, hash_password(PASSWORD))


async def test_an_operator_gets_their_own_account_once_asterisk_made_its_password(
    center: Center,
) -> None:
    await _operator(center, "aigerim", "PJSIP/op1")
    browser = await center.browser("aigerim")
    try:
        before = await browser.get("/api/v1/me/softphone")
        assert before == {"available": False, "reason": "not_provisioned"}
        run_dir = center.container.settings.asterisk.effective_run_dir
        assert not (run_dir / "secrets.json").exists()  # asking made no secret

        made = AsteriskRunner(center.container.settings.asterisk).sip_password("op1-auth")
        after = await browser.get("/api/v1/me/softphone")
        assert after["available"] is True
        assert (after["username"], after["password"]) == ("op1", made)
        assert after["endpoint"] == "PJSIP/op1"
    finally:
        await browser.close()


async def test_an_operator_without_a_webrtc_endpoint_gets_the_reason(center: Center) -> None:
    await _operator(center, "dana", None)
    await _operator(center, "erlan", "PJSIP/desk1")  # a desk phone, not a browser's
    for username, reason in (("dana", "no_endpoint"), ("erlan", "not_webrtc")):
        browser = await center.browser(username)
        try:
            assert await browser.get("/api/v1/me/softphone") == {
                "available": False,
                "reason": reason,
            }
        finally:
            await browser.close()
