"""Alarming words from a citizen raise keyword.alert and move a waiting contact up the queue:
in a report's first words, in a later chat message, in a caller's transcript segment."""

from __future__ import annotations

from contact.domain import events as ev
from contact.domain.commands import Accept
from contact.domain.model import ContactState, Priority
from contact.routing.lifecycle import ContactLifecycle
from tests.unit.test_routing_service import Room, operator, ready, room


def alerts(r: Room) -> list[ev.KeywordAlerted]:
    return [e for e in r.events if isinstance(e, ev.KeywordAlerted)]


def lifecycle(r: Room) -> ContactLifecycle:
    return ContactLifecycle(contacts=r.contacts, routing=r.routing, bus=r.bus, clock=r.clock)


async def test_a_report_with_danger_words_is_sos_and_alerts_at_intake() -> None:
    r = room()
    cid = await r.report("Мужчина с ножом ходит возле школы")
    assert (await r.contacts.get(cid)).priority is Priority.SOS
    (alert,) = alerts(r)
    assert (alert.contact_id, alert.category, alert.source) == (cid, "weapon", "intake")
    assert alert.words == ("ножом",) and alert.priority is Priority.SOS and not alert.raised


async def test_a_bicycle_theft_stays_an_ordinary_report() -> None:
    r = room()
    cid = await r.report("Сауда орталығының тұрағынан велосипедім ұрланды")
    assert (await r.contacts.get(cid)).priority is Priority.CHAT
    assert alerts(r) == []


async def test_a_later_message_moves_a_waiting_chat_up_the_queue() -> None:
    r = room()
    first = await r.report("Соседи шумят")
    r.clock.advance(5)
    second = await r.report("Хочу пожаловаться на участкового")
    r.clock.advance(5)
    assert [e.contact_id for e in await r.store.waiting()] == [first, second]
    await lifecycle(r).add_citizen_message(second, "Он достал нож и угрожает!")
    assert [e.contact_id for e in await r.store.waiting()] == [second, first]
    assert (await r.store.waiting())[0].priority is Priority.SOS
    assert (await r.contacts.get(second)).priority is Priority.SOS  # durable: rebuilds keep it
    (alert,) = alerts(r)
    assert alert.source == "message" and alert.raised and alert.category == "weapon"


async def test_a_transcript_segment_moves_a_waiting_call_up() -> None:
    r = room()
    earlier = await r.report("Соседи шумят")
    call = await r.report("")  # stands in for a voice contact: nothing said yet
    await lifecycle(r).triage_words(call, "у него пистолет", "transcript")
    assert [e.contact_id for e in await r.store.waiting()] == [call, earlier]
    assert alerts(r)[-1].source == "transcript"


async def test_an_answered_contact_alerts_but_never_rejoins_the_queue() -> None:
    r = room(operator("a"))
    await ready(r, "a")
    cid = await r.report("Соседи шумят")
    await r.routing.tick()
    await r.bus.execute(Accept(contact_id=cid, operator_id="a"))
    await lifecycle(r).add_citizen_message(cid, "Теперь он бьёт жену, помогите")
    assert await r.store.waiting() == []
    contact = await r.contacts.get(cid)
    assert contact.state is ContactState.CONNECTED
    (alert,) = alerts(r)
    assert alert.category == "violence" and alert.raised  # recorded as SOS for the report


async def test_calm_words_change_nothing() -> None:
    r = room()
    cid = await r.report("Соседи шумят")
    await lifecycle(r).add_citizen_message(cid, "Уже не шумят, спасибо. Пожара нет.")
    assert (await r.contacts.get(cid)).priority is Priority.CHAT
    assert alerts(r) == []
