"""Texts a citizen or an operator reads: Kazakh and Russian (both first-class) everywhere, and
English too on the operators' and supervisors' pages (a per-user choice, `UiLanguage`).

One catalogue, keyed by a stable id; each text is an ICU MessageFormat message: `{name}`,
`{count, plural, one {…} few {…} many {…} other {…}}` (CLDR plural forms of each language),
`{gender, select, female {…} male {…} other {…}}`. `message(key, lang, **values)` formats one on
the server (pyicumessageformat parses, babel gives the plural rules and numbers); the pages
format the same texts with intl-messageformat and Intl.* (web/static/common.js). Sentences are
never glued from pieces: a number, a form or a name goes into its message.

`text(key, lang)` returns a message unformatted and falls back to Russian, then Kazakh, so a
missing translation shows an official language rather than a key; `catalogue_problems()` (run
by tests/unit/test_i18n.py) names every key that lacks a language, or whose placeholders or
plural forms do not match.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.numbers import format_decimal
from pyicumessageformat import Parser  # type: ignore[import-untyped]

from contact.domain.model import Language, UiLanguage

DEFAULT_LANGUAGE = Language.RU

# Language and UiLanguage are StrEnums: Language.RU, UiLanguage.RU and "ru" are one dict key
CATALOGUE: dict[str, dict[str, str]] = {
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
        Language.RU: "Слишком много неудачных попыток с этого компьютера. Повторите позже.",
        Language.KK: "Бұл компьютерден сәтсіз әрекет тым көп. Кейінірек қайталаңыз.",
    },
    "ui.queue": {Language.RU: "Очередь", Language.KK: "Кезек"},
    "ui.queue_empty": {Language.RU: "Очередь пуста", Language.KK: "Кезек бос"},
    "ui.presence": {Language.RU: "Статус", Language.KK: "Мәртебе"},
    # buttons: what the operator does (neutral); her state reads `presence.*`, in her form
    "ui.ready": {Language.RU: "Начать приём", Language.KK: "Дайын"},
    "ui.away": {Language.RU: "Отойти", Language.KK: "Орнынан кету"},
    "ui.busy": {Language.RU: "Работает с обращением", Language.KK: "Бос емес"},
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
    # --- the operator's browser softphone ----------------------------------------------------
    # --- error pages (contact/http/error_pages.py) and the demo's voice line ----------------
    "ui.error_400": {Language.RU: "Неверный запрос", Language.KK: "Сұрау қате"},
    "ui.error_400_text": {
        Language.RU: "Сервер не смог понять запрос. Вернитесь назад и попробуйте ещё раз.",
        Language.KK: "Сервер сұрауды түсінбеді. Артқа қайтып, қайта көріңіз.",
    },
    "ui.error_403": {Language.RU: "Нет доступа", Language.KK: "Рұқсат жоқ"},
    "ui.error_403_text": {
        Language.RU: "У вашей учётной записи нет прав на эту страницу.",
        Language.KK: "Сіздің тіркелгіңізде бұл бетке құқық жоқ.",
    },
    "ui.error_404": {Language.RU: "Страница не найдена", Language.KK: "Бет табылмады"},
    "ui.error_404_text": {
        Language.RU: "Такой страницы нет. Проверьте адрес.",
        Language.KK: "Мұндай бет жоқ. Мекенжайды тексеріңіз.",
    },
    "ui.error_405": {Language.RU: "Действие недоступно", Language.KK: "Әрекет қолжетімсіз"},
    "ui.error_405_text": {
        Language.RU: "Эта страница так не открывается. Вернитесь назад.",
        Language.KK: "Бұл бет бұлай ашылмайды. Артқа қайтыңыз.",
    },
    "ui.error_413": {Language.RU: "Слишком большой запрос", Language.KK: "Сұрау тым үлкен"},
    "ui.error_413_text": {
        Language.RU: "Отправленные данные слишком велики.",
        Language.KK: "Жіберілген деректер тым үлкен.",
    },
    "ui.error_429": {Language.RU: "Слишком много попыток", Language.KK: "Тым көп әрекет"},
    "ui.error_429_text": {
        Language.RU: "Подождите немного и попробуйте снова.",
        Language.KK: "Сәл күтіп, қайта көріңіз.",
    },
    "ui.error_500": {Language.RU: "Внутренняя ошибка", Language.KK: "Ішкі қате"},
    "ui.error_500_text": {
        Language.RU: "Что-то пошло не так на сервере. Ошибка записана; попробуйте ещё раз.",
        Language.KK: "Серверде қате шықты. Қате жазылды; қайта көріңіз.",
    },
    "ui.error_503": {Language.RU: "Сервис недоступен", Language.KK: "Қызмет қолжетімсіз"},
    "ui.error_503_text": {
        Language.RU: "Часть системы сейчас недоступна. Попробуйте через минуту.",
        Language.KK: "Жүйенің бір бөлігі қазір қолжетімсіз. Бір минуттан кейін көріңіз.",
    },
    "ui.error_home": {Language.RU: "На главную", Language.KK: "Басты бетке"},
    # --- dispatch (web/static/dispatch.js, dispatch-supervisor.js) ------------------------
    # --- the dispatch panel's map (web/static/dispatch-map.js) ----------------------------
    "priority.alarm": {Language.RU: "Тревога", Language.KK: "Дабыл"},
    "priority.sos": {Language.RU: "SOS", Language.KK: "SOS"},
    "priority.voice": {Language.RU: "Звонок", Language.KK: "Қоңырау"},
    "priority.video": {Language.RU: "Видео", Language.KK: "Бейне"},
    "priority.chat": {Language.RU: "Сообщение", Language.KK: "Хабарлама"},
    "priority.info": {Language.RU: "Справка", Language.KK: "Анықтама"},
    # triage: the keyword badge on a queue row, a contact and the supervisor's events
    "ui.keyword": {Language.RU: "Тревожные слова", Language.KK: "Қауіпті сөздер"},
    "ui.keyword_raised": {Language.RU: "поднято в очереди", Language.KK: "кезекте көтерілді"},
    "ui.kw_weapon": {Language.RU: "Оружие", Language.KK: "Қару"},
    "ui.kw_fire": {Language.RU: "Пожар", Language.KK: "Өрт"},
    "ui.kw_violence": {Language.RU: "Насилие", Language.KK: "Зорлық-зомбылық"},
    "ui.kw_injured": {Language.RU: "Пострадавший", Language.KK: "Зардап шеккен"},
    "ui.kw_child": {Language.RU: "Ребёнок в опасности", Language.KK: "Бала қауіпте"},
    "ui.kw_hostage": {Language.RU: "Заложники", Language.KK: "Кепілдегілер"},
    "ui.kw_explosion": {Language.RU: "Взрыв", Language.KK: "Жарылыс"},
    "ui.kw_road_accident": {
        Language.RU: "ДТП с пострадавшими",
        Language.KK: "Зардап шеккен жол апаты",
    },
}


# --- device channels: what operators read about kiosk, alarm, camera and app SOS contacts ---
CATALOGUE.update(
    {
        "sos.app": {
            Language.RU: "SOS из мобильного приложения",
            Language.KK: "Мобильді қосымшадан SOS",
        },
        "kiosk.sos": {
            Language.RU: "SOS: нажата кнопка киоска «{name}»",
            Language.KK: "SOS: «{name}» киоскінің түймесі басылды",
        },
    }
)


# --- chat channels (Telegram, WhatsApp): what the bot tells citizens, labels operators read ---
CATALOGUE.update(
    {
        "chat.greeting": {
            Language.RU: "Здравствуйте! Это чат полиции 102. Выберите язык.",
            Language.KK: "Сәлеметсіз бе! Бұл 102 полиция чаты. Тілді таңдаңыз.",
        },
        "chat.language_set": {
            Language.RU: "Язык: русский. Опишите, что случилось. Можно отправить геопозицию, "
            "фото, видео, голосовое сообщение или документ.",
            Language.KK: "Тіл: қазақша. Не болғанын жазыңыз. Геолокацияны, фото, бейне, "
            "дауыстық хабарлама немесе құжат жіберуге болады.",
        },
        "chat.received": {
            Language.RU: "Ваше обращение № {number} принято. Оператор скоро ответит.",
            Language.KK: "Сіздің № {number} өтінішіңіз қабылданды. Оператор жақында жауап береді.",
        },
        "chat.accepted": {
            Language.RU: "Оператор принял ваше обращение № {number}.",
            Language.KK: "Оператор № {number} өтінішіңізді қабылдады.",
        },
        "chat.dispatched": {
            Language.RU: "По обращению № {number} к вам направлен наряд полиции.",
            Language.KK: "№ {number} өтініш бойынша сізге полиция жасағы жіберілді.",
        },
        "chat.closed": {
            Language.RU: "Обращение № {number} закрыто. Если снова нужна помощь, напишите.",
            Language.KK: "№ {number} өтініш жабылды. Қайта көмек керек болса, жазыңыз.",
        },
        "chat.share_location": {
            Language.RU: "📍 Отправить геопозицию",
            Language.KK: "📍 Геолокацияны жіберу",
        },
        "chat.language_name": {Language.RU: "Русский", Language.KK: "Қазақша"},
        # labels operators read in place of a message without text
        "chat.photo": {Language.RU: "[фото]", Language.KK: "[фото]"},
        "chat.video": {Language.RU: "[видео]", Language.KK: "[бейне]"},
        "chat.video_note": {Language.RU: "[видеосообщение]", Language.KK: "[бейнехабарлама]"},
        "chat.voice": {
            Language.RU: "[голосовое сообщение]",
            Language.KK: "[дауыстық хабарлама]",
        },
        "chat.audio": {Language.RU: "[аудио]", Language.KK: "[аудио]"},
        "chat.document": {Language.RU: "[документ]", Language.KK: "[құжат]"},
        "chat.sticker": {Language.RU: "[стикер]", Language.KK: "[стикер]"},
        "chat.animation": {Language.RU: "[анимация]", Language.KK: "[анимация]"},
        "chat.location": {Language.RU: "[геопозиция]", Language.KK: "[геолокация]"},
        "chat.contact": {Language.RU: "[контакт]", Language.KK: "[байланыс]"},
        "chat.unsupported": {
            Language.RU: "[сообщение неподдерживаемого типа]",
            Language.KK: "[қолдау көрсетілмейтін хабарлама]",
        },
        "chat.media_missing": {
            Language.RU: "[вложение не получено: {reason}]",
            Language.KK: "[тіркеме алынбады: {reason}]",
        },
    }
)


def text(key: str, language: Language | UiLanguage | str | None) -> str:
    entry = CATALOGUE[key]
    try:
        lang = UiLanguage(language) if language else UiLanguage.RU
    except ValueError:
        lang = UiLanguage.RU
    return entry.get(lang) or entry.get(Language.RU) or entry[Language.KK]


# --- telephony: what a voice contact says about itself (contact/telephony) ------------------
CATALOGUE.update(
    {
        "callback.abandoned": {
            Language.RU: "Перезвонить: вызов 102 прерван до ответа ({at})",
            Language.KK: "Кері қоңырау: 102 қоңырауы жауапқа дейін үзілді ({at})",
        },
        "callback.dropped": {
            Language.RU: "Перезвонить: связь прервалась ({at})",
            Language.KK: "Кері қоңырау: байланыс үзілді ({at})",
        },
    }
)


# --- supervisors on live calls (web/static/supervisor.js; spy legs in softphone.js) ----------
CATALOGUE.update(
    {
        "ui.operator": {Language.RU: "Оператор", Language.KK: "Оператор"},
    }
)


# --- the workspace keeps every contact; the control room's hands on contacts in progress -----
CATALOGUE.update(
    {
        "error.contact_open": {
            Language.RU: "Сначала закройте открытое обращение.",
            Language.KK: "Алдымен ашық өтінішті жабыңыз.",
        },
        "error.not_in_progress": {
            Language.RU: "Обращение уже не в работе.",
            Language.KK: "Өтініш енді жұмыста емес.",
        },
        "error.contact_changed": {
            Language.RU: "Обращение только что изменилось. Обновите список.",
            Language.KK: "Өтініш жаңа ғана өзгерді. Тізімді жаңартыңыз.",
        },
        "error.not_requeueable": {
            Language.RU: "Обращение на постобработке нельзя вернуть в очередь: передайте или "
            "закройте его.",
            Language.KK: "Өңдеудегі өтінішті кезекке қайтаруға болмайды: оны басқа адамға "
            "беріңіз немесе жабыңыз.",
        },
        "error.same_operator": {
            Language.RU: "Обращение уже у этого сотрудника.",
            Language.KK: "Өтініш осы қызметкерде тұр.",
        },
        "error.operator_unable": {
            Language.RU: "Этот сотрудник не принимает обращения такого канала.",
            Language.KK: "Бұл қызметкер мұндай арнаның өтініштерін қабылдамайды.",
        },
        "error.operator_absent": {
            Language.RU: "Сотрудника нет на рабочем месте.",
            Language.KK: "Қызметкер жұмыс орнында жоқ.",
        },
        "error.operator_busy": {
            Language.RU: "Сотрудник работает с другим обращением.",
            Language.KK: "Қызметкер басқа өтінішпен жұмыс істеп жатыр.",
        },
        "error.live_call": {
            Language.RU: "Идущий звонок остаётся у оператора: подключитесь к нему.",
            Language.KK: "Жүріп жатқан қоңырау операторда қалады: оған қосылыңыз.",
        },
        "error.missing_reason": {
            Language.RU: "Укажите причину.",
            Language.KK: "Себебін көрсетіңіз.",
        },
        "error.reason_too_long": {
            Language.RU: "Причина слишком длинная: не более 500 знаков.",
            Language.KK: "Себебі тым ұзын: 500 таңбадан аспауы керек.",
        },
        "ui.in_progress": {Language.RU: "В работе", Language.KK: "Жұмыста"},
        "ui.in_progress_empty": {
            Language.RU: "Нет обращений в работе",
            Language.KK: "Жұмыстағы өтініш жоқ",
        },
        "ui.ip_state": {Language.RU: "Этап", Language.KK: "Кезеңі"},
        "ui.ip_age": {Language.RU: "В работе", Language.KK: "Жұмыста"},
        "ui.ip_connected": {Language.RU: "На связи", Language.KK: "Байланыста"},
        "ui.ip_wrap_up": {Language.RU: "Постобработка", Language.KK: "Өңдеу"},
        "ui.ip_orphaned": {
            Language.RU: "Сотрудника нет на месте",
            Language.KK: "Қызметкер орнында жоқ",
        },
        "ui.ip_escalated": {
            Language.RU: "Требует решения супервизора",
            Language.KK: "Супервайзердің шешімін күтеді",
        },
        "ui.reassign": {Language.RU: "Передать", Language.KK: "Басқаға беру"},
        "ui.reassign_to": {Language.RU: "Кому передать", Language.KK: "Кімге беру"},
        "ui.to_queue": {Language.RU: "Вернуть в очередь", Language.KK: "Кезекке қайтару"},
        "ui.force_close": {Language.RU: "Закрыть принудительно", Language.KK: "Мәжбүрлеп жабу"},
        "ui.force_close_reason": {Language.RU: "Причина закрытия", Language.KK: "Жабу себебі"},
        "ui.take_over": {Language.RU: "Взять себе", Language.KK: "Өзіме алу"},
        "ui.taken_over": {
            Language.RU: "Обращение у вас: откройте рабочее место оператора",
            Language.KK: "Өтініш сізде: оператордың жұмыс орнын ашыңыз",
        },
        "ui.open_workplace": {Language.RU: "Открыть", Language.KK: "Ашу"},
        "ui.confirm": {Language.RU: "Подтвердить", Language.KK: "Растау"},
        "ui.cancel": {Language.RU: "Отмена", Language.KK: "Болдырмау"},
        "ui.more": {Language.RU: "Показать ещё", Language.KK: "Тағы көрсету"},
        "ui.contact_moved": {
            Language.RU: "Супервизор передал обращение другому сотруднику.",
            Language.KK: "Супервайзер өтінішті басқа қызметкерге берді.",
        },
        "ui.contact_force_closed": {
            Language.RU: "Супервизор закрыл обращение.",
            Language.KK: "Супервайзер өтінішті жапты.",
        },
        "ui.contact_assigned": {
            Language.RU: "Супервизор передал вам обращение.",
            Language.KK: "Супервайзер сізге өтініш берді.",
        },
    }
)

# --- the supervisor's wallboard, charts and shift report (http/supervisor_stats.py) ---------
CATALOGUE.update(
    {
        "ui.wb_title": {Language.RU: "Табло", Language.KK: "Табло"},
        "ui.wb_waiting": {Language.RU: "Ожидают ответа", Language.KK: "Жауап күтуде"},
        "ui.wb_longest": {Language.RU: "дольше всех", Language.KK: "ең ұзақ"},
        "ui.wb_answered_in_target": {
            Language.RU: "Отвечено за 10 с (12 ч)",
            Language.KK: "10 с ішінде жауап (12 сағ)",
        },
        "ui.wb_abandoned": {
            Language.RU: "Не дождались (12 ч)",
            Language.KK: "Күтпей кеткендер (12 сағ)",
        },
        "ui.wb_over_target": {
            Language.RU: "Ждут дольше 10 с",
            Language.KK: "10 с-тан артық күтуде",
        },
        "ui.wb_breaches": {Language.RU: "Нарушения SLA", Language.KK: "SLA бұзушылықтары"},
        "ui.wb_keywords": {
            Language.RU: "Тревожные слова в очереди",
            Language.KK: "Кезектегі дабыл сөздері",
        },
        "ui.wb_kiosks_offline": {
            Language.RU: "Киоски не на связи",
            Language.KK: "Байланыссыз киоскілер",
        },
        "ui.wb_units": {Language.RU: "Наряды", Language.KK: "Жасақтар"},
        "ui.wb_operators": {
            Language.RU: "Операторы по статусу",
            Language.KK: "Операторлар мәртебесі",
        },
        "ui.wb_none": {Language.RU: "нет", Language.KK: "жоқ"},
        # the room's live part (waiting, offered, operators, events), moved on every push
        "ui.wb_offered": {"ru": "из них предложено", "kk": "оның ішінде ұсынылды", "en": "offered"},
        "ui.wb_events": {"ru": "События", "kk": "Оқиғалар", "en": "Events"},
        "ui.wb_more_operators": {
            "ru": "{count, plural, one {Ещё # оператор} few {Ещё # оператора} "
            "many {Ещё # операторов} other {Ещё # оператора}}",
            "kk": "{count, plural, one {Тағы # оператор} other {Тағы # оператор}}",
            "en": "{count, plural, one {# more operator} other {# more operators}}",
        },
        "ui.wb_fewer_operators": {"ru": "Свернуть", "kk": "Жинау", "en": "Show fewer"},
        "ui.unit_sec": {Language.RU: "с", Language.KK: "с"},
        "ui.unit_min": {Language.RU: "мин", Language.KK: "мин"},
        "ui.unit_hour": {Language.RU: "ч", Language.KK: "сағ"},
        "ui.kw_danger": {Language.RU: "угроза жизни", Language.KK: "өмірге қауіп"},
        "ui.kw_fire": {Language.RU: "пожар", Language.KK: "өрт"},
        "ui.kw_violence": {Language.RU: "насилие", Language.KK: "зорлық"},
        "ui.kw_traffic": {Language.RU: "ДТП", Language.KK: "ЖКО"},
        "ui.kw_theft": {Language.RU: "кража", Language.KK: "ұрлық"},
        "ui.kw_medical": {Language.RU: "медпомощь", Language.KK: "медициналық көмек"},
        "ui.kw_noise": {Language.RU: "шум", Language.KK: "шу"},
        "ui.ch_voice": {Language.RU: "Звонок 102", Language.KK: "102 қоңырауы"},
        "ui.ch_video": {Language.RU: "Видеозвонок", Language.KK: "Бейнеқоңырау"},
        "ui.ch_app": {Language.RU: "Приложение", Language.KK: "Қосымша"},
        "ui.ch_app_sos": {Language.RU: "SOS в приложении", Language.KK: "Қосымшадағы SOS"},
        "ui.ch_telegram": {Language.RU: "Telegram", Language.KK: "Telegram"},
        "ui.ch_whatsapp": {Language.RU: "WhatsApp", Language.KK: "WhatsApp"},
        "ui.ch_kiosk": {Language.RU: "SOS-киоск", Language.KK: "SOS киоскі"},
        "ui.ch_school_alarm": {
            Language.RU: "Тревожная кнопка школы",
            Language.KK: "Мектептің дабыл түймесі",
        },
        "ui.ch_camera": {Language.RU: "Камера", Language.KK: "Камера"},
        "ui.ch_callback": {Language.RU: "Обратный звонок", Language.KK: "Кері қоңырау"},
        "ui.charts_title": {Language.RU: "Графики за период", Language.KK: "Кезең графиктері"},
        "ui.chart_per_hour": {
            Language.RU: "Обращения по часам и каналам",
            Language.KK: "Сағат пен арна бойынша өтініштер",
        },
        "ui.chart_answer": {
            Language.RU: "Время ответа (цель — 10 с)",
            Language.KK: "Жауап беру уақыты (мақсат — 10 с)",
        },
        "ui.chart_response": {
            Language.RU: "Время прибытия наряда (цель — 7 мин)",
            Language.KK: "Жасақтың келу уақыты (мақсат — 7 мин)",
        },
        "ui.chart_districts": {
            Language.RU: "Прибытие по районам: медиана и 90-й процентиль",
            Language.KK: "Аудандар бойынша келу: медиана және 90-процентиль",
        },
        "ui.chart_contacts": {Language.RU: "обращений", Language.KK: "өтініш"},
        "ui.chart_arrivals": {Language.RU: "прибытий", Language.KK: "келу"},
        "ui.chart_within": {Language.RU: "в пределах цели", Language.KK: "мақсат шегінде"},
        "ui.chart_over": {Language.RU: "сверх цели", Language.KK: "мақсаттан артық"},
        "ui.chart_more": {Language.RU: "больше", Language.KK: "артық"},
        "ui.chart_target": {Language.RU: "цель", Language.KK: "мақсат"},
        "ui.chart_median": {Language.RU: "медиана", Language.KK: "медиана"},
        "ui.chart_p90": {Language.RU: "90-й процентиль", Language.KK: "90-процентиль"},
        "ui.chart_empty": {
            Language.RU: "Нет данных за период",
            Language.KK: "Кезеңде деректер жоқ",
        },
        "ui.chart_failed": {
            Language.RU: "Не удалось загрузить данные",
            Language.KK: "Деректерді жүктеу мүмкін болмады",
        },
        "ui.period_from": {Language.RU: "С", Language.KK: "Басы"},
        "ui.period_to": {Language.RU: "По", Language.KK: "Соңы"},
        "ui.period_format": {
            Language.RU: "ДД.ММ.ГГГГ ЧЧ:ММ, 24 часа",
            Language.KK: "КК.АА.ЖЖЖЖ СС:ММ, 24 сағат",
        },
        "ui.chart_bin": {Language.RU: "Интервал", Language.KK: "Аралық"},
        "ui.period_show": {Language.RU: "Показать", Language.KK: "Көрсету"},
        "ui.report_title": {Language.RU: "Отчёт за смену", Language.KK: "Ауысым есебі"},
        "ui.report_csv": {Language.RU: "Скачать CSV", Language.KK: "CSV жүктеу"},
        "ui.report_print": {
            Language.RU: "Версия для печати",
            Language.KK: "Басып шығаруға арналған нұсқа",
        },
        "ui.report_note": {
            Language.RU: "Только сводные цифры; каждый отчёт записывается в журнал аудита.",
            Language.KK: "Тек жиынтық сандар; әр есеп аудит журналына жазылады.",
        },
        "ui.report_period": {Language.RU: "Период", Language.KK: "Кезең"},
        "ui.report_zone": {Language.RU: "Часовой пояс", Language.KK: "Уақыт белдеуі"},
        "ui.report_totals": {Language.RU: "Итоги", Language.KK: "Қорытынды"},
        "ui.report_contacts": {Language.RU: "Обращений", Language.KK: "Өтініштер"},
        "ui.report_answered": {Language.RU: "Отвечено", Language.KK: "Жауап берілді"},
        "ui.report_in_target": {
            Language.RU: "Отвечено за 10 с",
            Language.KK: "10 с ішінде жауап",
        },
        "ui.report_abandoned": {Language.RU: "Не дождались", Language.KK: "Күтпей кеткендер"},
        "ui.report_hour": {Language.RU: "Час", Language.KK: "Сағат"},
        "ui.report_total": {Language.RU: "Всего", Language.KK: "Барлығы"},
        "ui.report_by_hour": {
            Language.RU: "Обращения по часам",
            Language.KK: "Сағат бойынша өтініштер",
        },
        "ui.report_answer_bins": {
            Language.RU: "Распределение времени ответа",
            Language.KK: "Жауап уақытының таралуы",
        },
        "ui.report_response": {
            Language.RU: "Время прибытия по районам (цель — 7 мин)",
            Language.KK: "Аудандар бойынша келу уақыты (мақсат — 7 мин)",
        },
        "ui.report_up_to": {Language.RU: "до", Language.KK: "дейін"},
        "ui.report_printed": {Language.RU: "Сформирован", Language.KK: "Жасалды"},
    }
)


# --- transcription: what an operator reads about a leg's live transcript (contact/transcribe)
CATALOGUE.update(
    {
        "ui.transcript": {Language.RU: "Транскрипт", Language.KK: "Транскрипт"},
    }
)

# the operator's workplace (one module of its own, merged here)
from contact.i18n_operator import OPERATOR_TEXTS  # noqa: E402 - after CATALOGUE, by design

CATALOGUE.update(OPERATOR_TEXTS)

# the admins' pages (one module of its own, merged here)
from contact.i18n_admin import ADMIN_TEXTS  # noqa: E402 - after CATALOGUE, by design

CATALOGUE.update(ADMIN_TEXTS)

# the supervisor page's staffing rota panel (its own module too)
from contact.i18n_rota import ROTA_TEXTS  # noqa: E402 - after CATALOGUE, by design

CATALOGUE.update(ROTA_TEXTS)

# --- forms: plurals, gender, durations, the names of things (pages and server alike) --------
CATALOGUE.update(
    {
        # durations: a figure and a short unit, the same rule in the pages and on the server
        "fmt.duration_s": {"ru": "{s} с", "kk": "{s} с", "en": "{s} s"},
        "fmt.duration_ms": {"ru": "{m} мин {s} с", "kk": "{m} мин {s} с", "en": "{m} min {s} s"},
        "fmt.duration_m": {"ru": "{m} мин", "kk": "{m} мин", "en": "{m} min"},
        "fmt.duration_hm": {"ru": "{h} ч {m} мин", "kk": "{h} сағ {m} мин", "en": "{h} h {m} min"},
        "fmt.metres": {"ru": "{m} м", "kk": "{m} м", "en": "{m} m"},
        # the signed-in person's role, shown beside the name
        "role.operator": {"ru": "оператор", "kk": "оператор", "en": "operator"},
        "role.supervisor": {"ru": "супервизор", "kk": "супервайзер", "en": "supervisor"},
        "role.admin": {"ru": "администратор", "kk": "әкімші", "en": "administrator"},
        "ui.actions": {"ru": "Действия", "kk": "Әрекеттер", "en": "Actions"},
        "ui.time_in_state": {"ru": "В статусе", "kk": "Мәртебеде", "en": "Time in state"},
        "ui.last_error": {"ru": "Последняя ошибка", "kk": "Соңғы қате", "en": "Last error"},
        "ui.lang_switch": {"ru": "Язык интерфейса", "kk": "Интерфейс тілі", "en": "Language"},
        # a person's state, in the form that fits her or him (neutral when it is not known)
        "presence.ready": {
            "ru": "{gender, select, female {Готова} male {Готов} other {Принимает обращения}}",
            "kk": "Дайын",
            "en": "Ready",
        },
        "presence.offered": {"ru": "Предложено", "kk": "Ұсынылды", "en": "Offered"},
        "presence.busy": {
            "ru": "{gender, select, female {Занята} male {Занят} other {Работает с обращением}}",
            "kk": "Бос емес",
            "en": "Busy",
        },
        "presence.wrap_up": {"ru": "Постобработка", "kk": "Өңдеу", "en": "Wrap-up"},
        "presence.away": {
            "ru": "{gender, select, female {Отошла} male {Отошёл} other {Нет на месте}}",
            "kk": "Орнында жоқ",
            "en": "Away",
        },
        # counts: every figure with its noun in the right plural form
        "ui.cameras_count": {
            "ru": "{count, plural, one {# камера} few {# камеры} many {# камер} other {# камеры}}",
            "kk": "{count, plural, one {# камера} other {# камера}}",
            "en": "{count, plural, one {# camera} other {# cameras}}",
        },
        "ui.units_count": {
            "ru": "{count, plural, one {# наряд} few {# наряда} many {# нарядов} other {# наряда}}",
            "kk": "{count, plural, one {# жасақ} other {# жасақ}}",
            "en": "{count, plural, one {# unit} other {# units}}",
        },
        "ui.link_state": {
            "ru": "{name}: {up, select, yes {✓ на связи} other {✗ нет связи}}",
            "kk": "{name}: {up, select, yes {✓ байланыста} other {✗ байланыс жоқ}}",
            "en": "{name}: {up, select, yes {✓ connected} other {✗ disconnected}}",
        },
        "ui.contacts_count": {
            "ru": "{count, plural, one {# обращение} few {# обращения} many {# обращений} "
            "other {# обращения}}",
            "kk": "{count, plural, one {# өтініш} other {# өтініш}}",
            "en": "{count, plural, one {# contact} other {# contacts}}",
        },
        "ui.operators_count": {
            "ru": "{count, plural, one {# оператор} few {# оператора} many {# операторов} "
            "other {# оператора}}",
            "kk": "{count, plural, one {# оператор} other {# оператор}}",
            "en": "{count, plural, one {# operator} other {# operators}}",
        },
        "ui.waited_for": {
            "ru": "ждёт {duration}",
            "kk": "{duration} күтуде",
            "en": "waiting {duration}",
        },
        # citizens' languages as operators read them
        "ui.lang_kk": {"ru": "казахский", "kk": "қазақша", "en": "Kazakh"},
        "ui.lang_ru": {"ru": "русский", "kk": "орысша", "en": "Russian"},
        # events the supervisor's log shows, by name (never the raw `contact.offer_expired`)
        "event.contact.sla_breached": {
            "ru": "Превышено время ожидания",
            "kk": "Күту уақыты асты",
            "en": "Waiting time exceeded",
        },
        "event.contact.offer_expired": {
            "ru": "Предложение не принято вовремя",
            "kk": "Ұсыныс уақытында қабылданбады",
            "en": "Offer not accepted in time",
        },
        "event.operator.presence_changed": {
            "ru": "Статус сотрудника",
            "kk": "Қызметкер мәртебесі",
            "en": "Staff status",
        },
        "event.keyword.alert": {
            "ru": "Тревожные слова",
            "kk": "Қауіпті сөздер",
            "en": "Alarming words",
        },
        "event.contact.queued": {"ru": "В очереди", "kk": "Кезекте", "en": "Queued"},
        "event.contact.offered": {"ru": "Предложено", "kk": "Ұсынылды", "en": "Offered"},
        "event.contact.accepted": {"ru": "Принято", "kk": "Қабылданды", "en": "Accepted"},
        "event.contact.closed": {"ru": "Закрыто", "kk": "Жабылды", "en": "Closed"},
        "event.contact.abandoned": {
            "ru": "Заявитель не дождался",
            "kk": "Өтініш беруші күтпей кетті",
            "en": "Caller gave up",
        },
        "event.contact.reassigned": {
            "ru": "Передано другому сотруднику",
            "kk": "Басқа қызметкерге берілді",
            "en": "Reassigned",
        },
        "event.contact.force_closed": {
            "ru": "Закрыто супервизором",
            "kk": "Супервайзер жапты",
            "en": "Closed by a supervisor",
        },
        "event.contact.orphaned": {
            "ru": "Сотрудник покинул обращение",
            "kk": "Қызметкер өтінішті тастап кетті",
            "en": "Left without its operator",
        },
        "event.contact.reclaimed": {
            "ru": "Возвращено в очередь",
            "kk": "Кезекке қайтарылды",
            "en": "Back in the queue",
        },
    }
)

# the pages receive these (as JSON in base.html) and format them in the browser
PAGE_PREFIXES = ("ui.", "priority.", "fmt.", "role.", "presence.", "event.")
# texts the operators' and supervisors' pages show: Kazakh, Russian and English
OPERATOR_PREFIXES = (*PAGE_PREFIXES, "error.", "transcript.")
# the rest is written into a contact (the citizen's own language) or sent to a citizen: kk, ru
CITIZEN_LANGUAGES: tuple[str, ...] = tuple(lang.value for lang in Language)
UI_LANGUAGES: tuple[str, ...] = tuple(lang.value for lang in UiLanguage)


def languages_of(key: str) -> tuple[str, ...]:
    """The languages a key must have: three on the staff's pages, two for citizens."""
    return UI_LANGUAGES if key.startswith(OPERATOR_PREFIXES) else CITIZEN_LANGUAGES


# --- formatting: ICU messages, durations and clock times --------------------------------------
_PARSER = Parser()


@functools.cache
def _ast(pattern: str) -> tuple[Any, ...]:
    return tuple(_PARSER.parse(pattern))


@functools.cache
def _locale(lang: str) -> Locale:
    return Locale.parse(lang)


def plural_forms(lang: str) -> frozenset[str]:
    """The CLDR plural categories of a language (ru: one few many other; kk, en: one other)."""
    return frozenset(_locale(lang).plural_form.tags) | {"other"}


def plural_category(number: float, lang: str) -> str:
    category: str = _locale(lang).plural_form(number)
    return category


def _number(value: float, lang: str) -> str:
    return str(format_decimal(value, locale=_locale(lang)))


def _render(nodes: Any, lang: str, values: Mapping[str, Any], hash_value: float | None) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
            continue
        name, kind = node.get("name"), node.get("type")
        if node.get("hash"):
            out.append(_number(hash_value if hash_value is not None else 0, lang))
        elif kind in ("plural", "selectordinal"):
            number = float(values[name]) - float(node.get("offset") or 0)
            options = node["options"]
            exact = f"={values[name]}"
            if exact in options:
                branch = options[exact]
            else:
                branch = options.get(plural_category(number, lang), options["other"])
            out.append(_render(branch, lang, values, number))
        elif kind == "select":
            options = node["options"]
            out.append(
                _render(
                    options.get(str(values.get(name, "other")), options["other"]),
                    lang,
                    values,
                    hash_value,
                )
            )
        elif kind == "number":
            out.append(_number(float(values[name]), lang))
        else:
            out.append(str(values[name]))
    return "".join(out)


def format_message(pattern: str, lang: Language | UiLanguage | str, **values: Any) -> str:
    """An ICU message in one language, with its values (KeyError when one is missing)."""
    return _render(_ast(pattern), str(lang), values, None)


def message(key: str, lang: Language | UiLanguage | str | None, **values: Any) -> str:
    """A catalogue text in a language, formatted: `message("ui.units_count", "ru", count=21)`."""
    chosen = _language(lang)
    entry = CATALOGUE[key]
    found = next(x for x in (chosen, "ru", "kk") if entry.get(x))
    return format_message(entry[found], found, **values)


def _language(lang: Language | UiLanguage | str | None) -> str:
    try:
        return UiLanguage(lang).value if lang else UiLanguage.RU.value
    except ValueError:
        return UiLanguage.RU.value


def duration(seconds: float, lang: Language | UiLanguage | str | None) -> str:
    """A span in figures and short units: «1 мин 43 с», «1 мин 43 с», «1 min 43 s»."""
    s = max(0, round(seconds))
    if s < 60:
        return message("fmt.duration_s", lang, s=s)
    if s < 3600 and s % 60 == 0:  # a whole number of minutes: «7 min», not «7 min 0 s»
        return message("fmt.duration_m", lang, m=s // 60)
    if s < 3600:
        return message("fmt.duration_ms", lang, m=s // 60, s=s % 60)
    return message("fmt.duration_hm", lang, h=s // 3600, m=s % 3600 // 60)


def zone_named(name: str) -> tzinfo:
    """An IANA zone (Asia/Almaty); UTC on a machine without the tz database."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def clock(at: datetime, zone: tzinfo, seconds: bool = True) -> str:
    """A time of day on the centre's clock, 24-hour in every language: «04:48:24», «16:48»."""
    local = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone)
    return local.strftime("%H:%M:%S" if seconds else "%H:%M")


# --- completeness: what tests/unit/test_i18n.py holds every key to --------------------------
def _arguments(nodes: Any, out: dict[str, str]) -> dict[str, str]:
    for node in nodes:
        if isinstance(node, str) or node.get("hash"):
            continue
        out.setdefault(node["name"], node.get("type") or "simple")
        for branch in (node.get("options") or {}).values():
            _arguments(branch, out)
    return out


def message_arguments(pattern: str) -> set[str]:
    """The names a message takes its values by: `{count, plural, …}` → {"count"}."""
    return set(_arguments(_ast(pattern), {}))


def _forms_problems(nodes: Any, lang: str) -> list[str]:
    problems: list[str] = []
    for node in nodes:
        if isinstance(node, str) or node.get("hash"):
            continue
        options = node.get("options") or {}
        if node.get("type") == "plural":
            named = {k for k in options if not k.startswith("=")}
            if missing := plural_forms(lang) - named:
                problems.append(f"plural {{{node['name']}}} lacks {sorted(missing)}")
            if extra := named - plural_forms(lang):
                problems.append(f"plural {{{node['name']}}} has forms {sorted(extra)} {lang} lacks")
        if node.get("type") == "select" and "other" not in options:
            problems.append(f"select {{{node['name']}}} lacks other")
        for branch in options.values():
            problems.extend(_forms_problems(branch, lang))
    return problems


def catalogue_problems(catalogue: Mapping[str, Mapping[str, str]] | None = None) -> list[str]:
    """Every fault of the catalogue, one line each naming the key and the language: a missing
    or empty text, a message that does not parse, placeholders that differ from the Russian
    text, plural forms that do not fit the language's CLDR categories."""
    problems: list[str] = []
    for key, texts in (CATALOGUE if catalogue is None else catalogue).items():
        wanted = languages_of(key)
        for lang in wanted:
            if not str(texts.get(lang, "")).strip():
                problems.append(f"{key} [{lang}]: missing")
        parsed: dict[str, Any] = {}
        for lang, pattern in texts.items():
            if lang not in UI_LANGUAGES:
                problems.append(f"{key} [{lang}]: not a language of the catalogue")
                continue
            if "'" in pattern:  # ICU's quoting character: parsers disagree on it, use ’
                problems.append(f"{key} [{lang}]: ASCII apostrophe (write ’)")
            try:
                parsed[lang] = _PARSER.parse(pattern)
            except Exception as exc:  # the parser's own errors carry no common type
                problems.append(f"{key} [{lang}]: does not parse ({exc})")
        reference = parsed.get("ru") or next(iter(parsed.values()), None)
        if reference is None:
            continue
        ref_args = _arguments(reference, {})
        for lang, nodes in parsed.items():
            args = _arguments(nodes, {})
            plain = {n for n, k in args.items() if k not in ("plural", "select")}
            ref_plain = {n for n, k in ref_args.items() if k not in ("plural", "select")}
            if plain != ref_plain:
                problems.append(
                    f"{key} [{lang}]: placeholders {sorted(plain)} ≠ ru {sorted(ref_plain)}"
                )
            if stray := set(args) - set(ref_args):
                problems.append(f"{key} [{lang}]: placeholders {sorted(stray)} not in ru")
            problems.extend(f"{key} [{lang}]: {p}" for p in _forms_problems(nodes, lang))
    return problems


from contact.i18n_en import ENGLISH  # noqa: E402  (the English table, one text per key)

for _key, _english in ENGLISH.items():
    CATALOGUE.setdefault(_key, {})["en"] = _english


def register(texts: Mapping[str, Mapping[str, str]]) -> None:
    """A feature's own texts join the catalogue (its plugin declares them: contact.context).
    A key is one feature's: the same key with other words is refused."""
    for key, entry in texts.items():
        known = CATALOGUE.get(key)
        if known is not None and known != dict(entry):
            raise ValueError(f"text {key} is declared twice, differently")
        CATALOGUE[key] = dict(entry)
