"""The texts of telephony: Kazakh and Russian, and English where staff read them. The
plugin declares them; the catalogue (contact.i18n) takes them in when the package is imported."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "ui.sp_phone": {"ru": "Телефон", "kk": "Телефон", "en": "Phone"},
    "ui.sp_unavailable": {
        "ru": "Софтфон недоступен",
        "kk": "Софтфон қолжетімсіз",
        "en": "Softphone unavailable",
    },
    "ui.sp_telephony_off": {
        "ru": "нет голоса: этот центр работает без Asterisk (только чаты и сообщения)",
        "kk": "дауыс жоқ: бұл орталық Asterisk-сіз жұмыс істейді (тек чат пен хабарлар)",
        "en": "no voice: this centre runs without Asterisk (chats and messages only)",
    },
    "ui.sp_off": {"ru": "Выключен", "kk": "Өшірулі", "en": "Off"},
    "ui.sp_connecting": {"ru": "Подключение…", "kk": "Қосылуда…", "en": "Connecting…"},
    "ui.sp_registered": {"ru": "На линии", "kk": "Желіде", "en": "On line"},
    "ui.sp_unregistered": {"ru": "Не на линии", "kk": "Желіде емес", "en": "Off line"},
    "ui.sp_failed": {
        "ru": "Ошибка регистрации",
        "kk": "Тіркеу қатесі",
        "en": "Registration failed",
    },
    "ui.sp_incoming": {"ru": "Входящий звонок", "kk": "Кіріс қоңырау", "en": "Incoming call"},
    "ui.sp_incoming_video": {
        "ru": "Входящий видеозвонок",
        "kk": "Кіріс бейнеқоңырау",
        "en": "Incoming video call",
    },
    "ui.sp_in_call": {"ru": "Разговор", "kk": "Сөйлесу", "en": "In a call"},
    "ui.sp_in_video_call": {"ru": "Видеозвонок", "kk": "Бейнеқоңырау", "en": "Video call"},
    "ui.sp_answer": {"ru": "Ответить", "kk": "Жауап беру", "en": "Answer"},
    "ui.sp_hangup": {"ru": "Завершить", "kk": "Аяқтау", "en": "Hang up"},
    "ui.sp_mute": {
        "ru": "Выключить микрофон",
        "kk": "Микрофонды өшіру",
        "en": "Mute the microphone",
    },
    "ui.sp_unmute": {
        "ru": "Включить микрофон",
        "kk": "Микрофонды қосу",
        "en": "Unmute the microphone",
    },
    "ui.sp_ended": {"ru": "Звонок завершён", "kk": "Қоңырау аяқталды", "en": "Call ended"},
    "ui.sp_caller_camera": {
        "ru": "Камера заявителя",
        "kk": "Өтініш берушінің камерасы",
        "en": "Caller’s camera",
    },
    "ui.sp_my_camera": {"ru": "Моя камера", "kk": "Менің камерам", "en": "My camera"},
    "ui.sp_no_video": {
        "ru": "Видео от заявителя ещё не пришло",
        "kk": "Өтініш берушіден бейне әлі келмеді",
        "en": "No video from the caller yet",
    },
    "ui.sp_no_devices": {
        "ru": "Нет доступа к микрофону",
        "kk": "Микрофонға рұқсат жоқ",
        "en": "No access to the microphone",
    },
    "call.voice": {"ru": "Вызов 102", "kk": "102 қоңырауы"},
    "call.kiosk": {
        "ru": "SOS-вызов с киоска {endpoint}",
        "kk": "{endpoint} киоскісінен SOS қоңырауы",
    },
    "call.video": {"ru": "Видеовызов из приложения", "kk": "Қосымшадан бейнеқоңырау"},
    "call.callback_answered": {
        "ru": "Ответил на автоматический перезвон",
        "kk": "Автоматты кері қоңырауға жауап берді",
    },
    "call.address": {"ru": "Адрес: {address}", "kk": "Мекенжай: {address}"},
    "call.location_too_large": {
        "ru": "Местоположение не прочитано: звонящий прислал слишком большие данные",
        "kk": "Орналасқан жер оқылмады: қоңырау шалушы тым үлкен дерек жіберді",
    },
    "call.caller_invalid": {
        "ru": "Номер вызывающего недействителен (не цифры), не показан",
        "kk": "Қоңырау шалушының нөмірі жарамсыз (цифр емес), көрсетілмеді",
    },
    "ui.live_calls": {"ru": "Звонки на линии", "kk": "Желідегі қоңыраулар", "en": "Live calls"},
    "ui.live_calls_empty": {
        "ru": "Сейчас звонков нет",
        "kk": "Қазір қоңырау жоқ",
        "en": "No calls now",
    },
    "ui.call_state": {"ru": "Состояние", "kk": "Күйі", "en": "State"},
    "ui.call_duration": {"ru": "Длительность", "kk": "Ұзақтығы", "en": "Duration"},
    "ui.call_kind_voice": {"ru": "Звонок 102", "kk": "102 қоңырауы", "en": "102 call"},
    "ui.call_kind_video": {"ru": "Видеозвонок", "kk": "Бейнеқоңырау", "en": "Video call"},
    "ui.call_kind_sos_video": {"ru": "SOS-видео", "kk": "SOS бейне", "en": "SOS video"},
    "ui.call_kind_kiosk": {"ru": "SOS-киоск", "kk": "SOS киоскі", "en": "SOS kiosk"},
    "ui.call_kind_callback": {"ru": "Обратный звонок", "kk": "Кері қоңырау", "en": "Callback"},
    "ui.call_state_holding": {
        "ru": "Ждёт оператора",
        "kk": "Операторды күтуде",
        "en": "Waiting for an operator",
    },
    "ui.call_state_ringing": {
        "ru": "Звонит оператору",
        "kk": "Операторға қоңырау шалынуда",
        "en": "Ringing an operator",
    },
    "ui.call_state_connected": {"ru": "Разговор", "kk": "Сөйлесу", "en": "In conversation"},
    "ui.call_state_held": {"ru": "На удержании", "kk": "Күту режимінде", "en": "On hold"},
    "ui.call_state_consulting": {"ru": "Консультация", "kk": "Кеңесу", "en": "Consulting"},
    "ui.call_state_transferring": {
        "ru": "Переводится",
        "kk": "Ауыстырылуда",
        "en": "Being transferred",
    },
    "ui.call_state_transferred": {"ru": "Переведён", "kk": "Ауыстырылды", "en": "Transferred"},
    "ui.spy_listen": {"ru": "Слушать", "kk": "Тыңдау", "en": "Listen"},
    "ui.spy_whisper": {"ru": "Подсказать", "kk": "Кеңес беру", "en": "Whisper"},
    "ui.spy_barge": {"ru": "Вмешаться", "kk": "Араласу", "en": "Barge in"},
    "ui.spy_title_listen": {"ru": "Прослушивание", "kk": "Тыңдап тұрсыз", "en": "Listening"},
    "ui.spy_title_whisper": {
        "ru": "Подсказка оператору",
        "kk": "Операторға кеңес",
        "en": "Whispering to the operator",
    },
    "ui.spy_title_barge": {
        "ru": "Вы в разговоре",
        "kk": "Сіз сөйлесудесіз",
        "en": "You are in the call",
    },
    "ui.spy_note_listen": {
        "ru": "Вас никто не слышит: микрофон выключен",
        "kk": "Сізді ешкім естімейді: микрофон өшірулі",
        "en": "Nobody hears you: the microphone is off",
    },
    "ui.spy_note_whisper": {
        "ru": "Вас слышит только оператор, заявитель — нет",
        "kk": "Сізді тек оператор естиді, өтініш беруші естімейді",
        "en": "Only the operator hears you, the caller does not",
    },
    "ui.spy_note_barge": {
        "ru": "Вас слышат и заявитель, и оператор",
        "kk": "Сізді өтініш беруші де, оператор да естиді",
        "en": "Both the caller and the operator hear you",
    },
    "ui.spy_stop": {"ru": "Отключиться от звонка", "kk": "Қоңыраудан шығу", "en": "Leave the call"},
    "ui.spy_connecting": {
        "ru": "Подключение к звонку…",
        "kk": "Қоңырауға қосылуда…",
        "en": "Joining the call…",
    },
    "ui.spy_failed": {
        "ru": "Не удалось подключиться к звонку",
        "kk": "Қоңырауға қосылу мүмкін болмады",
        "en": "Could not join the call",
    },
    "ui.spy_on_phone": {
        "ru": "Вы подключены к этому звонку со своего телефона",
        "kk": "Сіз бұл қоңырауға өз телефоныңыздан қосылғансыз",
        "en": "You are on this call from your own phone",
    },
    "ui.spy_desk_phone": {
        "ru": "Звонок придёт на ваш рабочий телефон",
        "kk": "Қоңырау жұмыс телефоныңызға келеді",
        "en": "The call will ring your desk phone",
    },
}
