"""Which legs of a call are transcribed, and when, driven by the call's own events: the caller's
leg from the moment the language is known (after the menu; the app's declared language; the
default), while the caller still waits; the operator's leg once bridged. The audio comes
through telephony's call-audio seam (CallAudio, contact/telephony/audio.py), which taps the
call and never touches it: a tap that fails only degrades the transcript.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from contact.bus import MessageBus
from contact.domain import events as ev
from contact.telephony.audio import CallAudio, Party
from contact.transcribe.leg import Tap
from contact.transcribe.service import Transcription

log = logging.getLogger(__name__)


class CallTaps:
    def __init__(self, transcription: Transcription, audio: CallAudio) -> None:
        self._t = transcription
        self._audio = audio
        self._tasks: set[asyncio.Task[Any]] = set()

    def register(self, bus: MessageBus) -> None:
        bus.subscribe(ev.CallLanguageChosen, self._language_chosen)
        bus.subscribe(ev.CallConnected, self._connected)
        bus.subscribe(ev.CallEnded, self._ended)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Any) -> None:
        # handlers hold the contact's lock: a PBX round trip must not hold the call's events
        task = asyncio.create_task(coro, name="transcribe-tap")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- the call's events ----------------------------------------------------------------------

    async def _language_chosen(self, event: ev.CallLanguageChosen) -> None:
        self._spawn(self.tap_caller(event.contact_id, str(event.language.value)))

    async def _connected(self, event: ev.CallConnected) -> None:
        self._spawn(self.tap_operator(event.contact_id))

    async def _ended(self, event: ev.CallEnded) -> None:
        self._t.end_contact(event.contact_id)  # its streams end with the call

    # --- taps -----------------------------------------------------------------------------------

    async def tap_caller(self, contact_id: str, language: str | None) -> Tap | None:
        leg = self._audio.leg(contact_id, Party.CALLER)
        if leg is None:
            return None
        tap = await self._t.open_tap(
            contact_id, Party.CALLER.value, language or leg.language, leg.channel
        )
        if tap is not None:
            self._t.attach(tap, await self._audio.listen(leg))
        return tap

    async def tap_operator(self, contact_id: str) -> Tap | None:
        leg = self._audio.leg(contact_id, Party.OPERATOR)
        if leg is None:
            return None
        caller = self._t.tap_of(contact_id, Party.CALLER.value)
        language = caller.language if caller is not None else leg.language
        if caller is None:  # no menu was heard of (a resync, a callback): tap the caller now
            await self.tap_caller(contact_id, language)
        current = self._t.tap_of(contact_id, Party.OPERATOR.value)
        if current is not None:
            if current.spied == leg.channel:
                return None
            self._t.end_contact_leg(current)  # another operator now: a new tap
        tap = await self._t.open_tap(contact_id, Party.OPERATOR.value, language, leg.channel)
        if tap is not None:
            self._t.attach(tap, await self._audio.listen(leg))
        return tap
