"""What chat citizens are told (Telegram, WhatsApp): in their language, in both (Kazakh
first) while it is not known."""

from __future__ import annotations

from contact.domain.model import Language
from contact.i18n import text


def report_number(contact_id: str) -> str:
    """What the citizen is told: short enough to read out on the phone, unique enough."""
    return contact_id[:8].upper()


def say(key: str, language: Language | None, **values: str) -> str:
    """A bot text in the citizen's language; in both (Kazakh first) while it is not known."""
    if language is not None:
        return text(key, language).format(**values)
    return "\n\n".join(text(key, lang).format(**values) for lang in (Language.KK, Language.RU))


def received_text(contact_id: str, language: Language | None) -> str:
    number = report_number(contact_id)
    if language is not None:
        return f"{say('chat.received', language, number=number)}\n{say('citizen.danger', language)}"
    return "\n\n".join(
        f"{say('chat.received', lang, number=number)}\n{say('citizen.danger', lang)}"
        for lang in (Language.KK, Language.RU)
    )


def greeting_text() -> str:
    return "\n\n".join(
        f"{say('chat.greeting', lang)}\n{say('citizen.danger', lang)}"
        for lang in (Language.KK, Language.RU)
    )


LANGUAGE_BUTTONS: list[list[dict[str, str]]] = [
    [
        {"text": text("chat.language_name", Language.KK), "data": "lang:kk"},
        {"text": text("chat.language_name", Language.RU), "data": "lang:ru"},
    ]
]
