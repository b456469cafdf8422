"""Voice from every node: what a standby's bus and routes need of the node that drives Asterisk
reaches it over the Broadcast, on the topic `telephony` (no browser can subscribe to it: the
WebSocket hub delivers only the topics a socket subscribed to, and a browser may only add
`contact:<id>` ones).

Several `contact serve` share one Asterisk; one drives it (the lease holder), and an operator's
browser may talk to any node. Each node's bus is its own, so:

- **nudges**: a standby whose bus has `contact.accepted` of a contact that may have a call
  (voice, kiosk, video, a callback task, an app contact) or, with ring on offer,
  `contact.offered`, tells the driving node `{"type": "nudge", "event", "contact_id",
  "operator_id", "from"}`. The driving node re-reads the contact and does what its own bus
  handler would (VoiceService.nudge). Pub/sub is at-most-once: what a lost nudge should have
  rung, the driving node's periodic check rings (VoiceService.ring_missed).
- **call actions**: a route on a standby sends `{"type": "request", "id", "from", "to",
  "action", "contact_id", "actor", "args"}` to the node it knows as the holder, which runs the
  action (CallActions.run, as for its own routes) and answers `{"type": "reply", "id", "to",
  "result"}` or `{…, "error": {"id", "message", "status", "details"}}`. No answer within
  `timeout_s`: 503 `telephony_unreachable`; no holder at all (or no Redis to reach it): 503
  `telephony_standby`. A request is run by the node it was sent to, and only while that node
  drives: never by two nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from contact.domain import events as ev
from contact.domain.model import ChannelKind, new_id
from contact.errors import ContactError, Unavailable
from contact.ports import Broadcast
from contact.telephony.actions import Actor
from contact.telephony.voice import ATTACHABLE, VOICE_CHANNELS

log = logging.getLogger(__name__)

TOPIC = "telephony"
# accepted contacts the driving node may have to ring for (it decides from the contact's row)
RELAYED = frozenset({*VOICE_CHANNELS, *ATTACHABLE, ChannelKind.CALLBACK})

Run = Callable[[str, str, Actor, Mapping[str, Any]], Awaitable[dict[str, Any]]]
Nudge = Callable[[str, str, str], None]


class Relayed(ContactError):
    """The ContactError the driving node answered with, as it answered it."""

    def __init__(
        self, message: str, *, error_id: str, status: int, details: dict[str, Any] | None
    ) -> None:
        super().__init__(message, details=details, error_id=error_id)
        self.status = status


def _error_json(error: ContactError) -> dict[str, Any]:
    return {
        "id": error.error_id,
        "message": error.message,
        "status": error.status,
        "details": error.details,
    }


def _from_json(body: Any) -> ContactError:
    if not isinstance(body, dict):
        body = {}
    status = body.get("status")
    details = body.get("details")
    return Relayed(
        str(body.get("message", "the node driving the telephony failed")),
        error_id=str(body.get("id", "internal")),
        status=status if isinstance(status, int) and 400 <= status <= 599 else 500,
        details=details if isinstance(details, dict) else None,
    )


class Relay:
    def __init__(
        self,
        *,
        broadcast: Broadcast,
        node: str,
        leading: Callable[[], bool],
        holder: Callable[[], str | None],
        run: Run,
        nudge: Nudge,
        peers: bool,
        offers: bool,
        timeout_s: float,
    ) -> None:
        """`leading()`: this node drives now; `holder()`: the node that does, as far as this
        one knows; `run`: CallActions.run; `nudge`: VoiceService.nudge of the current term;
        `peers`: the Broadcast reaches other nodes (Redis); `offers`: ring on offer."""
        self._broadcast = broadcast
        self._node = node
        self._leading = leading
        self._holder = holder
        self._run = run
        self._nudge = nudge
        self._peers = peers
        self._offers = offers
        self._timeout_s = timeout_s
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.forwarded = 0  # requests this node sent (status)
        self.answered = 0  # requests this node ran for another

    # --- a standby's bus → the driving node ------------------------------------------------

    async def relay(self, event: ev.ContactAccepted | ev.ContactOffered) -> None:
        """Bus handler of contact.accepted and contact.offered: on a standby, nudge the
        driving node (fails soft: the driving node's periodic check rings what was missed)."""
        if self._leading() or not self._peers:
            return
        if isinstance(event, ev.ContactAccepted):
            if event.channel not in RELAYED:
                return
        elif not self._offers:
            return
        body = {
            "type": "nudge",
            "event": event.name,
            "contact_id": event.contact_id,
            "operator_id": event.operator_id,
            "from": self._node,
        }
        try:
            await self._broadcast.publish(TOPIC, body)
        except ContactError as error:
            log.warning(
                "%s not relayed to the driving node: %s",
                event.name,
                error.message,
                extra={"contact_id": event.contact_id},
            )

    # --- call actions ------------------------------------------------------------------------

    async def act(
        self, action: str, contact_id: str, actor: Actor, args: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Run a call action where the calls are: here if this node drives, else on the node
        that does (its answer, or its ContactError, as if it were this node's)."""
        if self._leading():
            return await self._run(action, contact_id, actor, args)
        holder = self._holder()
        if holder is None:
            raise Unavailable("no node drives the telephony now", error_id="telephony_standby")
        if not self._peers:
            raise Unavailable(
                f"{holder} drives the telephony; this node cannot reach it (no Redis)",
                error_id="telephony_standby",
            )
        request_id = new_id()
        request = {
            "type": "request",
            "id": request_id,
            "from": self._node,
            "to": holder,
            "action": action,
            "contact_id": contact_id,
            "actor": actor.as_json(),
            "args": dict(args),
        }
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = answer
        try:
            try:
                await self._broadcast.publish(TOPIC, request)
            except ContactError as error:  # this node's Redis is down
                raise Unavailable(
                    f"{holder}, which drives the telephony, cannot be reached: {error.message}",
                    error_id="telephony_unreachable",
                ) from error
            self.forwarded += 1
            async with asyncio.timeout(self._timeout_s):
                return await answer
        except TimeoutError:
            raise Unavailable(
                f"{holder}, which drives the telephony, did not answer in time",
                error_id="telephony_unreachable",
            ) from None
        finally:
            self._waiting.pop(request_id, None)

    # --- what this node hears ------------------------------------------------------------------

    async def heard(self, body: Mapping[str, Any]) -> None:
        """Broadcast listener for TOPIC (it runs in the subscriber's task: nothing slow here)."""
        kind = body.get("type")
        if kind == "reply":
            self._replied(body)
        elif kind == "nudge" and self._leading() and body.get("from") != self._node:
            fields = (body.get("event"), body.get("contact_id"), body.get("operator_id"))
            event, contact_id, operator_id = (f if isinstance(f, str) else "" for f in fields)
            if event and contact_id and operator_id:
                self._nudge(event, contact_id, operator_id)
        elif kind == "request" and body.get("to") == self._node:
            self._spawn(self._answer(dict(body)))

    def _replied(self, body: Mapping[str, Any]) -> None:
        if body.get("to") != self._node:
            return
        answer = self._waiting.get(str(body.get("id")))
        if answer is None or answer.done():
            return  # given up already (timed out)
        if "error" in body:
            answer.set_exception(_from_json(body["error"]))
        else:
            result = body.get("result")
            answer.set_result(result if isinstance(result, dict) else {})

    async def _answer(self, request: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"type": "reply", "id": request.get("id"), "to": request["from"]}
        try:
            if not self._leading():
                raise Unavailable(
                    "this node no longer drives the telephony", error_id="telephony_standby"
                )
            try:
                actor = Actor.from_json(request.get("actor"))
                action, contact_id = request["action"], request["contact_id"]
                args = request.get("args") or {}
                if not isinstance(action, str) or not isinstance(contact_id, str):
                    raise TypeError("action and contact_id are strings")
            except (ValueError, KeyError, TypeError) as error:
                raise ContactError(
                    f"a malformed call action request: {error}", error_id="bad_relay"
                ) from error
            reply["result"] = await self._run(action, contact_id, actor, args)
            self.answered += 1
        except ContactError as error:
            reply["error"] = _error_json(error)
        except Exception:
            log.exception("a relayed call action failed")
            reply["error"] = {
                "id": "internal",
                "message": "internal error; it has been logged",
                "status": 500,
            }
        try:
            await self._broadcast.publish(TOPIC, reply)
        except ContactError as error:
            log.warning("the answer to a relayed call action was lost: %s", error.message)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        # a fresh context: not the subscriber's (nor a bus handler's pending events)
        task = asyncio.create_task(coro, name="telephony-relay", context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait until every request heard so far is answered (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for answer in self._waiting.values():
            if not answer.done():
                answer.set_exception(
                    Unavailable("this node is stopping", error_id="telephony_unreachable")
                )
