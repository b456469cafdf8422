"""Intake: a call announced by the dialplan (ContactCall, before Answer) becomes a contact of
the unified queue (RegisterContact: voice, kiosk or video; external_id = the caller's
Uniqueid), or joins the open SOS report a video call of the citizen app belongs to. And what
the call says of itself afterwards: its recording, the language chosen in the menu, the
position its device sends."""

from __future__ import annotations

import asyncio
import contextvars
import logging

from contact.domain import events as ev
from contact.domain.commands import RegisterContact, UpdateLocation
from contact.domain.model import OPEN_STATES, ChannelKind, Contact, ContactState, Language, new_id
from contact.errors import Conflict, ContactError, NotFound
from contact.i18n import text
from contact.ports import Call, CallState
from contact.routing.lifecycle import Joined
from contact.telephony import parse
from contact.telephony.voice.armed import ArmedPhone
from contact.telephony.voice.callbacks import Callbacks
from contact.telephony.voice.kit import ATTACHABLE, Kit
from contact.telephony.voice.phone import OperatorPhone

log = logging.getLogger(__name__)

LANGUAGE_WRITE_S = 0.5


class Intake:
    def __init__(
        self, kit: Kit, phone: OperatorPhone, armed: ArmedPhone, callbacks: Callbacks
    ) -> None:
        self._k = kit
        self._phone = phone
        self._armed = armed
        self._callbacks = callbacks
        self._languages: dict[str, Language] = {}  # chosen, not yet on the contacts' rows
        self._language_writer: asyncio.Task[None] | None = None

    async def stop(self) -> None:
        if self._language_writer is not None and not self._language_writer.done():
            self._language_writer.cancel()
        await self._write_languages(0.0)  # what the menus said so far is kept

    def _summary(self, sig: parse.CallAnnounced) -> str:
        if sig.callback_id is not None:
            summary = text("call.callback_answered", None)
        elif sig.channel_kind is ChannelKind.KIOSK:
            summary = text("call.kiosk", None).format(endpoint=sig.endpoint or "?")
        elif sig.channel_kind is ChannelKind.VIDEO:
            summary = text("call.video", None)
        else:
            summary = text("call.voice", None)
        if sig.civic_address:
            summary += ". " + text("call.address", None).format(address=sig.civic_address)
        if sig.location_too_large:
            summary += ". " + text("call.location_too_large", None)
        if sig.caller_invalid:
            summary += ". " + text("call.caller_invalid", None)
        return summary

    async def _attachable(self, contact_id: str | None) -> Contact | None:
        """The open app contact (an SOS report) a video call of the app belongs to."""
        if contact_id is None:
            return None
        try:
            contact = await self._k.contacts.get(contact_id)
        except NotFound:
            return None
        if contact.channel not in ATTACHABLE or contact.state not in OPEN_STATES:
            return None
        return contact

    async def announced(self, sig: parse.CallAnnounced, recording: str | None = None) -> None:
        k = self._k
        book = k.book
        if book.has(sig.uniqueid):
            return  # a resync raced the event
        kind = sig.channel_kind
        attached = await self._attachable(sig.contact_id)
        if attached is not None:
            contact_id = attached.id
        else:
            citizen = sig.number
            if kind is ChannelKind.KIOSK or (kind is ChannelKind.VIDEO and not citizen):
                citizen = sig.endpoint
            registered = await k.bus.execute(
                RegisterContact(
                    channel=kind,
                    text=self._summary(sig),
                    triage_text="",  # our words and the civic address: nothing said yet
                    citizen=citizen,
                    location=sig.location,
                    external_id=sig.uniqueid,
                )
            )
            contact_id = registered.contact_id
        call = book.call(sig.uniqueid)
        if call is None:
            call = Call(
                id=new_id(),
                contact_id=contact_id,
                uniqueid=sig.uniqueid,
                channel=sig.channel,
                direction="in",
                kind=(
                    "sos_video"
                    if attached is not None
                    else "callback"
                    if sig.callback_id
                    else kind.value
                ),
                started_at=k.now(),
                endpoint=sig.endpoint,
                number=sig.number,
                citizen_leg=sig.uniqueid,
                civic_address=sig.civic_address,
                recording=recording or book.take_recording(sig.uniqueid),
            )
            if sig.armed_operator is not None:
                await self._armed.took(call, sig.armed_operator)
            book.remember(call)
            try:
                async with k.bookkeeping:  # after the intake: not on its path
                    await k.repo.add(call)
            except Conflict:  # another node registered it first (or recovered it, ended)
                stored = await k.repo.by_uniqueid(sig.uniqueid)
                if stored is not None and stored.state == CallState.ENDED:
                    book.forget(call)  # over already: its events find nothing to do
                    return
                if stored is not None:
                    book.remember(stored)
        else:
            book.remember(call)
        log.info("call registered", extra={"contact_id": contact_id, "channel": kind.value})
        if sig.callback_id is not None:
            await self._callbacks.auto_answered(sig.callback_id, contact_id)
        if (
            attached is not None
            and attached.state is ContactState.CONNECTED
            and attached.operator_id is not None
        ):
            # the operator already works the SOS: their phone rings for its video at once, if
            # they are there; if not, the SOS goes back to the queue and its video rings whoever
            # accepts it (Ringing.accepted)
            joined = Joined(attached.id) if k.join is None else await k.join(attached.id, None)
            if joined is not None and not joined.requeued:
                await self._phone.ring(call, attached.operator_id)

    async def recording_started(self, sig: parse.RecordingStarted) -> None:
        """Its call's row has it unless the row was written before it came."""
        k = self._k
        anchor = k.book.anchor(sig.uniqueid)
        path = k.book.take_recording(anchor)
        call = k.book.call(anchor)
        if call is None or path is None or call.recording == path:
            return
        call.recording = path
        await k.repo.save(call)

    async def language(self, sig: parse.LanguageChosen) -> None:
        k = self._k
        call = k.book.call_of(sig.uniqueid)
        if call is None or call.language is sig.language:
            return
        call.language = sig.language  # on the call's row with its next write
        # on the contact's row within LANGUAGE_WRITE_S, with the others chosen meanwhile: one
        # commit for a burst of menus ending, not one each ahead of new calls' intake
        self._languages[call.contact_id] = sig.language
        if self._language_writer is None or self._language_writer.done():
            self._language_writer = asyncio.create_task(
                self._write_languages(), name="voice-languages", context=contextvars.Context()
            )
        await k.bus.publish(
            ev.CallLanguageChosen(contact_id=call.contact_id, language=sig.language)
        )

    async def _write_languages(self, delay_s: float | None = None) -> None:
        await asyncio.sleep(LANGUAGE_WRITE_S if delay_s is None else delay_s)
        languages, self._languages = self._languages, {}
        if languages:
            try:
                await self._k.repo.set_contact_languages(languages)
            except ContactError as error:  # a hint for routing and reports; the call goes on
                log.warning("callers' languages not stored: %s", error.message)

    async def location(self, sig: parse.LocationSent) -> None:
        """A caller's device sent its position: the one live call of that endpoint moves.
        Kiosks are where they are configured; a shared endpoint (a trunk) is ambiguous."""
        calls = [
            c
            for c in self._k.book.calls()
            if c.endpoint == sig.endpoint and c.direction == "in" and c.kind != "kiosk"
        ]
        if len(calls) != 1:
            log.info("location from %s matches %d live calls: ignored", sig.endpoint, len(calls))
            return
        await self._k.bus.execute(
            UpdateLocation(contact_id=calls[0].contact_id, location=sig.location)
        )
