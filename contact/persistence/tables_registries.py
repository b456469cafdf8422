"""SQLModel tables for app devices, SOS kiosks, alarm sites, camera alerts (the device channels).

Migrated by revision 0005.

Secrets: a device token and an alarm site's key are stored only as their sha256 (they are
high-entropy random values, so a plain digest is enough, and looking one up by digest needs
no scan). A kiosk's HMAC key is stored as is: verifying an HMAC needs the key itself. Protect
the database (and its backups) accordingly; `contact kiosks key ID --rotate` replaces one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlmodel import Field, col

from contact.persistence.tables import HASH_LENGTH, Base, ContactRow, UtcDateTime

# A device's history and "is there an open SOS of this device" look contacts up by citizen.
# The index belongs to the contacts table but is created by revision 0005 with these tables.
CONTACTS_BY_CITIZEN = Index(
    "ix_contacts_citizen_created_at", col(ContactRow.citizen), col(ContactRow.created_at)
)


class DeviceRow(Base, table=True):
    __tablename__ = "app_devices"

    id: str = Field(primary_key=True)  # the app's own device id
    token_hash: str = Field(sa_type=String(HASH_LENGTH), unique=True)
    platform: str | None = None
    language: str | None = None
    registered_at: datetime = Field(sa_type=UtcDateTime)
    last_seen_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class KioskRow(Base, table=True):
    __tablename__ = "kiosks"

    id: str = Field(primary_key=True)
    name: str
    lat: float
    lon: float
    partner: str | None = None
    address: str | None = None
    sip_account: str | None = None
    camera_id: str | None = None
    hmac_key: str  # kept: an HMAC is verified with the key itself
    enabled: bool = True
    state: str = Field(default="unknown", index=True)  # unknown | online | offline
    last_heartbeat_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    state_changed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)


class KioskEventRow(Base, table=True):
    __tablename__ = "kiosk_events"
    __table_args__ = (Index(None, "kiosk_id", "received_at"),)

    id: str = Field(primary_key=True)
    kiosk_id: str = Field(foreign_key="kiosks.id", ondelete="CASCADE")
    kind: str
    received_at: datetime = Field(sa_type=UtcDateTime)
    reported_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    detail: str | None = None


class AlarmSiteRow(Base, table=True):
    __tablename__ = "alarm_sites"

    id: str = Field(primary_key=True)
    name: str
    kind: str = "school"
    lat: float
    lon: float
    address: str | None = None
    camera_ids: str = Field(default="[]", sa_type=Text)  # JSON list
    key_hash: str = Field(sa_type=String(HASH_LENGTH), unique=True)
    enabled: bool = True
    created_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)


class CameraAlertGroupRow(Base, table=True):
    """The current dedupe window of one (camera, kind, subject): repeats collapse into it."""

    __tablename__ = "camera_alert_groups"

    dedupe_key: str = Field(primary_key=True, sa_type=String(HASH_LENGTH))
    group_id: str = Field(unique=True)
    camera_id: str
    kind: str
    contact_id: str | None = None
    first_at: datetime = Field(sa_type=UtcDateTime)
    last_at: datetime = Field(sa_type=UtcDateTime)
    count: int = 1


class IntakeSourceRow(Base, table=True):
    """What a device contact came from, with the cameras attached to it."""

    __tablename__ = "intake_sources"

    contact_id: str = Field(primary_key=True, foreign_key="contacts.id", ondelete="CASCADE")
    kind: str  # device | kiosk | site | camera
    source_id: str = Field(index=True)
    camera_ids: str = Field(default="[]", sa_type=Text)  # JSON list
    details: str = Field(default="{}", sa_type=Text)  # JSON object, no citizen text


class OpenSourceContactRow(Base, table=True):
    """The contact a device source's next intake joins while it is open (the newest one the
    source opened): one row per source, so its primary key and a conditional update decide,
    across nodes and in the contact's own transaction, which intake opens the next contact
    (contact/channels/devices/store.py). Migrated by revision 0013."""

    __tablename__ = "device_open_contacts"

    source_key: str = Field(primary_key=True)  # kiosk:ID | site:ID | device:ID | camera-alert:G
    contact_id: str = Field(foreign_key="contacts.id", ondelete="CASCADE", index=True)


class SeenSignatureRow(Base, table=True):
    """Signed requests already accepted, until their timestamp leaves the window (replays)."""

    __tablename__ = "seen_signatures"

    digest: str = Field(primary_key=True, sa_type=String(HASH_LENGTH))
    expires_at: datetime = Field(sa_type=UtcDateTime, index=True)


__all__ = [
    "CONTACTS_BY_CITIZEN",
    "AlarmSiteRow",
    "CameraAlertGroupRow",
    "DeviceRow",
    "IntakeSourceRow",
    "KioskEventRow",
    "KioskRow",
    "OpenSourceContactRow",
    "SeenSignatureRow",
]
