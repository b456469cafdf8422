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
    # --- the operator's browser softphone ----------------------------------------------------
    "ui.sp_phone": {Language.RU: "Телефон", Language.KK: "Телефон"},
    "ui.sp_unavailable": {
        Language.RU: "Софтфон недоступен",
        Language.KK: "Софтфон қолжетімсіз",
    },
    "ui.sp_connecting": {Language.RU: "Подключение…", Language.KK: "Қосылуда…"},
    "ui.sp_registered": {Language.RU: "На линии", Language.KK: "Желіде"},
    "ui.sp_unregistered": {Language.RU: "Не на линии", Language.KK: "Желіде емес"},
    "ui.sp_failed": {Language.RU: "Ошибка регистрации", Language.KK: "Тіркеу қатесі"},
    "ui.sp_incoming": {Language.RU: "Входящий звонок", Language.KK: "Кіріс қоңырау"},
    "ui.sp_incoming_video": {
        Language.RU: "Входящий видеозвонок",
        Language.KK: "Кіріс бейнеқоңырау",
    },
    "ui.sp_in_call": {Language.RU: "Разговор", Language.KK: "Сөйлесу"},
    "ui.sp_in_video_call": {Language.RU: "Видеозвонок", Language.KK: "Бейнеқоңырау"},
    "ui.sp_answer": {Language.RU: "Ответить", Language.KK: "Жауап беру"},
    "ui.sp_hangup": {Language.RU: "Завершить", Language.KK: "Аяқтау"},
    "ui.sp_mute": {Language.RU: "Выключить микрофон", Language.KK: "Микрофонды өшіру"},
    "ui.sp_unmute": {Language.RU: "Включить микрофон", Language.KK: "Микрофонды қосу"},
    "ui.sp_ended": {Language.RU: "Звонок завершён", Language.KK: "Қоңырау аяқталды"},
    "ui.sp_caller_camera": {
        Language.RU: "Камера заявителя",
        Language.KK: "Өтініш берушінің камерасы",
    },
    "ui.sp_my_camera": {Language.RU: "Моя камера", Language.KK: "Менің камерам"},
    "ui.sp_no_video": {
        Language.RU: "Видео от заявителя ещё не пришло",
        Language.KK: "Өтініш берушіден бейне әлі келмеді",
    },
    "ui.sp_no_devices": {
        Language.RU: "Нет доступа к микрофону",
        Language.KK: "Микрофонға рұқсат жоқ",
    },
    # --- dispatch (web/static/dispatch.js, dispatch-supervisor.js) ------------------------
    "ui.dispatch_title": {Language.RU: "Наряды", Language.KK: "Жасақтар"},
    "ui.dispatch_unit": {Language.RU: "Наряд", Language.KK: "Жасақ"},
    "ui.dispatch_eta": {Language.RU: "Прибытие", Language.KK: "Жету уақыты"},
    "ui.dispatch_send": {Language.RU: "Направить", Language.KK: "Жіберу"},
    "ui.dispatch_incident": {Language.RU: "Происшествие", Language.KK: "Оқиға"},
    "ui.dispatch_district": {Language.RU: "Район", Language.KK: "Аудан"},
    "ui.dispatch_outside": {
        Language.RU: "Вне районов: определите ответственное УП",
        Language.KK: "Аудандардан тыс: жауапты ПБ-ны анықтаңыз",
    },
    "ui.dispatch_none": {
        Language.RU: "Нет свободных нарядов рядом",
        Language.KK: "Жақын маңда бос жасақ жоқ",
    },
    "ui.dispatch_no_location": {
        Language.RU: "Местоположение неизвестно",
        Language.KK: "Орналасқан жері белгісіз",
    },
    "ui.dispatch_sent": {Language.RU: "Направлены", Language.KK: "Жіберілді"},
    "ui.dispatch_cameras": {Language.RU: "Камеры", Language.KK: "Камералар"},
    "ui.dispatch_by_road": {Language.RU: "по дорогам", Language.KK: "жол бойынша"},
    "ui.dispatch_estimate": {Language.RU: "оценка", Language.KK: "бағалау"},
    "ui.unit_available": {Language.RU: "свободен", Language.KK: "бос"},
    "ui.unit_dispatched": {Language.RU: "направлен", Language.KK: "жіберілді"},
    "ui.unit_en_route": {Language.RU: "в пути", Language.KK: "жолда"},
    "ui.unit_on_scene": {Language.RU: "на месте", Language.KK: "орнында"},
    "ui.unit_transporting": {Language.RU: "доставляет", Language.KK: "жеткізуде"},
    "ui.unit_out_of_service": {Language.RU: "не в строю", Language.KK: "сапта емес"},
    "ui.unit_acknowledged": {Language.RU: "принял", Language.KK: "қабылдады"},
    "ui.response_times": {
        Language.RU: "Время прибытия (цель 7 мин)",
        Language.KK: "Жету уақыты (мақсат 7 мин)",
    },
    "ui.response_median": {Language.RU: "медиана", Language.KK: "медиана"},
    "ui.response_within": {Language.RU: "в пределах цели", Language.KK: "мақсат ішінде"},
    "ui.camera_health": {Language.RU: "Камеры с ошибками", Language.KK: "Қатесі бар камералар"},
    # --- the dispatch panel's map (web/static/dispatch-map.js) ----------------------------
    "ui.map_title": {
        Language.RU: "Карта: заявитель, наряды, камеры",
        Language.KK: "Карта: өтініш беруші, жасақтар, камералар",
    },
    "ui.map_contact": {Language.RU: "Заявитель", Language.KK: "Өтініш беруші"},
    "ui.map_accuracy": {Language.RU: "точность", Language.KK: "дәлдік"},
    "ui.map_camera_sees": {Language.RU: "видит место", Language.KK: "орынды көреді"},
    "ui.map_camera_blind": {Language.RU: "не видит место", Language.KK: "орынды көрмейді"},
    "ui.map_no_tiles": {
        Language.RU: "Подложка карты не настроена: только объекты, без улиц",
        Language.KK: "Карта негізі бапталмаған: тек нысандар, көшелерсіз",
    },
    "ui.map_unavailable": {
        Language.RU: "Карта недоступна (нет библиотеки Leaflet)",
        Language.KK: "Карта қолжетімсіз (Leaflet кітапханасы жоқ)",
    },
    "ui.unit_kind_car": {Language.RU: "автопатруль", Language.KK: "автопатруль"},
    "ui.unit_kind_foot": {Language.RU: "пеший патруль", Language.KK: "жаяу патруль"},
    "ui.unit_kind_bike": {Language.RU: "велопатруль", Language.KK: "велопатруль"},
    "ui.camera_failures": {Language.RU: "ошибок подряд", Language.KK: "қатарынан қате"},
    "priority.alarm": {Language.RU: "Тревога", Language.KK: "Дабыл"},
    "priority.sos": {Language.RU: "SOS", Language.KK: "SOS"},
    "priority.voice": {Language.RU: "Звонок", Language.KK: "Қоңырау"},
    "priority.video": {Language.RU: "Видео", Language.KK: "Бейне"},
    "priority.chat": {Language.RU: "Сообщение", Language.KK: "Хабарлама"},
    "priority.info": {Language.RU: "Справка", Language.KK: "Анықтама"},
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
        "alarm.text": {
            Language.RU: "Тревожная кнопка: {site}, зона «{zone}», {kind}",
            Language.KK: "Дабыл түймесі: {site}, «{zone}» аймағы, {kind}",
        },
        "alarm.repeat": {
            Language.RU: "Ещё одна тревога: зона «{zone}», {kind}",
            Language.KK: "Тағы бір дабыл: «{zone}» аймағы, {kind}",
        },
        "alarm.kind.panic": {Language.RU: "тревога", Language.KK: "дабыл"},
        "alarm.kind.intruder": {Language.RU: "посторонний", Language.KK: "бөгде адам"},
        "alarm.kind.weapon": {Language.RU: "оружие", Language.KK: "қару"},
        "alarm.kind.fire": {Language.RU: "пожар", Language.KK: "өрт"},
        "alarm.kind.medical": {Language.RU: "нужна медпомощь", Language.KK: "медициналық көмек"},
        "alarm.kind.other": {Language.RU: "другое", Language.KK: "басқа"},
        "camera.alert": {
            Language.RU: "Видеоаналитика: {kind}, камера {camera}, уверенность {confidence}",
            Language.KK: "Бейнеталдау: {kind}, камера {camera}, сенімділік {confidence}",
        },
        "camera.repeat": {
            Language.RU: "Повтор: уверенность {confidence}, всего {count}",
            Language.KK: "Қайталау: сенімділік {confidence}, барлығы {count}",
        },
        "camera.kind.wanted_face": {
            Language.RU: "лицо из розыска",
            Language.KK: "іздеудегі адамның беті",
        },
        "camera.kind.wanted_plate": {
            Language.RU: "номер из розыска",
            Language.KK: "іздеудегі көлік нөмірі",
        },
        "camera.kind.weapon": {Language.RU: "оружие", Language.KK: "қару"},
        "camera.kind.aggression": {Language.RU: "агрессия", Language.KK: "агрессия"},
        "camera.kind.crowd": {Language.RU: "скопление людей", Language.KK: "адамдар тобы"},
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


def text(key: str, language: Language | str | None) -> str:
    entry = CATALOGUE[key]
    try:
        lang = Language(language) if language else DEFAULT_LANGUAGE
    except ValueError:
        lang = DEFAULT_LANGUAGE
    return entry.get(lang) or entry.get(Language.RU) or entry[Language.KK]


# --- telephony: what a voice contact says about itself (contact/telephony) ------------------
CATALOGUE.update(
    {
        "call.voice": {Language.RU: "Вызов 102", Language.KK: "102 қоңырауы"},
        "call.kiosk": {
            Language.RU: "SOS-вызов с киоска {endpoint}",
            Language.KK: "{endpoint} киоскісінен SOS қоңырауы",
        },
        "call.video": {
            Language.RU: "Видеовызов из приложения",
            Language.KK: "Қосымшадан бейнеқоңырау",
        },
        "call.callback_answered": {
            Language.RU: "Ответил на автоматический перезвон",
            Language.KK: "Автоматты кері қоңырауға жауап берді",
        },
        "call.address": {Language.RU: "Адрес: {address}", Language.KK: "Мекенжай: {address}"},
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
        "ui.live_calls": {Language.RU: "Звонки на линии", Language.KK: "Желідегі қоңыраулар"},
        "ui.live_calls_empty": {
            Language.RU: "Сейчас звонков нет",
            Language.KK: "Қазір қоңырау жоқ",
        },
        "ui.operator": {Language.RU: "Оператор", Language.KK: "Оператор"},
        "ui.call_state": {Language.RU: "Состояние", Language.KK: "Күйі"},
        "ui.call_duration": {Language.RU: "Длительность", Language.KK: "Ұзақтығы"},
        "ui.call_kind_voice": {Language.RU: "Звонок 102", Language.KK: "102 қоңырауы"},
        "ui.call_kind_video": {Language.RU: "Видеозвонок", Language.KK: "Бейнеқоңырау"},
        "ui.call_kind_sos_video": {Language.RU: "SOS-видео", Language.KK: "SOS бейне"},
        "ui.call_kind_kiosk": {Language.RU: "SOS-киоск", Language.KK: "SOS киоскі"},
        "ui.call_kind_callback": {Language.RU: "Обратный звонок", Language.KK: "Кері қоңырау"},
        "ui.call_state_holding": {Language.RU: "Ждёт оператора", Language.KK: "Операторды күтуде"},
        "ui.call_state_ringing": {
            Language.RU: "Звонит оператору",
            Language.KK: "Операторға қоңырау шалынуда",
        },
        "ui.call_state_connected": {Language.RU: "Разговор", Language.KK: "Сөйлесу"},
        "ui.call_state_held": {Language.RU: "На удержании", Language.KK: "Күту режимінде"},
        "ui.call_state_consulting": {Language.RU: "Консультация", Language.KK: "Кеңесу"},
        "ui.call_state_transferring": {Language.RU: "Переводится", Language.KK: "Ауыстырылуда"},
        "ui.call_state_transferred": {Language.RU: "Переведён", Language.KK: "Ауыстырылды"},
        "ui.spy_listen": {Language.RU: "Слушать", Language.KK: "Тыңдау"},
        "ui.spy_whisper": {Language.RU: "Подсказать", Language.KK: "Кеңес беру"},
        "ui.spy_barge": {Language.RU: "Вмешаться", Language.KK: "Араласу"},
        "ui.spy_title_listen": {Language.RU: "Прослушивание", Language.KK: "Тыңдап тұрсыз"},
        "ui.spy_title_whisper": {
            Language.RU: "Подсказка оператору",
            Language.KK: "Операторға кеңес",
        },
        "ui.spy_title_barge": {Language.RU: "Вы в разговоре", Language.KK: "Сіз сөйлесудесіз"},
        "ui.spy_note_listen": {
            Language.RU: "Вас никто не слышит: микрофон выключен",
            Language.KK: "Сізді ешкім естімейді: микрофон өшірулі",
        },
        "ui.spy_note_whisper": {
            Language.RU: "Вас слышит только оператор, заявитель — нет",
            Language.KK: "Сізді тек оператор естиді, өтініш беруші естімейді",
        },
        "ui.spy_note_barge": {
            Language.RU: "Вас слышат и заявитель, и оператор",
            Language.KK: "Сізді өтініш беруші де, оператор да естиді",
        },
        "ui.spy_stop": {Language.RU: "Отключиться от звонка", Language.KK: "Қоңыраудан шығу"},
        "ui.spy_connecting": {
            Language.RU: "Подключение к звонку…",
            Language.KK: "Қоңырауға қосылуда…",
        },
        "ui.spy_failed": {
            Language.RU: "Не удалось подключиться к звонку",
            Language.KK: "Қоңырауға қосылу мүмкін болмады",
        },
        "ui.spy_desk_phone": {
            Language.RU: "Звонок придёт на ваш рабочий телефон",
            Language.KK: "Қоңырау жұмыс телефоныңызға келеді",
        },
    }
)
