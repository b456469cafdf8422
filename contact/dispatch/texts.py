"""The texts of dispatch: Kazakh and Russian, and English where staff read them. The
plugin declares them; the catalogue (contact.i18n) takes them in when the package is imported."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "ui.dispatch_title": {"ru": "Наряды", "kk": "Жасақтар", "en": "Patrol units"},
    "ui.dispatch_unit": {"ru": "Наряд", "kk": "Жасақ", "en": "Unit"},
    "ui.dispatch_eta": {"ru": "Прибытие", "kk": "Жету уақыты", "en": "Arrival"},
    "ui.dispatch_send": {"ru": "Направить", "kk": "Жіберу", "en": "Dispatch"},
    "ui.dispatch_incident": {"ru": "Происшествие", "kk": "Оқиға", "en": "Incident"},
    "ui.dispatch_district": {"ru": "Район", "kk": "Аудан", "en": "District"},
    "ui.dispatch_outside": {
        "ru": "Вне районов: определите ответственное УП",
        "kk": "Аудандардан тыс: жауапты ПБ-ны анықтаңыз",
        "en": "Outside the districts: decide the responsible police station",
    },
    "ui.dispatch_none": {
        "ru": "Нет свободных нарядов рядом",
        "kk": "Жақын маңда бос жасақ жоқ",
        "en": "No free units nearby",
    },
    "ui.dispatch_no_location": {
        "ru": "Местоположение неизвестно",
        "kk": "Орналасқан жері белгісіз",
        "en": "Location unknown",
    },
    "ui.dispatch_cameras": {"ru": "Камеры", "kk": "Камералар", "en": "Cameras"},
    "ui.dispatch_by_road": {"ru": "по дорогам", "kk": "жол бойынша", "en": "by road"},
    "ui.dispatch_estimate": {"ru": "оценка", "kk": "бағалау", "en": "estimate"},
    "ui.unit_available": {"ru": "свободен", "kk": "бос", "en": "available"},
    "ui.unit_dispatched": {"ru": "направлен", "kk": "жіберілді", "en": "dispatched"},
    "ui.unit_en_route": {"ru": "в пути", "kk": "жолда", "en": "en route"},
    "ui.unit_on_scene": {"ru": "на месте", "kk": "орнында", "en": "on scene"},
    "ui.unit_transporting": {"ru": "доставляет", "kk": "жеткізуде", "en": "transporting"},
    "ui.unit_out_of_service": {"ru": "не в строю", "kk": "сапта емес", "en": "out of service"},
    "ui.unit_acknowledged": {"ru": "принял", "kk": "қабылдады", "en": "acknowledged"},
    "ui.response_times": {
        "ru": "Время прибытия (цель 7 мин)",
        "kk": "Жету уақыты (мақсат 7 мин)",
        "en": "Arrival times (target 7 min)",
    },
    "ui.response_median": {"ru": "медиана", "kk": "медиана", "en": "median"},
    "ui.response_within": {"ru": "в пределах цели", "kk": "мақсат ішінде", "en": "within target"},
    "ui.camera_health": {
        "ru": "Камеры с ошибками",
        "kk": "Қатесі бар камералар",
        "en": "Cameras with errors",
    },
    "ui.map_title": {
        "ru": "Карта: заявитель, наряды, камеры",
        "kk": "Карта: өтініш беруші, жасақтар, камералар",
        "en": "Map: caller, units, cameras",
    },
    "ui.map_contact": {"ru": "Заявитель", "kk": "Өтініш беруші", "en": "Caller"},
    "ui.map_accuracy": {"ru": "точность", "kk": "дәлдік", "en": "accuracy"},
    "ui.map_camera_sees": {"ru": "видит место", "kk": "орынды көреді", "en": "sees the place"},
    "ui.map_camera_blind": {
        "ru": "не видит место",
        "kk": "орынды көрмейді",
        "en": "does not see the place",
    },
    "ui.map_no_tiles": {
        "ru": "Подложка карты не настроена: только объекты, без улиц",
        "kk": "Карта негізі бапталмаған: тек нысандар, көшелерсіз",
        "en": "No map background configured: objects only, no streets",
    },
    "ui.map_unavailable": {
        "ru": "Карта недоступна (нет библиотеки Leaflet)",
        "kk": "Карта қолжетімсіз (Leaflet кітапханасы жоқ)",
        "en": "Map unavailable (no Leaflet library)",
    },
    "ui.unit_kind_car": {"ru": "автопатруль", "kk": "автопатруль", "en": "car patrol"},
    "ui.unit_kind_foot": {"ru": "пеший патруль", "kk": "жаяу патруль", "en": "foot patrol"},
    "ui.unit_kind_bike": {"ru": "велопатруль", "kk": "велопатруль", "en": "bike patrol"},
    "ui.camera_failures": {
        "ru": "ошибок подряд",
        "kk": "қатарынан қате",
        "en": "failures in a row",
    },
    "ui.dispatch_sent_count": {
        "ru": "{count, plural, one {Направлен # наряд} few {Направлены # наряда} "
        "many {Направлено # нарядов} other {Направлено # наряда}}",
        "kk": "{count, plural, one {# жасақ жіберілді} other {# жасақ жіберілді}}",
        "en": "{count, plural, one {# unit sent} other {# units sent}}",
    },
    "ui.dispatch_sent_one": {
        "ru": "Наряд {unit} — {status}",
        "kk": "{unit} жасағы — {status}",
        "en": "Unit {unit} — {status}",
    },
}
