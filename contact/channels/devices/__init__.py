"""The device channels' shared part: one intake for app SOS, kiosks, school alarms and camera
alerts (OpenOrJoinContact: join the open contact of the source or open a new one with its
source, decided by the database on every node at once), and GET .../contacts/{id}/source.

Each device channel (contact.channels.app, .kiosk, .alarm, .camera) parses its requests and
dispatches this command; none decides join-or-open itself."""

from __future__ import annotations

from contact.channels.devices import sources
from contact.channels.devices.intake import DeviceIntake
from contact.channels.devices.store import SqlDeviceIntake
from contact.config import Settings
from contact.context import Container, Plugin


def _enabled(settings: Settings) -> bool:
    return (
        settings.kiosk.enabled
        or settings.alarm.enabled
        or settings.camera.enabled
        or settings.app.enabled
    )


def _install(container: Container) -> None:
    DeviceIntake(
        store=SqlDeviceIntake(container.db.store),
        contacts=container.db.contacts,
        lifecycle=container.lifecycle,
        bus=container.bus,
    ).register(container.bus)


PLUGIN = Plugin(
    name="devices",
    enabled=_enabled,
    install=_install,
    routes=sources.routes,
    openapi=sources.PATHS,
    uses=("dispatch",),  # dispatch's snapshot proxy for an alert's still, when on
    switch="CONTACT_KIOSK_ENABLED, _ALARM_ENABLED, _CAMERA_ENABLED, _APP_ENABLED",
)
