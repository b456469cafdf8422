"""The texts of the school alarm channel: Kazakh and Russian, and English where staff read them. The
plugin declares them; the catalogue (contact.i18n) takes them in when the package is imported."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "alarm.text": {
        "ru": "Тревожная кнопка: {site}, зона «{zone}», {kind}",
        "kk": "Дабыл түймесі: {site}, «{zone}» аймағы, {kind}",
    },
    "alarm.repeat": {
        "ru": "Ещё одна тревога: зона «{zone}», {kind}",
        "kk": "Тағы бір дабыл: «{zone}» аймағы, {kind}",
    },
    "alarm.kind.panic": {"ru": "тревога", "kk": "дабыл"},
    "alarm.kind.intruder": {"ru": "посторонний", "kk": "бөгде адам"},
    "alarm.kind.weapon": {"ru": "оружие", "kk": "қару"},
    "alarm.kind.fire": {"ru": "пожар", "kk": "өрт"},
    "alarm.kind.medical": {"ru": "нужна медпомощь", "kk": "медициналық көмек"},
    "alarm.kind.other": {"ru": "другое", "kk": "басқа"},
}
