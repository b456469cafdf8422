"""The AMI link (panoramisk), made safe for a contact center.

- Connects in the background and keeps reconnecting every `ami_reconnect_s` (panoramisk's
  own loop, 1 s by default): `contact serve` starts whether Asterisk is up or not.
- Every (re)login ends in a FullyBooted event, which the voice service answers with a resync
  (CoreShowChannels): panoramisk reconnects but never resyncs by itself.
- An action is never replayed after a reconnect (panoramisk would re-send an Originate queued
  before the link died, dialling an operator twice): in-flight actions fail instead, and every
  action has a timeout. Failures are translated once, here, into ContactErrors.
- Events are handed over synchronously and in order; the consumer schedules its own work.
- The reader is total (contact.telephony.ami_reader): no content closes the link. A defective
  frame is logged (reason and key, never a value), counted (`on_reject`, the metric
  contact_ami_rejected_total) and, if it is an event, dropped; a defective response still
  completes its action with the headers that were sound. A Shutdown event does not close the
  link (panoramisk would): Asterisk closes it itself when it really stops.
- Dialplan events (UserEvent) must carry this process's token (contact.telephony.seal), set at
  every login before the FullyBooted event is handed over (so before the resync).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from panoramisk import Manager  # type: ignore[import-untyped]
from panoramisk.ami_protocol import AMIProtocol  # type: ignore[import-untyped]
from panoramisk.message import Message  # type: ignore[import-untyped]

from contact.config import AsteriskSettings
from contact.errors import ContactError, NotFound, Unavailable
from contact.telephony.ami_reader import Defect, Frame, FrameReader
from contact.telephony.seal import FIELD as TOKEN_FIELD
from contact.telephony.seal import EventSeal

log = logging.getLogger(__name__)

EventSink = Callable[[dict[str, str]], None]
RejectSink = Callable[[Defect, str, str], None]  # defect, event name, key
# at most one log line per defect in this many seconds (an attacker can send many); the
# metric counts every one
LOG_EVERY_S = 10.0
# events contact never looks at: dropped before any work is done (the manager user's
# eventfilter already keeps the noisiest ones out)
_IGNORED = frozenset(
    {
        "Newexten",
        "VarSet",
        "RTCPSent",
        "RTCPReceived",
        "TestEvent",
        "NewConnectedLine",
        "NewCallerid",
        "NewAccountCode",
        "HangupRequest",
        "MusicOnHoldStart",
        "MusicOnHoldStop",
        "DeviceStateChange",
        "ChannelTalkingStart",
        "ChannelTalkingStop",
        "SuccessfulAuth",
        "ChallengeSent",
    }
)


class AmiError(ContactError):
    """Asterisk refused an action (its Response: Error)."""

    error_id = "telephony_action_failed"
    status = 502


class _NeverReplay:
    """panoramisk's `forgetable_actions`: every action is forgettable, none is replayed."""

    def __contains__(self, _item: object) -> bool:
        return True


class TotalProtocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol with a total reader: whatever arrives, the link stays up."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.reader = FrameReader()

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.reader.feed(data)
        except Exception:  # a bug of ours: start afresh rather than lose the link
            log.exception("AMI reader failed; its buffer is dropped")
            self.reader = FrameReader()
            self._reject(Defect.FAILED, "", "")
            return
        if getattr(self, "version", None) is None and self.reader.banner is not None:
            self.version = self.reader.banner
        for frame in frames:
            try:
                self._frame(frame)
            except Exception:
                log.exception("AMI frame handling failed on %s", _name(frame))
                self._reject(Defect.FAILED, _name(frame), "")

    def _frame(self, frame: Frame) -> None:
        name = _name(frame)
        for defect, key in frame.defects:
            self._reject(defect, name, key)
        kind = frame.kind
        if kind is None or (kind == "event" and frame.defects):
            return  # an event with a defect may be one a caller forged: never acted on
        self.handle_message(Message(frame.headers, frame.content))

    def handle_message(self, message: Any) -> None:
        """panoramisk's, except that an event never closes the link (not even Shutdown)."""
        response = self.responses.get(message.id)
        if response is None and message.action_id:
            response = self.responses.get(message.action_id)
        if response is not None:
            if response.add_message(message):
                self.responses.pop(response.id)
                if response.action_id:
                    self.responses.pop(response.action_id, None)
        elif "event" in message:
            self.factory.dispatch(message)

    def _reject(self, defect: Defect, name: str, key: str) -> None:
        sink = getattr(self.factory, "on_reject", None)
        if sink is not None:
            sink(defect, name, key)


def _name(frame: Frame) -> str:
    """The event's or response's name, if it is a plain word (for logs)."""
    name = frame.get("Event") or frame.get("Response") or ""
    return name if name.isascii() and name.isalnum() and len(name) <= 64 else "?"


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager that stops reconnecting once closed on purpose."""

    stopped = False
    on_reject: RejectSink | None = None

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if self.stopped:
            return None
        return super().connect(*args, **kwargs)


class AmiClient:
    def __init__(
        self,
        settings: AsteriskSettings,
        secret: str,
        on_event: EventSink,
        *,
        on_link: Callable[[bool], None] | None = None,
        on_reject: Callable[[Defect], None] | None = None,
        seal: EventSeal | None = None,
    ) -> None:
        self._settings = settings
        self._secret = secret
        self._on_event = on_event
        self._on_link = on_link
        self._on_reject = on_reject
        self.seal = seal or EventSeal()
        self._logged_at: dict[Defect, float] = {}
        self._unlogged: dict[Defect, int] = {}
        self._manager: _Manager | None = None
        self._logged_in = False
        self._inflight: set[asyncio.Future[Any]] = set()
        self._up = asyncio.Event()
        self.connects = 0
        self.last_login_at: float | None = None
        self.last_lost_at: float | None = None

    @property
    def connected(self) -> bool:
        return self._logged_in and self._manager is not None

    # --- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        s = self._settings
        self._manager = _Manager(
            loop=asyncio.get_running_loop(),
            host=s.ami_host,
            port=s.ami_port,
            username=s.ami_username,
            secret=self._secret,
            ping_delay=10,
            ping_interval=10,
            reconnect_timeout=s.ami_reconnect_s,
            forgetable_actions=_NeverReplay(),
            protocol_factory=TotalProtocol,
            on_login=self._logged,
            on_disconnect=self._lost,
            log=logging.getLogger("contact.telephony.panoramisk"),
        )
        self._manager.on_reject = self.rejected
        self._manager.register_event("*", self._dispatch)
        self._manager.connect()

    async def stop(self) -> None:
        manager, self._manager = self._manager, None
        if manager is not None:
            manager.stopped = True
            manager.close()
        self._logged_in = False
        self._fail_inflight("the telephony link was closed")

    async def wait_connected(self, timeout_s: float) -> bool:
        if not self.connected:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._up.wait(), timeout_s)
        return self.connected

    def _logged(self, _manager: Manager) -> None:
        if self._logged_in:
            return  # FullyBooted came first (it is sent within the login's answer)
        self._logged_in = True
        self._send_seal(_manager)
        self._up.set()
        self.connects += 1
        self.last_login_at = time.time()
        log.info("AMI logged in (connection %d)", self.connects)
        if self._on_link is not None:
            self._on_link(True)

    def permitted(self) -> bool:
        """May this client send actions now (FencedAmiClient: only while it holds the lease)."""
        return True

    def _send_seal(self, manager: Manager) -> None:
        """The token goes out now, synchronously: before the FullyBooted event is handed over,
        so before anything the resync asks (Asterisk runs one session's actions in order)."""
        if not self.permitted():
            return
        try:
            future = manager.send_action(self.seal.setvar())
        except Exception:  # the link is going: the next login sends it again
            log.warning("AMI: the event token could not be sent")
            return
        future.add_done_callback(_seal_answered)

    def rejected(self, defect: Defect, name: str, key: str) -> None:
        """A frame or event refused: counted always, logged at most every LOG_EVERY_S per
        defect (the name and key only: values may be a citizen's)."""
        if self._on_reject is not None:
            self._on_reject(defect)
        now = time.monotonic()
        if now - self._logged_at.get(defect, -LOG_EVERY_S) < LOG_EVERY_S:
            self._unlogged[defect] = self._unlogged.get(defect, 0) + 1
            return
        self._logged_at[defect] = now
        more = self._unlogged.pop(defect, 0)
        log.warning(
            "AMI: refused %s in %s (key %r; %d more since the last report)",
            defect.value,
            name or "?",
            key,
            more,
        )

    def _lost(self, _manager: Manager, _exc: Any) -> None:
        was = self._logged_in
        self._logged_in = False
        self._up.clear()
        self.last_lost_at = time.time()
        self._fail_inflight("the telephony link was lost")
        if was:
            log.warning("AMI link lost; reconnecting every %d s", self._settings.ami_reconnect_s)
            if self._on_link is not None:
                self._on_link(False)

    def _fail_inflight(self, why: str) -> None:
        for future in list(self._inflight):
            if not future.done():
                future.set_exception(Unavailable(why, error_id="telephony_unavailable"))
        self._inflight.clear()
        if self._manager is not None:
            self._manager.awaiting_actions.clear()

    def _dispatch(self, _manager: Manager, message: Any) -> None:
        event = dict(message)
        name = event.get("Event", "")
        if name in _IGNORED:
            return
        if not self.seal.admits(event):
            kind = str(event.get("UserEvent", ""))
            shown = kind if kind.isascii() and kind.isalnum() and len(kind) <= 64 else "?"
            self.rejected(Defect.UNSEALED, shown, TOKEN_FIELD)
            return
        event.pop(TOKEN_FIELD, None)
        if name == "FullyBooted":
            # sent to a session right after its login succeeds: the link is usable now
            self._logged(_manager)
        try:
            self._on_event({str(k): v if isinstance(v, str) else str(v) for k, v in event.items()})
        except Exception:
            log.exception("AMI event handler failed on %s", name)

    # --- actions ----------------------------------------------------------------------------

    async def action(self, fields: Mapping[str, str], *, timeout_s: float | None = None) -> Any:
        """One action and its response (a list of messages for the event-list actions)."""
        manager = self._manager
        if manager is None or not self._logged_in:
            raise Unavailable("Asterisk is not connected", error_id="telephony_unavailable")
        name = fields.get("Action", "?")
        as_list = None if name in _LIST_ACTIONS else False
        future: asyncio.Future[Any] = manager.send_action(dict(fields), as_list=as_list)
        self._inflight.add(future)
        try:
            response = await asyncio.wait_for(
                asyncio.shield(future), timeout_s or self._settings.ami_action_timeout_s
            )
        except TimeoutError:
            raise Unavailable(
                f"Asterisk did not answer {name} in time", error_id="telephony_timeout"
            ) from None
        finally:
            self._inflight.discard(future)
        first = response[0] if isinstance(response, list) and response else response
        if first is not None and str(first.get("Response", "")) in ("Error", "Failure"):
            message = str(first.get("Message", "")) or "refused"
            if "no such channel" in message.lower() or "not found" in message.lower():
                raise NotFound(f"{name}: {message}", error_id="channel_gone")
            raise AmiError(f"{name}: {message}")
        return response

    async def events(self, fields: Mapping[str, str], event: str) -> list[dict[str, str]]:
        """An event-list action's events of one kind (CoreShowChannels → CoreShowChannel)."""
        response = await self.action(fields)
        messages: Iterable[Any] = response if isinstance(response, list) else [response]
        return [
            {str(k): str(v) for k, v in dict(m).items()}
            for m in messages
            if dict(m).get("Event") == event
        ]


def _seal_answered(future: asyncio.Future[Any]) -> None:
    if future.cancelled():
        return
    error = future.exception()
    if error is not None or str(future.result().get("Response", "")) != "Success":
        log.error("AMI: Asterisk did not take the event token; dialplan events are dropped")


_LIST_ACTIONS = frozenset({"CoreShowChannels", "Status", "BridgeList", "PJSIPShowEndpoints"})
