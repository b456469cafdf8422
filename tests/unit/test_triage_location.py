"""Triage reads only what a citizen wrote as a message: never an address or a place name, and a
danger stem counts only where a word starts ("Батыс" holds "атыс", "Төрт" holds "өрт"), while
suffixed forms keep matching. Real place names of Almaty and Kazakhstan are the examples."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from contact.channels.alarm import parse as alarm_parse
from contact.channels.app import parse as app_parse
from contact.channels.kiosk import parse as kiosk_parse
from contact.domain.model import ChannelKind, Language, Priority
from contact.domain.triage import Intent, Verdict, priority_for
from contact.i18n import text
from contact.ports import AlarmSite, Kiosk
from contact.triage import default_triage
from tests.unit.test_telephony_voice import make_line


@pytest.mark.parametrize(
    "text",
    [
        "Батыс-2 шағын ауданы",  # a microdistrict of Aktobe: "Батыс" holds "атыс"
        "Батыс-2 шағын ауданы, 15 үй, 3 пәтер",
        "Төрткүл ауылы",  # "Төрт…" holds "өрт"
        "Төрт жол көшесі",
        "Көкөрт",  # a place name ending in "өрт"
        "Дом на Сатыс",  # "атыс" inside a word, Cyrillic
        "Нас множество, нужна справка",  # "множество" holds "нож"
        "Мне нужна справка о несудимости",
    ],
)
def test_a_stem_inside_another_word_is_no_danger(text: str) -> None:
    assert not triage(text).alarming
    assert priority_for(ChannelKind.TELEGRAM, triage(text)) is Priority.CHAT


def test_a_question_about_a_procedure_is_an_information_request() -> None:
    verdict = triage("Қалай анықтама аламын?")
    assert verdict.intent is Intent.INFORMATION
    assert priority_for(ChannelKind.TELEGRAM, verdict) is Priority.INFO


@pytest.mark.parametrize(
    "text",
    [
        "Үй өртеніп жатыр",  # the house is burning: suffixed "өрт"
        "Өрт! Көмектесіңдер!",
        "Мұнда атыс болды",  # there was shooting
        "Атыстан қорқып тұрмыз",
        "Пышақпен қорқытты",
        "Помогите, у него нож!",
        "Угрожает ножом",
        "СТРЕЛЯЮТ во дворе",
        "Её изнасиловали",  # a Russian stem after a verbal prefix
        "Ребёнка похитили",
        "Пожар в подъезде",
        "(пожар)",
        "пожар-пожар",
    ],
)
def test_danger_words_still_match_in_their_suffixed_forms(text: str) -> None:
    assert triage(text).alarming
    assert priority_for(ChannelKind.APP, triage(text)) is Priority.SOS


def _geo(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def test_a_civic_address_never_lifts_a_call(tmp_path: Path) -> None:
    """The 102 contact's summary carries the caller's civic address; triage never reads it,
    neither a real place ("Батыс-2") nor danger words a caller typed into its elements."""
    geo = _geo(
        'format="civicAddress",country="KZ",A1="Ақтөбе",A6="Батыс-2 шағын ауданы",'
        'RD="Пожар, стреляют, помогите",HNO="15"'
    )
    line = await make_line(tmp_path)
    try:
        await line.signal(
            Event="UserEvent",
            UserEvent="ContactCall",
            Uniqueid="1795299225.7",
            Channel="PJSIP/sipp-00000007",
            Endpoint="sipp",
            CallerNum="+77011234567",
            Geo=geo,
            Kind="voice",
        )
        (call,) = line.voice.live_calls()
        contact = await line.contacts.get(call.contact_id)
    finally:
        await line.voice.stop()
    assert "Батыс-2 шағын ауданы" in contact.summary and "Пожар" in contact.summary
    assert contact.priority is Priority.VOICE


def test_device_channels_triage_none_of_their_addresses() -> None:
    kiosk = Kiosk(id="k1", name="Атыс паркі", lat=43.2, lon=76.9, address="Төрткүл көшесі, 1")
    cmd = kiosk_parse.sos({}, kiosk)
    assert "Төрткүл" in cmd.text and cmd.triage_text == ""
    site = AlarmSite(id="s1", name="Мектеп №1", kind="school", lat=43.2, lon=76.9,
                     address="Батыс-2 шағын ауданы")  # fmt: skip
    alarm = alarm_parse.contact_for(alarm_parse.alarm({"site_id": "s1"}), site)
    assert "Батыс-2" in alarm.text and alarm.triage_text == ""
    limits = app_parse.Limits(max_text_chars=1000, max_photo_bytes=1000)
    sos = app_parse.sos({"text": "у него нож"}, "device-1", limits)
    assert sos.triage_text == "у него нож"


async def test_the_operator_reads_that_the_location_was_too_large(tmp_path: Path) -> None:
    line = await make_line(tmp_path)
    try:
        await line.signal(
            Event="UserEvent",
            UserEvent="ContactCall",
            Uniqueid="1795299225.8",
            Channel="PJSIP/sipp-00000008",
            Endpoint="sipp",
            CallerNum="+77011234567",
            XLocation="unreadable=1",
            Kind="voice",
        )
        (call,) = line.voice.live_calls()
        contact = await line.contacts.get(call.contact_id)
    finally:
        await line.voice.stop()
    assert contact.location is None
    assert contact.summary.endswith(text("call.location_too_large", Language.RU))
    assert text("call.location_too_large", Language.KK) != text(
        "call.location_too_large", Language.RU
    )


def triage(text: str) -> Verdict:
    return default_triage().analyse(text)
