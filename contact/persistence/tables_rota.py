"""SQLModel table of the published staffing rota (migrated by 0017).

One row per hour of the week on the centre's clock (0 = Monday 00:00) and skill group: how
many operators that group needs on the lines then. `contact simulate SCENARIO --recommend
--publish` writes the hours its scenario covers (replacing what was there for them); the
supervisor page compares them with the operators logged in."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field

from contact.persistence.tables import Base, UtcDateTime


class RotaRow(Base, table=True):
    __tablename__ = "rota_hours"

    hour_of_week: int = Field(primary_key=True)  # 0..167, Monday 00:00 on the centre's clock
    skill_group: str = Field(primary_key=True)
    position: int  # the group's place in the scenario's list
    needed: int  # operators of this group on the lines
    languages: str  # "kk,ru": what the group's operators speak
    capabilities: str  # "chat,voice": what their workplaces take
    scenario: str  # the scenario the search ran on
    service_level: float  # what the simulator achieved with the whole rota (target kind)
    published_at: datetime = Field(sa_type=UtcDateTime)
    published_by: str  # the operator id on whose account it was published
