"""The one list of pluggable parts (part of the composition root): every intake channel,
telephony (then transcription, which requires it) and dispatch. Each package exposes `PLUGIN`
(the type lives in the kernel, `contact.context`); config switches it on. Bootstrap installs
the enabled ones (bus subscriptions, background services, parts provided to the container),
the HTTP app mounts their `routes`, and the OpenAPI document merges their `openapi` paths."""

from __future__ import annotations

from contact.channels.alarm import PLUGIN as ALARM
from contact.channels.app import PLUGIN as APP
from contact.channels.camera import PLUGIN as CAMERA
from contact.channels.devices import PLUGIN as DEVICES
from contact.channels.kiosk import PLUGIN as KIOSK
from contact.channels.telegram import PLUGIN as TELEGRAM
from contact.channels.whatsapp import PLUGIN as WHATSAPP
from contact.config import Settings
from contact.context import Plugin, resolve
from contact.dispatch.plugin import PLUGIN as DISPATCH
from contact.telephony import PLUGIN as TELEPHONY
from contact.transcribe import PLUGIN as TRANSCRIBE

PLUGINS: tuple[Plugin, ...] = (
    DEVICES,
    APP,
    DISPATCH,
    KIOSK,
    ALARM,
    CAMERA,
    TELEGRAM,
    WHATSAPP,
    TELEPHONY,
    TRANSCRIBE,
)


def all_plugins() -> tuple[Plugin, ...]:
    return PLUGINS


def enabled_plugins(settings: Settings) -> tuple[Plugin, ...]:
    """The plugins this configuration switches on, each after what it requires; a ConfigError
    when one is on without a plugin it requires."""
    return resolve(PLUGINS, settings)
