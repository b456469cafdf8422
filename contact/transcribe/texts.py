"""The texts of transcription: Kazakh and Russian, and English where staff read them. The
plugin declares them; the catalogue (contact.i18n) takes them in when the package is imported."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "transcript.partials_dropped": {
        "ru": "Расшифровка отстаёт: показываются только готовые фразы",
        "kk": "Мәтінге айналдыру кешігіп жатыр: тек дайын сөйлемдер көрсетіледі",
        "en": "The transcript lags: only finished phrases are shown",
    },
    "transcript.stopped": {
        "ru": "Расшифровка этого участника остановлена: сервер не успевает",
        "kk": "Бұл қатысушының мәтіні тоқтатылды: сервер үлгермейді",
        "en": "This party’s transcript stopped: the server cannot keep up",
    },
    "transcript.refused": {
        "ru": "Расшифровка недоступна: все места распознавания заняты",
        "kk": "Мәтінге айналдыру қолжетімсіз: тану орындарының бәрі бос емес",
        "en": "No transcript: every recognition slot is taken",
    },
    "transcript.no_model": {
        "ru": "Расшифровка недоступна: модель языка не установлена",
        "kk": "Мәтінге айналдыру қолжетімсіз: тіл моделі орнатылмаған",
        "en": "No transcript: the language model is not installed",
    },
    "transcript.tap_failed": {
        "ru": "Расшифровка недоступна: звук звонка не получен",
        "kk": "Мәтінге айналдыру қолжетімсіз: қоңырау дыбысы алынбады",
        "en": "No transcript: the call’s audio did not arrive",
    },
    "transcript.failed": {
        "ru": "Расшифровка прервалась из-за ошибки",
        "kk": "Мәтінге айналдыру қатеге байланысты үзілді",
        "en": "The transcript stopped on an error",
    },
    "transcript.not_stored": {
        "ru": "Фраза расшифровки не сохранена",
        "kk": "Мәтін сөйлемі сақталмады",
        "en": "A transcript phrase was not saved",
    },
    "ui.transcript_caller": {"ru": "Заявитель", "kk": "Қоңырау шалушы", "en": "Caller"},
    "ui.transcript_operator": {"ru": "Оператор", "kk": "Оператор", "en": "Operator"},
    "ui.transcript_empty": {
        "ru": "Пока ничего не распознано",
        "kk": "Әзірге ештеңе танылмады",
        "en": "Nothing recognised yet",
    },
    "ui.transcript_show": {"ru": "Транскрипт", "kk": "Транскрипт", "en": "Transcript"},
    "ui.transcript_search": {
        "ru": "Поиск по транскриптам",
        "kk": "Транскрипттерден іздеу",
        "en": "Search the transcripts",
    },
    "ui.transcript_search_go": {"ru": "Найти", "kk": "Іздеу", "en": "Search"},
    "ui.transcript_search_none": {
        "ru": "Ничего не найдено",
        "kk": "Ештеңе табылмады",
        "en": "Nothing found",
    },
    "transcript.recovered": {
        "ru": "Расшифровка снова идёт в реальном времени",
        "kk": "Мәтінге айналдыру қайтадан нақты уақытта жүріп жатыр",
        "en": "The transcript is live again",
    },
}
