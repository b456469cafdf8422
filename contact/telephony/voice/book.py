"""The call book: the one picture of the live calls every voice flow reads and writes.

A call is known by its anchor (the channel contact steers: the caller's uniqueid for a call
coming in, the operator's leg for a callback); every other leg of it (the operator's phone, a
transfer's target, an armed phone ringing before its call is announced) points to its anchor.
Besides the calls themselves the book keeps the facts about them that are not on their rows:
which leg a call is being bridged to, who ended it, the legs that belong to something else
(automatic callbacks, supervisors' and taps' ChanSpy legs), a recording announced before its
call's row, the armed phone a call took, whether Asterisk is stopping, and the signals of
calls that wait for storage (the database could not take their registration or their end:
kept here, in AMI order, until it can).

Nothing here talks to Asterisk or the database: the flows do, under the call's lock
(VoiceService.locked), and note what they did here, through named methods.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from contact.ports import Call
from contact.telephony import parse
from contact.telephony.voice.states import Transfer

# calls whose signals wait for storage, and signals kept per call: bounded memory while the
# database is away (a 102 centre takes far fewer calls than this in a database outage)
MAX_AWAITING_CALLS = 5000
MAX_AWAITING_SIGNALS = 32


class CallBook:
    def __init__(self) -> None:
        self._calls: dict[str, Call] = {}  # anchor → call
        self._legs: dict[str, str] = {}  # other legs → anchor
        self._by_contact: dict[str, str] = {}  # contact → anchor
        self._ready: dict[str, asyncio.Event] = {}  # contact → its call is registered
        self._bridging: dict[str, str] = {}  # anchor → the leg it is being bridged to
        self._ended_by_operator: set[str] = set()
        self._transfers: dict[str, Transfer] = {}  # anchor → its transfer going on
        self._auto_legs: dict[str, str] = {}  # automatic callback leg → callback id
        self._own_legs: set[str] = set()  # legs of something else (supervisors', taps')
        self._recording_paths: dict[str, str] = {}  # anchor → its recording, until stored
        # Asterisk is stopping: a call that ends from now until the next resync was dropped by
        # the system, whichever leg Asterisk happens to hang up first; the legs whose end
        # (Hangup, failed Originate) came after it, decided in AMI order
        self._shutting_down = False
        self._shutdown_ends: set[str] = set()
        # the armed phone: calls that took it, by anchor → operator, until the queue's offer
        # confirms them; the leg of one answered meanwhile
        self._armed: dict[str, str] = {}
        self._armed_answered: dict[str, str] = {}
        # armed legs announced before their caller (the dialplan rings first): caller → leg,
        # "" once that leg is gone
        self._early_legs: dict[str, str] = {}
        # calls whose signals wait for storage: anchor → their signals, in AMI order
        self._awaiting: dict[str, list[parse.Signal]] = {}
        self.awaiting_refused = 0  # signals not kept: the bounds were reached

    # --- calls and their legs ---------------------------------------------------------------

    def remember(self, call: Call) -> None:
        self._calls[call.uniqueid] = call
        self._by_contact[call.contact_id] = call.uniqueid
        for leg in (call.citizen_leg, call.operator_leg, call.consult_leg):
            if leg and leg != call.uniqueid:
                self._legs[leg] = call.uniqueid
        ready = self._ready.pop(call.contact_id, None)
        if ready is not None:
            ready.set()

    def forget(self, call: Call) -> None:
        self._calls.pop(call.uniqueid, None)
        if self._by_contact.get(call.contact_id) == call.uniqueid:
            del self._by_contact[call.contact_id]
        for leg, anchor in list(self._legs.items()):
            if anchor == call.uniqueid:
                del self._legs[leg]
        self._bridging.pop(call.uniqueid, None)
        self._armed.pop(call.uniqueid, None)
        self._armed_answered.pop(call.uniqueid, None)
        self._ended_by_operator.discard(call.uniqueid)
        self._transfers.pop(call.uniqueid, None)

    def anchor(self, uniqueid: str) -> str:
        """The anchor of the call `uniqueid` is a leg of (itself if it is none)."""
        return self._legs.get(uniqueid, uniqueid)

    def leg_of(self, uniqueid: str) -> str | None:
        """The anchor `uniqueid` is a leg of, if it is a known other leg."""
        return self._legs.get(uniqueid)

    def call(self, anchor: str) -> Call | None:
        return self._calls.get(anchor)

    def call_of(self, uniqueid: str) -> Call | None:
        """The call any of its legs belongs to."""
        return self._calls.get(self.anchor(uniqueid))

    def has(self, anchor: str) -> bool:
        return anchor in self._calls

    def calls(self) -> list[Call]:
        return list(self._calls.values())

    def __len__(self) -> int:
        return len(self._calls)

    def live_call(self, contact_id: str) -> Call | None:
        anchor = self._by_contact.get(contact_id)
        return self._calls.get(anchor) if anchor is not None else None

    def live_calls(self) -> list[Call]:
        return sorted(self._calls.values(), key=lambda c: c.started_at)

    def link(self, leg: str, anchor: str) -> None:
        """`leg` is one of the call `anchor`'s from now on (its events find the call)."""
        self._legs[leg] = anchor

    def unlink(self, leg: str) -> None:
        self._legs.pop(leg, None)

    def known(self) -> set[str]:
        """Every channel the book accounts for (resync: the others are strays)."""
        return (
            set(self._legs)
            | set(self._calls)
            | set(self._auto_legs)
            | self._own_legs
            | set(self._awaiting)  # their announcement waits for storage
        )

    async def wait_for(self, contact_id: str, wait_s: float) -> Call | None:
        """The contact's live call; its ContactCall may still be being registered."""
        call = self.live_call(contact_id)
        if call is not None or wait_s <= 0:
            return call
        ready = self._ready.setdefault(contact_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), wait_s)
        self._ready.pop(contact_id, None)
        return self.live_call(contact_id)

    # --- bridging -------------------------------------------------------------------------------

    def bridging(self, anchor: str, leg: str) -> None:
        self._bridging[anchor] = leg

    def bridging_to(self, anchor: str) -> str | None:
        return self._bridging.get(anchor)

    def bridged(self, anchor: str) -> str | None:
        """The bridge asked for is done (or failed): the leg it was to."""
        return self._bridging.pop(anchor, None)

    # --- who ended it -----------------------------------------------------------------------

    def ended_by_operator(self, anchor: str) -> None:
        self._ended_by_operator.add(anchor)

    def is_ended_by_operator(self, anchor: str) -> bool:
        return anchor in self._ended_by_operator

    # --- transfers ------------------------------------------------------------------------------

    def transfer(self, anchor: str) -> Transfer | None:
        return self._transfers.get(anchor)

    def transfer_started(self, anchor: str, transfer: Transfer) -> None:
        self._transfers[anchor] = transfer

    def transfer_over(self, anchor: str) -> Transfer | None:
        return self._transfers.pop(anchor, None)

    # --- legs of something else ---------------------------------------------------------------

    def auto_leg(self, leg: str, callback_id: str) -> None:
        self._auto_legs[leg] = callback_id

    def auto_callback(self, leg: str) -> str | None:
        return self._auto_legs.get(leg)

    def auto_leg_over(self, leg: str) -> None:
        self._auto_legs.pop(leg, None)

    def own_leg(self, leg: str) -> None:
        self._own_legs.add(leg)

    def is_own_leg(self, leg: str) -> bool:
        return leg in self._own_legs

    def own_leg_over(self, leg: str) -> None:
        self._own_legs.discard(leg)

    # --- recordings announced before their call's row -----------------------------------------

    def recording_announced(self, anchor: str, path: str) -> None:
        self._recording_paths[anchor] = path

    def take_recording(self, anchor: str) -> str | None:
        return self._recording_paths.pop(anchor, None)

    # --- Asterisk stopping ----------------------------------------------------------------------

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def shutdown_began(self) -> bool:
        """Asterisk announced its stop; True the first time."""
        first = not self._shutting_down
        self._shutting_down = True
        return first

    def ended_in_shutdown(self, uniqueid: str) -> None:
        if self._shutting_down:
            self._shutdown_ends.add(uniqueid)

    def take_shutdown_end(self, uniqueid: str) -> bool:
        """Whether `uniqueid` ended because Asterisk stopped (asked once)."""
        if uniqueid in self._shutdown_ends:
            self._shutdown_ends.discard(uniqueid)
            return True
        return False

    def running_again(self) -> None:
        self._shutting_down = False
        self._shutdown_ends.clear()

    # --- the armed phone --------------------------------------------------------------------------

    def took_armed(self, anchor: str, operator_id: str) -> None:
        self._armed[anchor] = operator_id

    def is_armed(self, anchor: str) -> bool:
        return anchor in self._armed

    def armed_operators(self) -> set[str]:
        return set(self._armed.values())

    def armed_answered(self, anchor: str, leg: str) -> None:
        self._armed_answered[anchor] = leg

    def take_armed(self, anchor: str) -> str | None:
        """The operator whose armed phone rang for the call (no longer to be confirmed)."""
        return self._armed.pop(anchor, None)

    def take_armed_answer(self, anchor: str) -> str | None:
        return self._armed_answered.pop(anchor, None)

    def armed_over(self, anchor: str) -> None:
        self._armed.pop(anchor, None)
        self._armed_answered.pop(anchor, None)

    def early_leg(self, caller: str, leg: str) -> None:
        self._early_legs[caller] = leg

    def early_leg_of(self, caller: str) -> str | None:
        return self._early_legs.get(caller)

    def early_leg_failed(self, caller: str) -> None:
        self._early_legs[caller] = ""

    def take_early_leg(self, caller: str) -> str | None:
        return self._early_legs.pop(caller, None)

    def operators_on_calls(self) -> Iterable[str | None]:
        return (c.operator_id for c in self._calls.values())

    # --- signals waiting for storage -------------------------------------------------------------

    def awaits_storage(self, anchor: str) -> bool:
        return anchor in self._awaiting

    def awaiting(self) -> int:
        """How many calls wait for storage."""
        return len(self._awaiting)

    def await_storage(self, anchor: str, signals: list[parse.Signal]) -> bool:
        """Keep `signals` of the call `anchor` ahead of any kept before (a retry puts back
        what it could not apply). False if the bounds refused them (counted)."""
        kept = self._awaiting.get(anchor)
        if kept is None and len(self._awaiting) >= MAX_AWAITING_CALLS:
            self.awaiting_refused += len(signals)
            return False
        self._awaiting[anchor] = self._trimmed(signals + (kept or []))
        return True

    def keep_for_storage(self, anchor: str, sig: parse.Signal) -> None:
        """A signal of a call that waits for storage: after those kept before it."""
        kept = self._awaiting.get(anchor)
        if kept is not None:
            self._awaiting[anchor] = self._trimmed([*kept, sig])

    def _trimmed(self, signals: list[parse.Signal]) -> list[parse.Signal]:
        # what a call is made of (its announcement, its end) is kept; the rest gives way
        while len(signals) > MAX_AWAITING_SIGNALS:
            extra = next((i for i, s in enumerate(signals) if not isinstance(s, ESSENTIAL)), None)
            if extra is None:
                break
            del signals[extra]
            self.awaiting_refused += 1
        return signals

    def awaiting_anchors(self) -> list[str]:
        """The calls waiting for storage, the longest waiting first."""
        return list(self._awaiting)

    def take_awaiting(self, anchor: str) -> list[parse.Signal]:
        return self._awaiting.pop(anchor, [])


ESSENTIAL = (parse.CallAnnounced, parse.HungUp)
