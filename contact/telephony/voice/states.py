"""The explicit states of the voice flows, as tables (after wazo-calld's transfers/state.py: a
state answers only the events it knows, and every step is logged as `state -> event -> state`).

- A call (Call.state, on its row): `CALL_MOVES` lists where each state may go. A flow moves a
  call with `move`; a move the table does not list is a bug, logged as an error (the call is
  moved all the same: a live call is never stopped by our bookkeeping), and the unit tests
  fail on it.
- A transfer (Transfer.state, in the call book while it goes on): `TRANSFER_STEPS` maps
  (state, event) to the next state; `Transfer.step` refuses an event its state does not know.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from contact.ports import Call, CallState

log = logging.getLogger(__name__)

_ANY_LIVE = frozenset(
    {
        CallState.HOLDING,
        CallState.RINGING,
        CallState.CONNECTED,
        CallState.HELD,
        CallState.CONSULTING,
        CallState.TRANSFERRING,
        CallState.TRANSFERRED,
    }
)

# where a call may go from each state (ENDED from anywhere: a call can always end)
CALL_MOVES: dict[str, frozenset[str]] = {
    # waiting: an operator's phone rings (accept, armed phone, resume without a leg)
    CallState.HOLDING: frozenset({CallState.HOLDING, CallState.RINGING}),
    # answered and bridged; not answered, failed, fail-safe; another operator's phone
    CallState.RINGING: frozenset({CallState.RINGING, CallState.CONNECTED, CallState.HOLDING}),
    # on hold; transfers; the operator's phone failed (fail-safe); rung again, reconnected
    CallState.CONNECTED: frozenset(
        {
            CallState.CONNECTED,
            CallState.HELD,
            CallState.CONSULTING,
            CallState.TRANSFERRING,
            CallState.HOLDING,
            CallState.RINGING,
        }
    ),
    # resumed (connecting to the leg that is up, or ringing it again); transfers; fail-safe
    CallState.HELD: frozenset(
        {
            CallState.HELD,
            CallState.CONNECTED,
            CallState.RINGING,
            CallState.CONSULTING,
            CallState.TRANSFERRING,
            CallState.HOLDING,
        }
    ),
    # completed; cancelled or failed (back to the operator); the operator's phone failed
    CallState.CONSULTING: frozenset({CallState.TRANSFERRED, CallState.RINGING, CallState.HOLDING}),
    # answered by the service; not answered (back to holding, to the queue)
    CallState.TRANSFERRING: frozenset({CallState.TRANSFERRED, CallState.HOLDING}),
    # an error after the transfer (fail-safe)
    CallState.TRANSFERRED: frozenset({CallState.TRANSFERRED, CallState.HOLDING}),
    CallState.ENDED: frozenset(),
}


def allowed(before: str, after: str) -> bool:
    if after == CallState.ENDED:
        return before in _ANY_LIVE
    return after in CALL_MOVES.get(before, frozenset())


def move(call: Call, to: str, why: str) -> None:
    """Call.state := `to`, for the reason `why` (logged)."""
    before = call.state
    if not allowed(before, to):
        log.error(
            "illegal call transition: %s -> %s -> %s", before, why, to,
            extra={"contact_id": call.contact_id},
        )  # fmt: skip
    else:
        log.debug("call: %s -> %s -> %s", before, why, to, extra={"contact_id": call.contact_id})
    call.state = to


class TransferState(StrEnum):
    DIALING = "dialing"  # the service's phone rings (blind: the caller hears it)
    CONSULTING = "consulting"  # attended: the service answered, the operator talks to it
    COMPLETING = "completing"  # attended: the caller is being bridged to the service
    CANCELLING = "cancelling"  # attended: the operator hung up on the service
    COMPLETED = "completed"  # the caller talks to the service; contact's part is done
    CANCELLED = "cancelled"  # back to the operator, by the operator's cancel
    FAILED = "failed"  # not answered, refused, or an error: back to the operator or the queue


class TransferEvent(StrEnum):
    ANSWERED = "answered"  # the service's leg answered
    COMPLETE = "complete"  # the operator completes an attended transfer
    CANCEL = "cancel"  # the operator cancels an attended transfer
    BRIDGED = "bridged"  # the caller is bridged to the service
    ENDED = "ended"  # the consultation ended without completing (service gone, not answered)
    ERROR = "error"  # the PBX refused a step


S, E = TransferState, TransferEvent
TRANSFER_STEPS: dict[tuple[TransferState, TransferEvent], TransferState] = {
    (S.DIALING, E.ANSWERED): S.CONSULTING,  # attended; a blind one completes at its answer
    (S.DIALING, E.BRIDGED): S.COMPLETED,  # blind: the caller talks to the service
    (S.DIALING, E.CANCEL): S.CANCELLING,
    (S.DIALING, E.ENDED): S.FAILED,
    (S.DIALING, E.ERROR): S.FAILED,
    (S.CONSULTING, E.COMPLETE): S.COMPLETING,
    (S.CONSULTING, E.CANCEL): S.CANCELLING,
    (S.CONSULTING, E.ENDED): S.FAILED,
    (S.CONSULTING, E.ERROR): S.FAILED,
    (S.COMPLETING, E.BRIDGED): S.COMPLETED,
    (S.COMPLETING, E.COMPLETE): S.COMPLETING,
    (S.COMPLETING, E.CANCEL): S.CANCELLING,
    (S.COMPLETING, E.ENDED): S.FAILED,
    (S.COMPLETING, E.ERROR): S.FAILED,
    (S.CANCELLING, E.ENDED): S.CANCELLED,
    (S.CANCELLING, E.CANCEL): S.CANCELLING,
    (S.CANCELLING, E.ERROR): S.FAILED,
}
del S, E

FINAL = frozenset({TransferState.COMPLETED, TransferState.CANCELLED, TransferState.FAILED})


class IllegalStep(Exception):
    """An event the transfer's state does not know."""


@dataclass(slots=True)
class Transfer:
    """One transfer of a call, while it goes on (the call book keeps it by the call's anchor).
    A restarted node rebuilds it from the call's row (`of`)."""

    mode: str  # blind | attended
    target: str
    state: TransferState = TransferState.DIALING

    @classmethod
    def of(cls, call: Call) -> Transfer | None:
        """The transfer a call's row says is going on (a restarted node, a resync)."""
        if call.state == CallState.TRANSFERRING:
            return cls("blind", call.transfer_target or "?")
        if call.state == CallState.CONSULTING:
            answered = call.consult_leg is not None
            return cls(
                "attended",
                call.transfer_target or "?",
                TransferState.CONSULTING if answered else TransferState.DIALING,
            )
        return None

    @property
    def over(self) -> bool:
        return self.state in FINAL

    def step(self, event: TransferEvent) -> TransferState:
        after = TRANSFER_STEPS.get((self.state, event))
        if after is None:
            raise IllegalStep(f"{self.mode} transfer {self.state}: no {event}")
        log.info("transfer: %s -> %s -> %s", self.state, event, after)
        self.state = after
        return after
