"""Telephony, assembled: the AMI link, call control, the voice service, recordings and
supervision, as one background service of the container (contact.telephony.PLUGIN).

Several nodes may run it against one Asterisk; exactly one drives it, the holder of the
telephony lease (contact/telephony/leadership.py). The others stand by with no AMI link. Each
term of leadership runs a VoiceService of its own, started like a restarted node: the live
calls are read from the database, and the resync at the AMI login reconciles them with
Asterisk's channels. A standby's operators and supervisors work voice all the same: what its
bus and routes need of the calls goes to the driving node (contact/telephony/relay.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from contact.bus import MessageBus
from contact.config import AsteriskSettings
from contact.domain import events as ev
from contact.domain.commands import Command
from contact.errors import ContactError, Unavailable
from contact.persistence.calls import SqlCallRepository
from contact.persistence.leases import SqlLeaseStore
from contact.ports import AuditLog, Broadcast, Call, CallState
from contact.telephony.actions import Actor, CallActions
from contact.telephony.ami import AmiClient, EventSink
from contact.telephony.ami_reader import Defect
from contact.telephony.audiosocket.server import Limits
from contact.telephony.call_control import AmiCallControl
from contact.telephony.leadership import Leadership, RoleChange
from contact.telephony.projection import payload
from contact.telephony.recordings import RecordingService
from contact.telephony.relay import TOPIC, Relay
from contact.telephony.spy import SpyService
from contact.telephony.taps import ChanSpyAudio
from contact.telephony.voice import VoiceService
from contact.telephony.voice.records import CallRecords

if TYPE_CHECKING:
    from contact.context import Container

log = logging.getLogger(__name__)

# a standby waits for the driving node's answer to a call action this much longer than an
# AMI action may take there
RELAY_SLACK_S = 1.0


def ami_secret(container: Container) -> str:
    """CONTACT_ASTERISK_AMI_SECRET, or the one `contact asterisk up` generated for its run
    directory (secrets.json, 0600, same machine)."""
    s = container.settings.asterisk
    if s.ami_secret is not None:
        return s.ami_secret.get_secret_value()
    path = s.effective_run_dir.expanduser() / "secrets.json"
    try:
        return str(json.loads(path.read_text())["ami"])
    except (OSError, ValueError, KeyError):
        log.error("no AMI secret: set CONTACT_ASTERISK_AMI_SECRET or run `contact asterisk up`")
        return ""


class FencedAmiClient(AmiClient):
    """The AMI link of a node that may lose the telephony lease: no action leaves unless the
    lease is valid at that moment (a standby, or a holder past its lease, is refused)."""

    def __init__(
        self,
        settings: AsteriskSettings,
        secret: str,
        on_event: EventSink,
        *,
        on_link: Callable[[bool], None],
        may_act: Callable[[], bool],
        on_reject: Callable[[Defect], None] | None = None,
    ) -> None:
        super().__init__(settings, secret, on_event, on_link=on_link, on_reject=on_reject)
        self._may_act = may_act

    @property
    def connected(self) -> bool:
        return super().connected and self._may_act()

    def permitted(self) -> bool:
        return self._may_act()

    async def action(self, fields: Mapping[str, str], *, timeout_s: float | None = None) -> Any:
        if not self._may_act():
            raise Unavailable(
                "another node drives this Asterisk (telephony standby)",
                error_id="telephony_standby",
            )
        return await super().action(fields, timeout_s=timeout_s)


Handler = Callable[[Any], Awaitable[Any]]


class VoiceWiring(MessageBus):
    """The bus as a VoiceService's `register` sees it. What the service subscribes is kept
    here and the node's bus reaches it through this: one subscription per kind of message for
    the node's life, delivered to the VoiceService of the current term."""

    def __init__(self, bus: MessageBus) -> None:
        super().__init__()
        self._bus = bus
        self._events: dict[type[ev.Event], list[Handler]] = {}
        self._commands: dict[type[Command], Handler] = {}
        self._on_bus: set[type[Command]] = set()

    def attach(self, voice: VoiceService) -> None:
        """From now on the bus reaches `voice` (and no longer the one before it)."""
        for handlers in self._events.values():
            handlers.clear()
        self._commands.clear()
        voice.register(self)

    def subscribe(self, event_type: type[Any], handler: Callable[[Any], Awaitable[None]]) -> None:
        if event_type not in self._events:
            self._events[event_type] = []
            self._bus.subscribe(event_type, partial(self._deliver, event_type))
        self._events[event_type].append(handler)

    def subscribe_all(self, handler: Callable[[ev.Event], Awaitable[None]]) -> None:
        self.subscribe(ev.Event, handler)

    def register(self, command_type: type[Any], handler: Callable[[Any], Awaitable[Any]]) -> None:
        if command_type not in self._on_bus:
            self._bus.register(command_type, partial(self._execute, command_type))
            self._on_bus.add(command_type)
        self._commands[command_type] = handler

    async def _deliver(self, event_type: type[ev.Event], event: ev.Event) -> None:
        for handler in list(self._events[event_type]):
            await handler(event)

    async def _execute(self, command_type: type[Command], command: Command) -> Any:
        return await self._commands[command_type](command)


class Telephony:
    def __init__(self, container: Container) -> None:
        s = container.settings
        self._container = container
        self._bus = container.bus
        self._broadcast: Broadcast = container.broadcast
        self._audit: AuditLog = container.db.audit
        # the calls repository shares the database's engine (one connection pool)
        self.calls = SqlCallRepository(container.db.store)
        self.recordings = RecordingService(
            settings=s.asterisk,
            calls=self.calls,
            audit=container.db.audit,
            bus=container.bus,
            clock=container.clock,
        )
        self.node = f"{container.node_id}@{socket.gethostname()}"
        # PostgreSQL: a connection pool of its own, so that a pool busy with intake never
        # delays a renewal. SQLite (one node): the node's own store, whose in-process writer
        # turn the renewals must share; a second engine on the file would meet the intake's
        # writes in SQLite's busy handler, which sleeps (up to 100 ms a time)
        store = container.db.store
        self.leases = SqlLeaseStore(store) if store.is_sqlite else SqlLeaseStore.open(s.database)
        self.leadership = Leadership(
            self.leases,
            s.asterisk.lease_name,
            self.node,
            ttl_s=s.asterisk.lease_s,
            renew_s=s.asterisk.lease_renew_s,
            drive=self._drive,
            announce=self._announce,
            clock=time.monotonic,
        )
        # every frame or event the AMI reader refused, by why (contact.telephony.ami_reader)
        self.ami_rejected = Counter(
            "contact_ami_rejected_total",
            "AMI frames, headers and events refused by the reader or the event token",
            ["reason"],
            registry=container.metrics.registry,
        )
        for defect in Defect:
            self.ami_rejected.labels(defect.value)
        self.ami = FencedAmiClient(
            s.asterisk,
            ami_secret(container),
            self._event,
            on_link=self._link,
            may_act=self.leadership.valid,
            on_reject=lambda defect: self.ami_rejected.labels(defect.value).inc(),
        )
        self.control = AmiCallControl(self.ami, s.asterisk)
        self._wiring = VoiceWiring(container.bus)
        # Asterisk's own record of the calls it announced (asterisk-config/cel_custom.conf)
        self.records = CallRecords(
            s.asterisk.effective_call_records, s.data_dir / "telephony" / "call-records.json"
        )
        self.voice = self._new_voice()
        Gauge(
            "contact_call_records_malformed",
            "Lines of Asterisk's call records skipped as malformed since this node started",
            registry=container.metrics.registry,
        ).set_function(lambda: self.records.malformed)
        # calls whose registration or end waits for the database (contact.telephony.voice)
        Gauge(
            "contact_voice_calls_awaiting_storage",
            "Calls whose registration or end waits for the database to answer",
            registry=container.metrics.registry,
        ).set_function(lambda: self.voice.book.awaiting())
        Gauge(
            "contact_telephony_resyncs",
            "Resyncs with Asterisk's channels in this node's current term as the driver",
            registry=container.metrics.registry,
        ).set_function(lambda: self.voice.resyncs)
        self.spy = SpyService(
            control=self.control,
            audit=container.db.audit,
            bus=container.bus,
            on_leg=self._own_leg,
        )
        self.actions = CallActions(
            voice=lambda: self.voice, spy=self.spy, operators=container.db.operators
        )
        self.relay = Relay(
            broadcast=container.broadcast,
            node=self.node,
            leading=self.leadership.valid,
            holder=lambda: self.leadership.current_holder,
            run=self.actions.run,
            nudge=self._nudge,
            peers=container.redis is not None,
            offers=s.asterisk.ring_on_offer,
            timeout_s=s.asterisk.ami_action_timeout_s + RELAY_SLACK_S,
        )
        container.bus.subscribe(ev.ContactAccepted, self.relay.relay)
        container.bus.subscribe(ev.ContactOffered, self.relay.relay)
        container.bus.subscribe(ev.TelephonyLeaderChanged, self._project)
        container.broadcast.listen(self._heard)
        self.audio: ChanSpyAudio | None = None  # the call-audio seam, once a feature asks

    def call_audio(self, limits: Limits, registry: CollectorRegistry | None) -> ChanSpyAudio:
        """The call-audio seam (CallAudio, contact/telephony/audio.py) for a feature that
        wants to hear calls (live transcription): its AudioSocket server on `limits`, started
        and stopped with telephony."""
        if self.audio is None:
            self.audio = ChanSpyAudio(
                limits=limits,
                live_call=lambda contact_id: self.voice.live_call(contact_id),
                own_leg=self._own_leg,
                action=self.ami.action,
                hangup=self.control.hangup,
                leading=self.leadership.valid,
                registry=registry,
            )
            self.audio.register(self._bus)
        return self.audio

    def _new_voice(self) -> VoiceService:
        """The voice service of a new term (the standby's one answers the bus only)."""
        c = self._container
        voice = VoiceService(
            settings=c.settings,
            bus=c.bus,
            contacts=c.db.contacts,
            operators=c.db.operators,
            calls=self.calls,
            control=self.control,
            routing=c.routing,
            clock=c.clock,
            on_recording_closed=self.recordings.track,
            join=c.lifecycle.join,
            records=self.records,
        )
        self._wiring.attach(voice)
        return voice

    # --- AMI, through the fence -----------------------------------------------------------------

    def _event(self, event: dict[str, str]) -> None:
        if self.leadership.valid():
            if event.get("Event") == "Hangup":
                self.spy.ended(event.get("Uniqueid", ""))
            self.voice.on_ami_event(event)

    def _link(self, up: bool) -> None:
        if self.leadership.valid():
            self.voice.on_link(up)

    def _own_leg(self, leg: str) -> None:
        self.voice.own_leg(leg)

    def _nudge(self, event: str, contact_id: str, operator_id: str) -> None:
        self.voice.nudge(event, contact_id, operator_id)

    # --- calls, from any node -------------------------------------------------------------------

    async def act(
        self, action: str, contact_id: str, actor: Actor, args: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A call action of the REST API (contact/telephony/actions.py), run by the node that
        drives Asterisk, this one or another (a ContactError from either)."""
        return await self.relay.act(action, contact_id, actor, args)

    async def live_calls(self) -> list[Call]:
        """The live calls: the driving node's picture; on a standby, as the database has them
        (the driving node writes every change of a call's state)."""
        if self.leadership.valid():
            return self.voice.live_calls()
        return await self.calls.live()

    async def live_call(self, contact_id: str) -> Call | None:
        if self.leadership.valid():
            return self.voice.live_call(contact_id)
        calls = await self.calls.for_contact(contact_id)
        return next((c for c in reversed(calls) if c.state != CallState.ENDED), None)

    # --- leadership -----------------------------------------------------------------------------

    async def _drive(self, leading: bool) -> None:
        if leading:
            standby, self.voice = self.voice, self._new_voice()
            await standby.stop()
            await self.voice.start()
            await self.ami.start()
        else:
            # a lost lease has closed the fence already; a release stops while it is valid,
            # so that what the voice service undoes on its way out still reaches Asterisk
            await self.voice.stop()
            await self.ami.stop()

    async def _announce(self, change: RoleChange) -> None:
        await self._bus.publish(
            ev.TelephonyLeaderChanged(
                node=self.node,
                leading=change.leading,
                holder=change.holder,
                reason=change.reason,
                epoch=change.epoch,
            )
        )

    async def _project(self, event: ev.TelephonyLeaderChanged) -> None:
        """Supervisors see who drives the telephony; the audit log keeps every change."""
        body = payload(event)
        try:  # first: a standby hearing of a release claims the lease at once
            await self._broadcast.publish("supervisor", body)
        except ContactError as error:  # Redis down: the standby asks within a renewal period
            log.warning("telephony leader change not broadcast: %s", error.message)
        details = {k: v for k, v in body.items() if k not in ("type", "at")}
        await self._audit.append("system:telephony", event.name, None, details)

    async def _heard(self, topic: str, body: Mapping[str, Any]) -> None:
        """Calls of other nodes' operators (the relay); and another node released the lease:
        claim it now, not at the next renewal."""
        if topic == TOPIC:
            await self.relay.heard(body)
        elif (
            topic == "supervisor"
            and body.get("type") == ev.TelephonyLeaderChanged.name
            and body.get("node") != self.node
            and body.get("reason") in ("released", "failed")
        ):
            self.leadership.wake()

    # --- life cycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        if self.audio is not None:
            await self.audio.start()
        # every node, standby or not, reads Asterisk's records from here at its takeover
        await asyncio.to_thread(self.records.begin)
        await self.leadership.start()

    async def stop(self) -> None:
        if self.audio is not None:
            await self.audio.stop()
        await self.relay.stop()
        await self.leadership.stop()
        await self.voice.stop()  # a standby's (never started) or the last term's: a no-op
        await self.recordings.stop()
        await self.ami.stop()
        await self.leases.close()

    def status(self) -> dict[str, Any]:
        lead = self.leadership.snapshot()
        return {
            "status": "up" if self.ami.connected else "down",
            "role": lead["role"],
            "node": lead["node"],
            "holder": lead["holder"],
            "epoch": lead["epoch"],
            "connections": self.ami.connects,
            "last_login_at": self.ami.last_login_at,
            "last_lost_at": self.ami.last_lost_at,
            "resyncs": self.voice.resyncs,
            "last_resync_at": self.voice.last_resync_at,
            "live_calls": len(self.voice.live_calls()),
        }

    def health(self) -> dict[str, Any]:
        """/healthz: the leader is up while its AMI link is; a standby is well while it knows
        who drives (and that node's own /healthz says how that goes)."""
        lead = self.leadership.snapshot()
        if lead["role"] == "leader":
            status = "up" if self.ami.connected else "down"
        else:
            status = "standby" if lead["holder"] is not None and lead["store"] == "up" else "down"
        return {
            "status": status,
            **lead,
            "ami": "up" if self.ami.connected else "down",
            "live_calls": len(self.voice.live_calls()),
        }
