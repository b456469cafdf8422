"""The edges of one run, opened before the traffic and closed after it: the devices and
units registered, the messengers' stand-ins listening where the center calls them. Whatever
cannot be opened is said (`notes`) and its channel is carried by the app edge."""

from __future__ import annotations

import asyncio
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp

from contact.config import Settings
from contact.simulate.edges import Edge
from contact.simulate.edges.camera import ALERT_KINDS, CameraEdge, register_cameras
from contact.simulate.edges.chat import TelegramEdge, WhatsAppEdge, open_telegram, open_whatsapp
from contact.simulate.edges.devices import AlarmEdge, KioskEdge, register
from contact.simulate.edges.units import Units, register_units
from contact.simulate.scenario import Scenario
from contact.simulate.traffic import Arrival


async def _none() -> None:
    return None


@dataclass
class OpenEdges:
    run: str
    session: aiohttp.ClientSession
    by_channel: dict[str, TelegramEdge | WhatsAppEdge | KioskEdge | AlarmEdge | CameraEdge] = field(
        default_factory=dict
    )
    notes: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)  # how this run's citizens begin
    units: Units | None = None
    dispatch_after_s: float | None = None

    def edges(self, stop_at: float) -> dict[str, Edge]:
        """The edges, each trying until `stop_at` (monotonic)."""
        for edge in self.by_channel.values():
            edge.stop_at = stop_at
        if self.units is not None:
            self.units.stop_at = stop_at
        edges: dict[str, Edge] = {channel: e for channel, e in self.by_channel.items()}
        return edges

    def replies(self) -> dict[str, int]:
        """What the center sent its chat citizens, as the stand-ins took it, per messenger."""
        return {
            channel: len(edge.standin.sent)
            for channel, edge in self.by_channel.items()
            if isinstance(edge, TelegramEdge | WhatsAppEdge)
        }

    def on_dispatch(self, unit_id: str, eta_s: float | None) -> None:
        if self.units is not None:
            self.units.dispatched(unit_id, eta_s)

    async def retire_units(self) -> None:
        """The units' last fixes and their out-of-service reports (before the accounting)."""
        if self.units is not None:
            await self.units.close()

    async def close(self) -> None:
        await self.retire_units()
        for edge in self.by_channel.values():
            if isinstance(edge, TelegramEdge | WhatsAppEdge):
                await edge.standin.stop()
        await self.session.close()


async def open_edges(
    scenario: Scenario,
    arrivals: Sequence[Arrival],
    bases: Sequence[str],
    settings: Settings,
    run: str,
    speed: float,
    seed: int,
    env: Mapping[str, str] | None = None,
) -> OpenEdges:
    """Every edge the run's traffic needs, as far as the center allows it (`settings`: the
    center's; `env`: its CONTACT_* environment for the registries' CLI, else this command's)."""
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    opened = OpenEdges(run, session, prefixes=[run])
    channels = {a.channel for a in arrivals}
    try:
        if "telegram" in channels:
            tag = zlib.crc32(run.encode())  # the run's chat ids: 9 + 6 digits of it + n
            telegram, why = await open_telegram(session, bases, settings.telegram, tag, math.inf)
            if telegram is None:
                opened.notes.append(f"telegram carried by the app edge: {why}")
            else:
                opened.by_channel["telegram"] = telegram
                opened.prefixes.append(telegram.prefix)
        if "whatsapp" in channels:
            whatsapp, why = await open_whatsapp(session, bases, settings.whatsapp, run, math.inf)
            if whatsapp is None:
                opened.notes.append(f"whatsapp carried by the app edge: {why}")
            else:
                opened.by_channel["whatsapp"] = whatsapp
        # the registries' imports are processes of their own: run side by side
        wanted_units = scenario.units is not None and settings.dispatch.enabled
        d = settings.dispatch
        mqtt = None if d.mqtt_url is None else (d.mqtt_url.get_secret_value(), d.mqtt_topic_prefix)
        camera_key = next(iter(sorted(settings.camera.keys())), None)
        cameras_on = settings.camera.enabled and camera_key is not None
        kiosks, sites, cameras, units = await asyncio.gather(
            register(arrivals, "kiosk", run, env) if settings.kiosk.enabled else _none(),
            register(arrivals, "alarm", run, env) if settings.alarm.enabled else _none(),
            register_cameras(arrivals, run, env) if cameras_on else _none(),
            register_units(session, bases, scenario, run, speed, seed, env, mqtt)
            if wanted_units
            else _none(),
        )
        if kiosks:
            opened.by_channel["kiosk"] = KioskEdge(session, bases, kiosks, math.inf)
            opened.prefixes.append(f"kiosk:{run}")
        elif "kiosk" in channels:
            opened.notes.append("kiosk carried by the app edge: CONTACT_KIOSK_ENABLED=false")
        if sites:
            opened.by_channel["alarm"] = AlarmEdge(session, bases, sites, math.inf)
            opened.prefixes.append(f"site:{run}")
        elif "alarm" in channels:
            opened.notes.append("alarm carried by the app edge: CONTACT_ALARM_ENABLED=false")
        if cameras and camera_key is not None:
            thresholds = {
                kind: settings.camera.threshold(kind)
                for kinds in ALERT_KINDS.values()
                for kind in kinds
            }
            opened.by_channel["camera"] = CameraEdge(
                session, bases, camera_key, cameras, thresholds, math.inf
            )
            opened.prefixes.append(f"camera:{run}")
        elif "camera" in channels:
            off = "CONTACT_CAMERA_ENABLED=false" if not settings.camera.enabled else ""
            opened.notes.append(
                f"camera carried by the app edge: {off or 'no CONTACT_CAMERA_API_KEYS'}"
            )
        opened.units = units
        if units is not None and scenario.units is not None:
            opened.dispatch_after_s = scenario.units.dispatch_s
        elif scenario.units is not None:
            opened.notes.append("no units dispatched: CONTACT_DISPATCH_ENABLED=false")
    except BaseException:
        await opened.close()
        raise
    return opened
