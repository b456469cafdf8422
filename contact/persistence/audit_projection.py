"""Every operator action reaches the hash-chained audit log through the events it causes.
What citizens did (intake, hang-ups, location updates) is the contact's own record.

Views of personal data have no event; the HTTP handlers that show it append those entries.
Details carry ids and states only, never the citizen's text, number or location.
"""

from __future__ import annotations

from typing import Any

from contact.bus import MessageBus
from contact.domain import events as ev
from contact.ports import AuditLog


class AuditProjection:
    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit

    def register(self, bus: MessageBus) -> None:
        bus.subscribe(ev.ContactOffered, self._offered)
        bus.subscribe(ev.OfferExpired, self._offer_returned)
        bus.subscribe(ev.ContactReclaimed, self._reclaimed)
        bus.subscribe(ev.ContactOrphaned, self._orphaned)
        bus.subscribe(ev.ContactReassigned, self._reassigned)
        bus.subscribe(ev.ContactForceClosed, self._force_closed)
        bus.subscribe(ev.ContactAccepted, self._accepted)
        bus.subscribe(ev.ReplySent, self._replied)
        bus.subscribe(ev.ContactWrappedUp, self._wrapped_up)
        bus.subscribe(ev.ContactClosed, self._closed)
        bus.subscribe(ev.OperatorPresenceChanged, self._presence)
        bus.subscribe(ev.KeywordAlerted, self._keyword_alert)

    async def _log(self, actor: str, action: str, subject: str | None, **details: Any) -> None:
        await self._audit.append(actor, action, subject, details)

    async def _offered(self, e: ev.ContactOffered) -> None:
        # the offer shows the contact's details to this operator
        await self._log("system", "contact.offer", e.contact_id, operator_id=e.operator_id)

    async def _offer_returned(self, e: ev.OfferExpired) -> None:
        action = "contact.decline" if e.declined else "contact.offer_missed"
        await self._log(e.operator_id, action, e.contact_id)

    async def _reclaimed(self, e: ev.ContactReclaimed) -> None:
        await self._log(
            "system", "contact.reclaim", e.contact_id, operator_id=e.operator_id, reason=e.reason
        )

    async def _orphaned(self, e: ev.ContactOrphaned) -> None:
        await self._log(
            "system", "contact.orphan", e.contact_id, operator_id=e.operator_id, reason=e.reason
        )

    async def _reassigned(self, e: ev.ContactReassigned) -> None:
        await self._log(
            e.supervisor_id,
            "contact.take_over" if e.taken_over else "contact.reassign",
            e.contact_id,
            from_operator_id=e.from_operator_id,
            to_operator_id=e.to_operator_id,
        )

    async def _force_closed(self, e: ev.ContactForceClosed) -> None:
        # the reason is the supervisor's own words about the work, never the citizen's
        await self._log(
            e.supervisor_id,
            "contact.force_close",
            e.contact_id,
            operator_id=e.operator_id,
            reason=e.reason,
        )

    async def _accepted(self, e: ev.ContactAccepted) -> None:
        await self._log(
            e.operator_id, "contact.accept", e.contact_id, waited_s=round(e.waited_s, 3)
        )

    async def _replied(self, e: ev.ReplySent) -> None:
        await self._log(e.operator_id, "contact.reply", e.contact_id, message_id=e.message_id)

    async def _wrapped_up(self, e: ev.ContactWrappedUp) -> None:
        await self._log(e.operator_id, "contact.wrap_up", e.contact_id)

    async def _closed(self, e: ev.ContactClosed) -> None:
        await self._log(
            e.operator_id or "system", "contact.close", e.contact_id, disposition=e.disposition
        )

    async def _keyword_alert(self, e: ev.KeywordAlerted) -> None:
        # the category and what it did to the queue; never the citizen's words
        await self._log(
            "system",
            "contact.keyword_alert",
            e.contact_id,
            category=e.category,
            source=e.source,
            priority=e.priority.name.lower(),
            raised=e.raised,
        )

    async def _presence(self, e: ev.OperatorPresenceChanged) -> None:
        await self._log(
            e.operator_id,
            "operator.presence",
            e.operator_id,
            presence=e.presence.value,
            reason=e.reason,
        )
