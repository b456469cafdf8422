"""Texts of the admins' pages (web/templates/admin_quick_replies.html: the operators' quick
replies), in Russian, Kazakh and English; merged into contact.i18n.CATALOGUE.

ICU messages like the rest of the catalogue: a count goes into its sentence with the plural
forms of its language; nothing is glued from pieces."""

from __future__ import annotations


def _t(ru: str, kk: str, en: str) -> dict[str, str]:
    return {"ru": ru, "kk": kk, "en": en}


# a plural message takes its number as `count` (the pages format them alike: test_languages)
_TOO_LONG = _t(
    "Слишком длинно: {count, plural, one {# символ} few {# символа} many {# символов} "
    "other {# символа}}.",
    "Тым ұзын: {count, plural, one {# таңба} other {# таңба}}.",
    "Too long: {count, plural, one {# character} other {# characters}}.",
)

ADMIN_TEXTS: dict[str, dict[str, str]] = {
    "ui.nav": _t("Разделы", "Бөлімдер", "Sections"),
    "ui.qr_title": _t(
        "Быстрые ответы операторов", "Операторлардың жылдам жауаптары", "Operators’ quick replies"
    ),
    "ui.qr_intro": _t(
        "Оператор видит ответы на языке обращения; первые девять — кнопки Alt+1…Alt+9. "
        "Каждое изменение записывается в журнал аудита.",
        "Оператор жауаптарды өтініш тілінде көреді; алғашқы тоғызы — Alt+1…Alt+9 батырмалары. "
        "Әр өзгеріс аудит журналына жазылады.",
        "Operators see the replies in the contact’s language; the first nine are the "
        "Alt+1…Alt+9 buttons. Every change is written to the audit log.",
    ),
    "ui.qr_list_kk": _t("На казахском", "Қазақ тілінде", "In Kazakh"),
    "ui.qr_list_ru": _t("На русском", "Орыс тілінде", "In Russian"),
    "ui.qr_count": _t("{count} из {max}", "{max} ішінен {count}", "{count} of {max}"),
    "ui.qr_empty": _t("Ответов нет.", "Жауаптар жоқ.", "No replies."),
    "ui.qr_position": _t("Порядок", "Реті", "Order"),
    "ui.qr_label": _t("Название кнопки", "Батырма атауы", "Button label"),
    "ui.qr_text": _t("Текст ответа", "Жауап мәтіні", "Reply text"),
    "ui.qr_language": _t("Язык ответа", "Жауап тілі", "Reply language"),
    "ui.qr_lang_kk": _t("казахский", "қазақ тілі", "Kazakh"),
    "ui.qr_lang_ru": _t("русский", "орыс тілі", "Russian"),
    "ui.qr_required": _t("обязательно", "міндетті", "required"),
    "ui.qr_up_to": _t(
        "До {count, plural, one {# символа} few {# символов} many {# символов} other {# символа}}.",
        "{count, plural, one {# таңбаға} other {# таңбаға}} дейін.",
        "Up to {count, plural, one {# character} other {# characters}}.",
    ),
    "ui.qr_position_hint": _t(
        "Меньше — выше в списке; пусто — в конец.",
        "Аз сан — тізімде жоғары; бос қалса — соңына.",
        "Lower numbers come first; empty puts it last.",
    ),
    "ui.qr_add": _t("Добавить ответ", "Жауап қосу", "Add a reply"),
    "ui.qr_edit_title": _t("Изменить ответ", "Жауапты өзгерту", "Edit the reply"),
    "ui.qr_save": _t("Сохранить", "Сақтау", "Save"),
    "ui.qr_edit": _t("Изменить", "Өзгерту", "Edit"),
    "ui.qr_edit_named": _t("Изменить «{label}»", "«{label}» өзгерту", "Edit “{label}”"),
    "ui.qr_up": _t("Выше", "Жоғары", "Up"),
    "ui.qr_up_named": _t("Выше: «{label}»", "Жоғары: «{label}»", "Up: “{label}”"),
    "ui.qr_down": _t("Ниже", "Төмен", "Down"),
    "ui.qr_down_named": _t("Ниже: «{label}»", "Төмен: «{label}»", "Down: “{label}”"),
    "ui.qr_delete": _t("Удалить", "Жою", "Delete"),
    "ui.qr_delete_named": _t("Удалить «{label}»", "«{label}» жою", "Delete “{label}”"),
    "ui.qr_delete_confirm": _t(
        "Удалить ответ «{label}»? Операторы больше не увидят его.",
        "«{label}» жауабын жою керек пе? Операторлар оны енді көрмейді.",
        "Delete the reply “{label}”? Operators will no longer see it.",
    ),
    "ui.qr_delete_yes": _t("Да, удалить", "Иә, жою", "Yes, delete"),
    "ui.qr_done_created": _t("Ответ добавлен.", "Жауап қосылды.", "The reply was added."),
    "ui.qr_done_updated": _t("Ответ сохранён.", "Жауап сақталды.", "The reply was saved."),
    "ui.qr_done_deleted": _t("Ответ удалён.", "Жауап жойылды.", "The reply was deleted."),
    "ui.qr_done_moved": _t("Порядок изменён.", "Реті өзгертілді.", "The order was changed."),
    "ui.qr_errors": _t(
        "Ответ не сохранён. Исправьте отмеченные поля:",
        "Жауап сақталмады. Белгіленген өрістерді түзетіңіз:",
        "The reply was not saved. Correct the marked fields:",
    ),
    "ui.qr_err_language": _t(
        "Выберите казахский или русский.",
        "Қазақ немесе орыс тілін таңдаңыз.",
        "Choose Kazakh or Russian.",
    ),
    "ui.qr_err_label_empty": _t(
        "Введите название кнопки.", "Батырма атауын енгізіңіз.", "Enter the button label."
    ),
    "ui.qr_err_label_long": _TOO_LONG,
    "ui.qr_err_text_empty": _t(
        "Введите текст ответа.", "Жауап мәтінін енгізіңіз.", "Enter the reply text."
    ),
    "ui.qr_err_text_long": _TOO_LONG,
    "ui.qr_err_position": _t(
        "Порядок — целое число от 0 до {max, number}.",
        "Реті — 0-ден {max, number}-ге дейінгі бүтін сан.",
        "The order is a whole number from 0 to {max, number}.",
    ),
    "ui.qr_err_too_many": _t(
        "В этом списке уже {count, plural, one {# ответ} few {# ответа} many {# ответов} "
        "other {# ответа}} — это предел. Сначала удалите ненужные.",
        "Бұл тізімде {count, plural, one {# жауап} other {# жауап}} бар — бұл шек. "
        "Алдымен қажетсіздерін жойыңыз.",
        "This list already holds {count, plural, one {# reply} other {# replies}}, the limit. "
        "Delete some first.",
    ),
    "ui.qr_err_gone": _t(
        "Этот ответ тем временем удалён. Его можно добавить заново.",
        "Бұл жауап осы уақытта жойылды. Оны қайта қосуға болады.",
        "This reply was deleted meanwhile. You can add it again.",
    ),
}
