"""Texts of the supervisor page's staffing rota panel (web/templates/supervisor_rota.html,
web/static/supervisor-rota.js), in Russian, Kazakh and English; merged into
contact.i18n.CATALOGUE. ICU messages: numbers and names go into their sentence."""

from __future__ import annotations


def _t(ru: str, kk: str, en: str) -> dict[str, str]:
    return {"ru": ru, "kk": kk, "en": en}


ROTA_TEXTS: dict[str, dict[str, str]] = {
    "ui.rota_title": _t("Расстановка операторов", "Операторлар кестесі", "Staffing rota"),
    "ui.rota_hour": _t("Час", "Сағат", "Hour"),
    "ui.rota_group": _t("Группа навыков", "Дағды тобы", "Skill group"),
    "ui.rota_needed": _t("Нужно", "Қажет", "Needed"),
    "ui.rota_on_lines": _t("На линии", "Желіде", "On the lines"),
    "ui.rota_state": _t("Состояние", "Күйі", "Status"),
    "ui.rota_enough": _t("Достаточно", "Жеткілікті", "Enough"),
    "ui.rota_short": _t(
        "{count, plural, one {Не хватает # оператора} few {Не хватает # операторов} "
        "many {Не хватает # операторов} other {Не хватает # оператора}}",
        "{count, plural, one {# оператор жетіспейді} other {# оператор жетіспейді}}",
        "{count, plural, one {Short by # operator} other {Short by # operators}}",
    ),
    "ui.rota_none": _t(
        "На эти часы расстановка не опубликована "
        "(contact simulate СЦЕНАРИЙ --recommend --publish).",
        "Бұл сағаттарға кесте жарияланбаған (contact simulate СЦЕНАРИЙ --recommend --publish).",
        "No rota is published for these hours (contact simulate SCENARIO --recommend --publish).",
    ),
    "ui.rota_published": _t(
        "Сценарий «{scenario}», опубликовано {at}, {name}. "
        "Уровень обслуживания в симуляции: {level}.",
        "«{scenario}» сценарийі, {at} жарияланды, {name}. Симуляциядағы қызмет деңгейі: {level}.",
        "Scenario “{scenario}”, published {at} by {name}. Service level in the simulation: "
        "{level}.",
    ),
    "ui.rota_now": _t(
        "Сейчас на линии (вошли и не отошли): {on}; вошли в систему: {logged}.",
        "Қазір желіде (жүйеге кіріп, орнында): {on}; жүйеге кіргендер: {logged}.",
        "On the lines now (logged in, not away): {on}; logged in: {logged}.",
    ),
}
