"""The texts of the camera alert channel: Kazakh and Russian, and English where staff read them. The
plugin declares them; the catalogue (contact.i18n) takes them in when the package is imported."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "camera.alert": {
        "ru": "Видеоаналитика: {kind}, камера {camera}, уверенность {confidence}",
        "kk": "Бейнеталдау: {kind}, камера {camera}, сенімділік {confidence}",
    },
    "camera.repeat": {
        "ru": "Повтор: уверенность {confidence}, всего {count}",
        "kk": "Қайталау: сенімділік {confidence}, барлығы {count}",
    },
    "camera.kind.wanted_face": {"ru": "лицо из розыска", "kk": "іздеудегі адамның беті"},
    "camera.kind.wanted_plate": {"ru": "номер из розыска", "kk": "іздеудегі көлік нөмірі"},
    "camera.kind.weapon": {"ru": "оружие", "kk": "қару"},
    "camera.kind.aggression": {"ru": "агрессия", "kk": "агрессия"},
    "camera.kind.crowd": {"ru": "скопление людей", "kk": "адамдар тобы"},
}
