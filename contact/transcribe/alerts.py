"""What a caller's recognised words do: the same triage as a chat's text
(ContactLifecycle.triage_words): alarming words raise keyword.alert (source `transcript`), and a
caller who still waits moves up to SOS, so the call is answered before calmer ones."""

from __future__ import annotations

import logging

from contact.errors import ContactError
from contact.routing.lifecycle import ContactLifecycle

log = logging.getLogger(__name__)


class CallerWords:
    """The transcription service's hook for each final segment of a caller's leg."""

    def __init__(self, lifecycle: ContactLifecycle) -> None:
        self._lifecycle = lifecycle

    async def __call__(self, contact_id: str, text: str) -> None:
        try:
            await self._lifecycle.triage_words(contact_id, text, "transcript")
        except ContactError as exc:  # a contact gone meanwhile: the words stay in the record
            log.warning(
                "caller's words not triaged: %s", exc.error_id, extra={"contact_id": contact_id}
            )
