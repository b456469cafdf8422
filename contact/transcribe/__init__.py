"""Live transcription of calls: speech models, Vosk recognition, transcripts; the calls' audio
comes through telephony's call-audio seam (PLUGIN, on with CONTACT_TRANSCRIBE_ENABLED=true and
telephony on)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contact.config import Settings
from contact.context import Key, Plugin
from contact.telephony import TELEPHONY_PART
from contact.transcribe.texts import TEXTS

if TYPE_CHECKING:
    from aiohttp import web

    from contact.context import Container
    from contact.transcribe.service import Transcription
    from contact.transcribe.taps import CallTaps

# the running transcription (its store, its engine) and the taps riding on the calls
TRANSCRIPTION_PART: Key[Transcription] = Key("transcribe")
TAPS_PART: Key[CallTaps] = Key("transcribe_taps")


def _enabled(settings: Settings) -> bool:
    return settings.transcribe.enabled and settings.asterisk.enabled


class _Service:
    """The plugin's background part: the pool, and the taps riding on the calls."""

    def __init__(self, transcription: Transcription, taps: CallTaps) -> None:
        self._transcription = transcription
        self._taps = taps

    async def start(self) -> None:
        await self._transcription.start()

    async def stop(self) -> None:
        await self._taps.stop()
        await self._transcription.stop()


def _install(container: Container) -> None:
    from contact.persistence.transcripts import SqlTranscriptStore
    from contact.transcribe.alerts import CallerWords
    from contact.transcribe.engine import VoskEngine
    from contact.transcribe.projection import TranscriptProjection
    from contact.transcribe.service import Transcription
    from contact.transcribe.taps import CallTaps

    telephony = container.get(TELEPHONY_PART)  # required: the loader installed it first
    s = container.settings
    store = SqlTranscriptStore(container.db.store)
    audio = telephony.call_audio(s.transcribe, container.metrics.registry)
    transcription = Transcription(
        settings=s,
        engine=VoskEngine(s.models.dir),
        store=store,
        bus=container.bus,
        registry=container.metrics.registry,
        clock=container.clock,
        audio=audio,
        audio_health=audio.health,
    )
    transcription.on_caller_words = CallerWords(container.lifecycle)
    taps = CallTaps(transcription, audio)
    taps.register(container.bus)
    TranscriptProjection(container.broadcast).register(container.bus)
    container.services.append(_Service(transcription, taps))
    container.provide(TRANSCRIPTION_PART, transcription)
    container.provide(TAPS_PART, taps)


def _routes(app: web.Application) -> None:
    from contact.transcribe.routes import setup

    setup(app)


def _paths() -> dict[str, object]:
    from contact.transcribe.openapi import PATHS

    return PATHS


PLUGIN = Plugin(
    texts=TEXTS,
    name="transcribe",
    enabled=_enabled,
    install=_install,
    routes=_routes,
    openapi=_paths(),
    requires=("telephony",),
    switch="CONTACT_TRANSCRIBE_ENABLED",
)
