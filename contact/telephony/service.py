"""Telephony, assembled: the AMI link, call control, the voice service, recordings and
supervision, as one background service of the container (contact.telephony.PLUGIN)."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from contact.persistence.calls import SqlCallRepository
from contact.telephony.ami import AmiClient
from contact.telephony.call_control import AmiCallControl
from contact.telephony.recordings import RecordingService
from contact.telephony.spy import SpyService
from contact.telephony.voice import VoiceService

if TYPE_CHECKING:
    from contact.bootstrap import Container

log = logging.getLogger(__name__)


def ami_secret(container: Container) -> str:
    """CONTACT_ASTERISK_AMI_SECRET, or the one `contact asterisk up` generated for its run
    directory (secrets.json, 0600, same machine)."""
    s = container.settings.asterisk
    if s.ami_secret is not None:
        return s.ami_secret.get_secret_value()
    path = s.effective_run_dir.expanduser() / "secrets.json"
    try:
        return str(json.loads(path.read_text())["ami"])
    except (OSError, ValueError, KeyError):
        log.error("no AMI secret: set CONTACT_ASTERISK_AMI_SECRET or run `contact asterisk up`")
        return ""


class Telephony:
    def __init__(self, container: Container) -> None:
        s = container.settings
        # the calls repository shares the database's engine (one connection pool)
        self.calls = SqlCallRepository(container.db._store)
        self.recordings = RecordingService(
            settings=s.asterisk,
            calls=self.calls,
            audit=container.db.audit,
            bus=container.bus,
            clock=container.clock,
        )
        self.ami = AmiClient(s.asterisk, ami_secret(container), self._event, on_link=self._link)
        self.control = AmiCallControl(self.ami, s.asterisk)
        self.voice = VoiceService(
            settings=s,
            bus=container.bus,
            contacts=container.db.contacts,
            operators=container.db.operators,
            calls=self.calls,
            control=self.control,
            routing=container.routing,
            clock=container.clock,
            on_recording_closed=self.recordings.closed,
        )
        self.voice.register(container.bus)
        self.spy = SpyService(
            control=self.control,
            audit=container.db.audit,
            bus=container.bus,
            on_leg=self.voice.own_leg,
        )

    def _event(self, event: dict[str, str]) -> None:
        self.voice.on_ami_event(event)

    def _link(self, up: bool) -> None:
        self.voice.on_link(up)

    async def start(self) -> None:
        await self.voice.start()
        await self.ami.start()

    async def stop(self) -> None:
        await self.ami.stop()
        await self.voice.stop()

    def status(self) -> dict[str, Any]:
        return {
            "status": "up" if self.ami.connected else "down",
            "connections": self.ami.connects,
            "last_login_at": self.ami.last_login_at,
            "last_lost_at": self.ami.last_lost_at,
            "resyncs": self.voice.resyncs,
            "last_resync_at": self.voice.last_resync_at,
            "live_calls": len(self.voice.live_calls()),
        }
