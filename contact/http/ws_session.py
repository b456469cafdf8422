"""An operator's WebSocket lives as long as her session, and keeps it alive.

While the socket is open (aiohttp pings it every `ws_heartbeat_s` and closes it when the page
stops answering), the session's activity is recorded every `touch_every_s`: a ready operator
on a quiet page is still logged in when an offer comes and she accepts it. The same check
closes the socket with SESSION_ENDED as soon as the session is gone (logout on another node
whose broadcast was missed, absolute expiry, an operator removed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from contact.errors import ContactError
from contact.http.auth import SessionManager
from contact.http.ws import SESSION_ENDED, Hub, Subscriber

log = logging.getLogger(__name__)


async def keep_session(
    hub: Hub, subscriber: Subscriber, sessions: SessionManager, every_s: float
) -> None:
    assert subscriber.session is not None
    while not subscriber.closed:
        await asyncio.sleep(every_s)
        try:
            alive = await sessions.alive(subscriber.session)
        except ContactError as exc:  # the database is down: neither end nor extend it
            log.warning("session of a websocket not checked: %s", exc.message)
            continue
        if alive is None:
            log.info("websocket closed: its session ended", extra={"operator_id": subscriber.owner})
            hub.close(subscriber, SESSION_ENDED, b"session ended")
            return


def start_keeping(
    hub: Hub, subscriber: Subscriber, sessions: SessionManager, every_s: float
) -> asyncio.Task[None]:
    return asyncio.create_task(
        keep_session(hub, subscriber, sessions, every_s), name=f"ws-session-{subscriber.owner}"
    )


async def stop_keeping(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
