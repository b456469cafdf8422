"""JSON shapes of contacts, messages and operators, shared by the REST API, the WebSocket
topics and the pages. `public_*` carry no citizen data; `detail` does (its readers audit)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from contact.domain.events import ContactQueued
from contact.domain.model import (
    Attachment,
    Contact,
    ContactState,
    Location,
    Message,
    MessageDirection,
)
from contact.domain.triage import Verdict
from contact.ports import OperatorStatus


def iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def location_json(location: Location | None) -> dict[str, Any] | None:
    if location is None:
        return None
    return {
        "lat": location.lat,
        "lon": location.lon,
        "accuracy_m": location.accuracy_m,
        "source": location.source.value,
        "address": location.address,
    }


def public_contact(contact: Contact) -> dict[str, Any]:
    """What every operator's queue shows: no text, number or location."""
    return {
        "id": contact.id,
        "channel": contact.channel.value,
        "priority": int(contact.priority),
        "priority_name": contact.priority.name.lower(),
        "language": contact.language.value if contact.language else None,
        "state": contact.state.value,
        "operator_id": contact.operator_id,
        "created_at": iso(contact.created_at),
        "queued_at": iso(contact.queued_at),
        "answered_at": iso(contact.answered_at),
        "closed_at": iso(contact.closed_at),
        "wrapped_up_at": iso(contact.wrapped_up_at),
        "has_location": contact.location is not None,
    }


def queued_view(event: ContactQueued) -> dict[str, Any]:
    """public_contact() of a contact just queued, from its event (a test keeps them equal)."""
    return {
        "id": event.contact_id,
        "channel": event.channel.value,
        "priority": int(event.priority),
        "priority_name": event.priority.name.lower(),
        "language": event.language.value if event.language else None,
        "state": ContactState.QUEUED.value,
        "operator_id": None,
        "created_at": iso(event.created_at),
        "queued_at": iso(event.queued_at),
        "answered_at": None,
        "closed_at": None,
        "wrapped_up_at": None,
        "has_location": event.has_location,
    }


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "direction": message.direction.value,
        "text": message.text,
        "author": message.author,
        "created_at": iso(message.created_at),
    }


def attachment_json(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.id,
        "media_type": attachment.media_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "filename": attachment.filename,
    }


def detail(
    contact: Contact,
    messages: list[Message] | None = None,
    attachments: list[Attachment] | None = None,
) -> dict[str, Any]:
    body = public_contact(contact)
    body.update(
        citizen=contact.citizen,
        summary=contact.summary,
        location=location_json(contact.location),
        disposition=contact.disposition,
        incident_id=contact.incident_id,
    )
    if messages is not None:
        body["messages"] = [message_json(m) for m in messages]
    if attachments is not None:
        body["attachments"] = [attachment_json(a) for a in attachments]
    return body


def mark_keywords(
    body: dict[str, Any], messages: list[Message], analyse: Callable[[str], Verdict]
) -> None:
    """Each inbound message of a contact's detail with alarming words gets
    `keyword: {category, words}` (the page highlights them); the contact gets its latest."""
    by_id = {m["id"]: m for m in body.get("messages", [])}
    for message in messages:
        if message.direction is not MessageDirection.INBOUND or message.id not in by_id:
            continue
        verdict = analyse(message.text)
        if verdict.alarming and verdict.category is not None:
            mark = {"category": verdict.category.value, "words": list(verdict.words)}
            by_id[message.id]["keyword"] = mark
            body["keyword"] = mark


def operator_status_json(status: OperatorStatus, now: float) -> dict[str, Any]:
    return {
        "operator_id": status.operator_id,
        "presence": status.presence.value,
        "for_s": round(max(0.0, now - status.since), 1),
        "contact_id": status.contact_id,
        "languages": sorted(lang.value for lang in status.skills.languages),
        "capabilities": sorted(cap.value for cap in status.skills.capabilities),
    }
