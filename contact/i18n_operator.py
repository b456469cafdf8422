"""Texts of the operator's workplace (web/templates/operator.html, web/static/operator.js and
the dispatch panel), in Russian, Kazakh and English; merged into contact.i18n.CATALOGUE.

ICU messages like the rest of the catalogue: a value goes into its sentence as `{name}`, a
person's state takes her or his form (`{gender, select, …}`); nothing is glued from pieces."""

from __future__ import annotations


def _t(ru: str, kk: str, en: str) -> dict[str, str]:
    return {"ru": ru, "kk": kk, "en": en}


# «Отошёл» / «Отошла» / neutral, as presence.away says it
_AWAY_RU = "Статус «{gender, select, female {Отошла} male {Отошёл} other {Нет на месте}}»"


OPERATOR_TEXTS: dict[str, dict[str, str]] = {
    "ui.op_who_what": _t("Кто и что", "Кім және не", "Who and what"),
    "ui.op_idle": _t(
        "Нет открытого обращения. Нажмите «Готов» (Alt+R), чтобы получать обращения.",
        "Ашық өтініш жоқ. Өтініш алу үшін «Дайын» батырмасын басыңыз (Alt+R).",
        "No open contact. Press Ready (Alt+R) to receive contacts.",
    ),
    "ui.op_open_for": _t("Открыто", "Ашық", "Open for"),
    "ui.op_history": _t("Прежние обращения", "Бұрынғы өтініштер", "Earlier contacts"),
    "ui.op_call_controls": _t("Управление звонком", "Қоңырауды басқару", "Call controls"),
    "ui.op_hold": _t("Удержание", "Ұстау", "Hold"),
    "ui.op_resume": _t("Снять с удержания", "Ұстаудан шығару", "Resume"),
    "ui.op_transfer": _t("Перевести на", "Ауыстыру", "Transfer to"),
    "ui.op_transfer_go": _t(
        "Перевести с происшествием", "Оқиғамен бірге ауыстыру", "Transfer with the incident"
    ),
    "ui.op_end_call": _t("Завершить звонок", "Қоңырауды аяқтау", "End the call"),
    "ui.op_service_101": _t("пожарная служба", "өрт сөндіру қызметі", "fire service"),
    "ui.op_service_103": _t("скорая помощь", "жедел жәрдем", "ambulance"),
    "ui.op_service_104": _t("газовая служба", "газ қызметі", "gas emergency"),
    "ui.op_service_112": _t("служба спасения", "құтқару қызметі", "rescue service"),
    "ui.op_conversation": _t("Переписка", "Хат алмасу", "Conversation"),
    "ui.op_quick_replies": _t("Быстрые ответы", "Жылдам жауаптар", "Quick replies"),
    "ui.op_incident_type": _t("Тип происшествия", "Оқиға түрі", "Incident type"),
    "ui.op_outcome": _t("Итог", "Нәтиже", "Outcome"),
    "ui.op_sound": _t("Звук предложения", "Ұсыныс дыбысы", "Offer sound"),
    "ui.op_sound_hint": _t(
        "Короткий сигнал при новом предложении",
        "Жаңа ұсыныс келгенде қысқа дыбыс",
        "A short tone when a contact is offered",
    ),
    "ui.op_keys": _t("Клавиши", "Пернелер", "Keys"),
    "ui.op_key_accept": _t("Принять предложение", "Ұсынысты қабылдау", "Accept the offer"),
    "ui.op_key_ready": _t("Готов", "Дайын", "Ready"),
    "ui.op_key_away": _t("Отойти", "Орнынан кету", "Step away"),
    "ui.op_key_reply": _t("К полю ответа", "Жауап өрісіне өту", "Go to the reply box"),
    "ui.op_key_send": _t("Отправить ответ", "Жауапты жіберу", "Send the reply"),
    "ui.op_key_quick": _t("Вставить быстрый ответ", "Жылдам жауапты қою", "Insert a quick reply"),
    "ui.op_key_dispatch": _t(
        "Направить первый предложенный наряд",
        "Ұсынылған бірінші жасақты жіберу",
        "Dispatch the first suggested unit",
    ),
    "ui.op_key_close": _t("Закрыть обращение", "Өтінішті жабу", "Close the contact"),
    "ui.op_key_help": _t("Показать эти клавиши", "Осы пернелерді көрсету", "Show these keys"),
    "ui.op_key_escape": _t("Закрыть это окно", "Осы терезені жабу", "Close this window"),
    "ui.op_key_close_help": _t("Понятно", "Түсінікті", "Got it"),
    "ui.op_legend": _t("Условные обозначения", "Шартты белгілер", "Legend"),
    "ui.op_legend_suggested": _t("Предложенный наряд", "Ұсынылған жасақ", "Suggested unit"),
    "ui.op_legend_dispatched": _t("Направленный наряд", "Жіберілген жасақ", "Dispatched unit"),
    "ui.op_legend_camera": _t(
        "Камера (зелёная видит место)",
        "Камера (жасылы орынды көреді)",
        "Camera (green: sees the place)",
    ),
    "ui.op_near_camera": _t(
        "рядом с камерой {name}", "{name} камерасының жанында", "near camera {name}"
    ),
    "ui.op_near_kiosk": _t("рядом с {name}", "{name} жанында", "near {name}"),
    "ui.op_no_address": _t("Адрес не определён", "Мекенжай анықталмады", "Address unknown"),
    "ui.op_eta_road": _t(
        "Прибытие — по дорогам.", "Жету уақыты — жолдар бойынша.", "Arrival by road."
    ),
    "ui.op_eta_estimate": _t(
        "≈ — оценка по прямой с поправкой на дороги.",
        "≈ — жолға түзетілген түзу сызықпен бағалау.",
        "≈ — straight-line estimate, corrected for roads.",
    ),
    "ui.op_eta_target": _t(
        "⚠ — дольше норматива {target}.",
        "⚠ — {target} нормативінен ұзақ.",
        "⚠ — over the {target} target.",
    ),
    "ui.op_eta_late": _t(
        "Дольше норматива {target}", "{target} нормативінен ұзақ", "Over the {target} target"
    ),
    "ui.op_state_closed": _t("закрыто", "жабылды", "closed"),
    "ui.op_state_abandoned": _t("не дождался ответа", "жауап күтпеді", "gave up waiting"),
    "ui.op_state_connected": _t("в работе", "жұмыста", "in progress"),
    "ui.op_state_wrap_up": _t("оформление", "рәсімдеу", "wrap-up"),
    "ui.op_state_queued": _t("в очереди", "кезекте", "in the queue"),
    "ui.op_state_offered": _t("предложено", "ұсынылды", "offered"),
    "ui.away_reason_missed_offer": _t(
        _AWAY_RU + ": предложение не принято вовремя. Нажмите «Готов», когда вернётесь.",
        "Мәртебе «Орнында жоқ»: ұсыныс уақтылы қабылданбады. Оралғанда «Дайын» басыңыз.",
        "Set to Away: the offer was not accepted in time. Press Ready when you are back.",
    ),
    "ui.away_reason_declined": _t(
        _AWAY_RU + ": вы отклонили предложение.",
        "Мәртебе «Орнында жоқ»: сіз ұсыныстан бас тарттыңыз.",
        "Set to Away: you declined the offer.",
    ),
    "ui.away_reason_no_phone": _t(
        _AWAY_RU + ": телефон не ответил на звонок.",
        "Мәртебе «Орнында жоқ»: телефон қоңырауға жауап бермеді.",
        "Set to Away: your phone did not answer.",
    ),
    "ui.away_reason_logout": _t(
        _AWAY_RU + ": выполнен выход.",
        "Мәртебе «Орнында жоқ»: жүйеден шықтыңыз.",
        "Set to Away: you signed out.",
    ),
    "ui.away_reason_supervisor": _t(
        _AWAY_RU + ": изменён супервизором.",
        "Мәртебе «Орнында жоқ»: супервизор өзгертті.",
        "Set to Away by a supervisor.",
    ),
    "ui.away_reason_other": _t(
        "Статус изменён на «{gender, select, female {Отошла} male {Отошёл} other {Нет на месте}}».",
        "Мәртебе «Орнында жоқ» болып өзгерді.",
        "Your status is now Away.",
    ),
    # incident types (the triage categories, and two of the desk's own) and outcomes on close
    "ui.it_weapon": _t("Оружие", "Қару", "Weapon"),
    "ui.it_fire": _t("Пожар", "Өрт", "Fire"),
    "ui.it_violence": _t("Насилие, драка", "Зорлық, төбелес", "Violence, fight"),
    "ui.it_injured": _t("Пострадавший", "Зардап шеккен", "Injured person"),
    "ui.it_child": _t("Ребёнок в опасности", "Бала қауіпте", "Child in danger"),
    "ui.it_hostage": _t("Заложники", "Кепілдегілер", "Hostages"),
    "ui.it_explosion": _t("Взрыв", "Жарылыс", "Explosion"),
    "ui.it_road_accident": _t("ДТП", "ЖКО", "Road accident"),
    "ui.it_theft": _t("Кража", "Ұрлық", "Theft"),
    "ui.it_lost_documents": _t("Утеря документов", "Құжаттарды жоғалту", "Lost documents"),
    "ui.it_noise": _t("Шум", "Шу", "Noise"),
    "ui.it_procedure": _t("Вопрос о порядке", "Тәртіп туралы сұрақ", "Question about procedure"),
    "ui.it_report_status": _t("Статус заявления", "Өтініш мәртебесі", "Status of a report"),
    "ui.it_office_address": _t("Адрес отдела", "Бөлім мекенжайы", "Police station address"),
    "ui.it_other": _t("Другое", "Басқа", "Other"),
    "ui.it_false_call": _t("Ложный вызов", "Жалған шақыру", "False call"),
    "ui.outcome_unit_dispatched": _t("Направлен наряд", "Жасақ жіберілді", "Unit dispatched"),
    "ui.outcome_advised": _t("Дана консультация", "Кеңес берілді", "Advice given"),
    "ui.outcome_transferred": _t(
        "Передано в службу", "Қызметке берілді", "Transferred to a service"
    ),
    "ui.outcome_resolved": _t("Решено на месте", "Орнында шешілді", "Resolved on the spot"),
    "ui.outcome_no_answer": _t(
        "Заявитель не ответил", "Өтініш беруші жауап бермеді", "Caller did not answer"
    ),
    "ui.outcome_duplicate": _t("Повтор", "Қайталау", "Duplicate"),
}
