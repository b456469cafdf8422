"""SQLModel table of the operator's workspace: quick replies an admin edits (migrated by 0013).

A quick reply is a short ready text an operator sends with one key (kk and ru each have their
own list, in `position` order)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field

from contact.persistence.tables import Base, UtcDateTime


class QuickReplyRow(Base, table=True):
    __tablename__ = "quick_replies"
    __table_args__ = (Index(None, "language", "position"),)

    id: str = Field(primary_key=True)
    language: str  # kk | ru
    label: str  # the button's short name
    text: str = Field(sa_column=Column(Text, nullable=False))
    position: int
    updated_at: datetime = Field(sa_type=UtcDateTime)
    updated_by: str
