"""A plugin brings its own panel to a staff page (contact.context.Panel): the operator page
renders dispatch's map and units, and loads their scripts, only where dispatch is installed."""

from __future__ import annotations

from pathlib import Path

from contact.config import DispatchSettings
from tests.support import make_settings, start_center


async def _operator_page(tmp_path: Path, dispatch: bool) -> str:
    settings = make_settings(tmp_path)
    settings = settings.model_copy(
        update={"dispatch": DispatchSettings.model_validate({"enabled": dispatch})}
    )
    center = await start_center(settings)
    try:
        assert center.container.installed("dispatch") is dispatch
        await center.add_operator("aigerim")
        browser = await center.browser("aigerim")
        try:
            assert browser.session is not None
            async with browser.session.get("/") as r:
                assert r.status == 200
                return await r.text()
        finally:
            await browser.close()
    finally:
        await center.client.close()


async def test_the_dispatch_panel_comes_with_its_plugin(tmp_path: Path) -> None:
    page = await _operator_page(tmp_path / "on", dispatch=True)
    assert 'id="dispatch"' in page and 'id="dispatch-map"' in page
    assert page.index("/static/operator.js") < page.index("/static/dispatch.js")
    assert "/static/dist/leaflet.min.js" in page

    page = await _operator_page(tmp_path / "off", dispatch=False)
    assert 'id="dispatch"' not in page and "/static/dispatch.js" not in page
    assert "/static/dist/leaflet.min.js" not in page
    assert 'id="queue"' in page  # the page itself is whole
