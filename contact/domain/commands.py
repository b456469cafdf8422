"""Imperative commands: what an operator or a channel asks the center to do.

A command has exactly one handler and fails loud: the caller sees the error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from contact.domain.model import Attachment, ChannelKind, Language, Location, Presence


@dataclass(frozen=True, kw_only=True)
class Command:
    name: ClassVar[str] = "command"

    @property
    def key(self) -> str | None:
        return getattr(self, "contact_id", None)


@dataclass(frozen=True, kw_only=True)
class RegisterContact(Command):
    """A channel hands over a new contact; it is stored before this command returns."""

    name: ClassVar[str] = "register_contact"
    channel: ChannelKind
    text: str
    language: Language | None = None
    citizen: str | None = None
    location: Location | None = None
    attachments: tuple[tuple[Attachment, bytes], ...] = ()
    external_id: str | None = None  # the channel's own message / idempotency key
    information_only: bool = False


@dataclass(frozen=True, kw_only=True)
class Accept(Command):
    name: ClassVar[str] = "accept"
    contact_id: str
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class Decline(Command):
    name: ClassVar[str] = "decline"
    contact_id: str
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class Reply(Command):
    name: ClassVar[str] = "reply"
    contact_id: str
    operator_id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class Close(Command):
    name: ClassVar[str] = "close"
    contact_id: str
    operator_id: str
    disposition: str | None = None
    wrap_up: bool = False  # go through wrap-up instead of closing at once


@dataclass(frozen=True, kw_only=True)
class Abandon(Command):
    name: ClassVar[str] = "abandon"
    contact_id: str


@dataclass(frozen=True, kw_only=True)
class UpdateLocation(Command):
    name: ClassVar[str] = "update_location"
    contact_id: str
    location: Location


@dataclass(frozen=True, kw_only=True)
class SetPresence(Command):
    name: ClassVar[str] = "set_presence"
    operator_id: str
    presence: Presence


@dataclass(frozen=True, kw_only=True)
class AssignNext(Command):
    """Pair waiting contacts with ready operators until one side runs out."""

    name: ClassVar[str] = "assign_next"
