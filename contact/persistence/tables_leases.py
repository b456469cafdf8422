"""SQLModel table for leases: which node does a job only one node may do (the telephony driver
of an Asterisk, contact/telephony/leadership.py).

Migrated by revision 0006. Times are seconds since the epoch by the database's clock (a float,
so that the expiry is plain arithmetic in SQL on SQLite and PostgreSQL alike); no node's own
clock is ever compared with another's.
"""

from __future__ import annotations

from sqlmodel import Field

from contact.persistence.tables import Base


class LeaseRow(Base, table=True):
    __tablename__ = "leases"

    name: str = Field(primary_key=True)  # telephony:<ami host>:<ami port>
    holder: str | None = None  # None: released
    epoch: int  # +1 whenever the holder changes: a fencing token
    acquired_at: float  # by the current holder
    renewed_at: float
    expires_at: float
