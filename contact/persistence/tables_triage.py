"""SQLModel tables of the triage lexicon as an admin edited it (contact/triage).

Migrated by revision 0010. No row in `triage_lexicon_state`: the lexicon was never edited and
the packaged one (contact/triage/lexicon.toml) is in use. After the first edit the entries are
all here, and `version` (+1 per edit) tells every node whether its copy is current.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field

from contact.persistence.tables import Base, UtcDateTime


class TriageLexiconRow(Base, table=True):
    __tablename__ = "triage_lexicon"

    lang: str = Field(primary_key=True)  # ru | kk
    category: str = Field(primary_key=True)  # contact.domain.triage.Category value
    term: str = Field(primary_key=True)  # normalised (contact.triage.lexicon.normalise_term)
    weight: float


class TriageLexiconStateRow(Base, table=True):
    __tablename__ = "triage_lexicon_state"

    id: int = Field(primary_key=True)  # always 1
    version: int
    edited_at: datetime = Field(sa_type=UtcDateTime)
    edited_by: str
