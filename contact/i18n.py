"""Texts a citizen or an operator reads, in Kazakh and Russian (both first-class).

One catalogue, keyed by a stable id. `text(key, lang)` falls back to Russian, then Kazakh, so a
missing translation shows the other official language rather than a key.
"""

from __future__ import annotations

from contact.domain.model import Language

DEFAULT_LANGUAGE = Language.RU

CATALOGUE: dict[str, dict[Language, str]] = {
    # --- citizen-facing statuses -----------------------------------------------------------
    "status.queued": {
        Language.RU: "Обращение принято. Ожидайте ответа оператора.",
        Language.KK: "Өтініш қабылданды. Оператордың жауабын күтіңіз.",
    },
    "status.in_progress": {
        Language.RU: "Оператор работает с вашим обращением.",
        Language.KK: "Оператор сіздің өтінішіңізбен жұмыс істеп жатыр.",
    },
    "status.closed": {
        Language.RU: "Обращение закрыто.",
        Language.KK: "Өтініш жабылды.",
    },
    "status.withdrawn": {
        Language.RU: "Обращение отозвано.",
        Language.KK: "Өтініш кері қайтарылды.",
    },
    "citizen.danger": {
        Language.RU: "Если жизнь в опасности — звоните 102.",
        Language.KK: "Өмірге қауіп төнсе — 102 нөміріне қоңырау шалыңыз.",
    },
    # --- operator and supervisor pages -----------------------------------------------------
    "ui.title": {Language.RU: "Контакт-центр 102", Language.KK: "102 байланыс орталығы"},
    "ui.login": {Language.RU: "Вход", Language.KK: "Кіру"},
    "ui.username": {Language.RU: "Логин", Language.KK: "Логин"},
    "ui.password": {Language.RU: "Пароль", Language.KK: "Құпиясөз"},
    "ui.logout": {Language.RU: "Выйти", Language.KK: "Шығу"},
    "ui.login_failed": {
        Language.RU: "Неверный логин или пароль.",
        Language.KK: "Логин немесе құпиясөз қате.",
    },
    "ui.login_throttled": {
        Language.RU: "Слишком много попыток. Подождите минуту.",
        Language.KK: "Әрекет тым көп. Бір минут күтіңіз.",
    },
    "ui.queue": {Language.RU: "Очередь", Language.KK: "Кезек"},
    "ui.queue_empty": {Language.RU: "Очередь пуста", Language.KK: "Кезек бос"},
    "ui.presence": {Language.RU: "Статус", Language.KK: "Мәртебе"},
    "ui.ready": {Language.RU: "Готов", Language.KK: "Дайын"},
    "ui.away": {Language.RU: "Отошёл", Language.KK: "Орнында жоқ"},
    "ui.busy": {Language.RU: "Занят", Language.KK: "Бос емес"},
    "ui.offered": {Language.RU: "Предложено", Language.KK: "Ұсынылды"},
    "ui.wrap_up": {Language.RU: "Постобработка", Language.KK: "Өңдеу"},
    "ui.offer": {Language.RU: "Новое обращение", Language.KK: "Жаңа өтініш"},
    "ui.accept": {Language.RU: "Принять", Language.KK: "Қабылдау"},
    "ui.decline": {Language.RU: "Отклонить", Language.KK: "Бас тарту"},
    "ui.reply": {Language.RU: "Ответить", Language.KK: "Жауап беру"},
    "ui.reply_placeholder": {Language.RU: "Ответ гражданину…", Language.KK: "Азаматқа жауап…"},
    "ui.close": {Language.RU: "Закрыть обращение", Language.KK: "Өтінішті жабу"},
    "ui.current": {Language.RU: "Текущее обращение", Language.KK: "Ағымдағы өтініш"},
    "ui.waiting": {Language.RU: "Ожидает", Language.KK: "Күтуде"},
    "ui.channel": {Language.RU: "Канал", Language.KK: "Арна"},
    "ui.priority": {Language.RU: "Приоритет", Language.KK: "Басымдық"},
    "ui.language": {Language.RU: "Язык", Language.KK: "Тіл"},
    "ui.location": {Language.RU: "Местоположение", Language.KK: "Орналасқан жері"},
    "ui.citizen": {Language.RU: "Заявитель", Language.KK: "Өтініш беруші"},
    "ui.supervisor": {Language.RU: "Супервизор", Language.KK: "Супервайзер"},
    "ui.depth": {Language.RU: "В очереди", Language.KK: "Кезекте"},
    "ui.longest_wait": {Language.RU: "Дольше всех ждёт", Language.KK: "Ең ұзақ күтуде"},
    "ui.operators": {Language.RU: "Операторы", Language.KK: "Операторлар"},
    "ui.answered_sla": {
        Language.RU: "Отвечено за 10 с",
        Language.KK: "10 с ішінде жауап берілді",
    },
    "ui.sla_breach": {Language.RU: "Превышено время ожидания", Language.KK: "Күту уақыты асты"},
    "ui.connection_lost": {
        Language.RU: "Связь потеряна, переподключение…",
        Language.KK: "Байланыс үзілді, қайта қосылуда…",
    },
    "priority.alarm": {Language.RU: "Тревога", Language.KK: "Дабыл"},
    "priority.sos": {Language.RU: "SOS", Language.KK: "SOS"},
    "priority.voice": {Language.RU: "Звонок", Language.KK: "Қоңырау"},
    "priority.video": {Language.RU: "Видео", Language.KK: "Бейне"},
    "priority.chat": {Language.RU: "Сообщение", Language.KK: "Хабарлама"},
    "priority.info": {Language.RU: "Справка", Language.KK: "Анықтама"},
}


def text(key: str, language: Language | str | None) -> str:
    entry = CATALOGUE[key]
    try:
        lang = Language(language) if language else DEFAULT_LANGUAGE
    except ValueError:
        lang = DEFAULT_LANGUAGE
    return entry.get(lang) or entry.get(Language.RU) or entry[Language.KK]
