"""The citizen's notifiers against fakes: the chat notifier (Telegram, WhatsApp) and the app
notifier decide from the events' own fields (channel, citizen, language) whether a contact is
theirs and what to say. Nothing here can read a contact back: no repository is given to them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from contact.bus import MessageBus
from contact.channels.app.notify import AppNotifier
from contact.channels.chat.ports import Conversation, Delivery
from contact.channels.telegram.notify import TelegramNotifier
from contact.channels.whatsapp.notify import WhatsAppNotifier
from contact.domain import events as ev
from contact.domain.model import ChannelKind, ContactState, Language, Priority
from contact.ports import BroadcastListener
from tests.chat_fakes import FakeConversations

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


class Outbox:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def enqueue(
        self,
        *,
        citizen: str,
        body: Mapping[str, Any],
        contact_id: str | None,
        kind: str = "notice",
        delivery_id: str | None = None,
    ) -> Delivery:
        self.sent.append(
            {"citizen": citizen, "body": dict(body), "contact_id": contact_id, "kind": kind}
        )
        return Delivery(
            id=delivery_id or "d",
            channel=ChannelKind.TELEGRAM,
            citizen=citizen,
            kind=kind,
            body=body,
            created_at=NOW,
            contact_id=contact_id,
        )

    async def status_callback(self, external_id: str, status: str, error: str | None) -> bool:
        return False


class Broadcast:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        self.published.append((topic, dict(payload)))

    def listen(self, listener: BroadcastListener) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def tg_conversation(language: Language | None = Language.RU) -> Conversation:
    return Conversation(
        channel=ChannelKind.TELEGRAM,
        citizen="777",
        address="777",
        created_at=NOW,
        language=language,
        language_chosen=language is not None,
    )


def chat_events(channel: ChannelKind | None, citizen: str | None) -> list[ev.Event]:
    return [
        ev.ContactAccepted(
            contact_id="c1", channel=channel or ChannelKind.VOICE, operator_id="op", waited_s=3.0,
            citizen=citizen,
        ),
        ev.UnitDispatched(
            dispatch_id="d1", unit_id="u1", callsign="A-12", contact_id="c1", incident_id=None,
            operator_id="op", eta_s=240.0, channel=channel, citizen=citizen,
        ),
        ev.ReplySent(
            contact_id="c1", message_id="m1", operator_id="op", text="Наряд едет",
            channel=channel, citizen=citizen,
        ),
        ev.ContactClosed(
            contact_id="c1", operator_id="op", disposition=None, channel=channel, citizen=citizen
        ),
    ]  # fmt: skip


async def test_the_chat_citizen_is_told_each_step_and_the_reply_from_the_event_s_fields() -> None:
    bus = MessageBus()
    store, outbox = FakeConversations(tg_conversation()), Outbox()
    TelegramNotifier(store=store, outbox=outbox).register(bus)
    for event in chat_events(ChannelKind.TELEGRAM, "777"):
        await bus.publish(event)
    accepted, dispatched, reply, closed = outbox.sent
    assert {s["citizen"] for s in outbox.sent} == {"777"}
    assert {s["contact_id"] for s in outbox.sent} == {"c1"}
    assert "C1" in accepted["body"]["text"] and "C1" in closed["body"]["text"]  # its number
    assert "наряд полиции" in dispatched["body"]["text"]
    assert "закрыто" in closed["body"]["text"]
    assert (reply["body"], reply["kind"]) == ({"text": "Наряд едет"}, "reply")


async def test_other_channels_contacts_cost_the_chat_notifier_nothing() -> None:
    bus = MessageBus()
    store, outbox = FakeConversations(tg_conversation()), Outbox()
    TelegramNotifier(store=store, outbox=outbox).register(bus)
    WhatsAppNotifier(store=store, outbox=outbox).register(bus)
    for event in [
        *chat_events(ChannelKind.VOICE, "+77011234567"),
        *chat_events(None, None),  # an event of an older node: no channel
        *chat_events(ChannelKind.TELEGRAM, None),
    ]:
        await bus.publish(event)
    assert outbox.sent == [] and store.asked == []  # decided without a single look-up


async def test_a_report_number_goes_in_both_languages_until_one_is_chosen() -> None:
    bus = MessageBus()
    wa = Conversation(channel=ChannelKind.WHATSAPP, citizen="KZ.1", address="KZ.1", created_at=NOW)
    outbox = Outbox()
    WhatsAppNotifier(store=FakeConversations(wa), outbox=outbox).register(bus)
    await bus.publish(
        ev.ContactReceived(
            contact_id="abcdef012345",
            channel=ChannelKind.WHATSAPP,
            priority=Priority.CHAT,
            language=None,
            citizen="KZ.1",
            location=None,
            summary="…",
        )
    )
    [received] = outbox.sent
    assert "ABCDEF01" in received["body"]["text"] and received["body"]["buttons"]


async def test_the_app_is_told_status_and_replies_on_its_device_topic() -> None:
    bus = MessageBus()
    broadcast = Broadcast()
    AppNotifier(broadcast).register(bus)
    await bus.publish(
        ev.ContactAccepted(
            contact_id="r1",
            channel=ChannelKind.APP,
            operator_id="op",
            waited_s=1.0,
            citizen="dev-1",
            language=Language.KK,
        )
    )
    await bus.publish(
        ev.ReplySent(
            contact_id="s1",
            message_id="m1",
            operator_id="op",
            text="Наряд едет",
            channel=ChannelKind.APP_SOS,
            citizen="dev-1",
        )
    )
    await bus.publish(
        ev.ContactAbandoned(
            contact_id="s1",
            previous=ContactState.QUEUED,
            channel=ChannelKind.APP_SOS,
            citizen="dev-1",
            language=Language.RU,
        )
    )
    await bus.publish(
        ev.ContactClosed(
            contact_id="r1",
            operator_id="op",
            disposition=None,
            channel=ChannelKind.APP,
            citizen="dev-1",
            language=Language.RU,
        )
    )
    for event in chat_events(ChannelKind.TELEGRAM, "777"):  # not the app's: nothing
        await bus.publish(event)
    topics = {topic for topic, _ in broadcast.published}
    assert topics == {"device:dev-1"}
    accepted, reply, withdrawn, closed = (body for _, body in broadcast.published)
    assert (accepted["type"], accepted["report_id"], accepted["status"]) == (
        "report.status",
        "r1",
        "in_progress",
    )
    assert (reply["type"], reply["sos_id"], reply["text"]) == ("sos.reply", "s1", "Наряд едет")
    assert (withdrawn["type"], withdrawn["status"]) == ("sos.status", "withdrawn")
    assert (closed["status"], closed["report_id"]) == ("closed", "r1")
    assert accepted["status_text"] != closed["status_text"]


def test_the_supervisor_s_view_of_an_event_leaves_the_citizen_out() -> None:
    [_, dispatched, reply, closed] = chat_events(ChannelKind.TELEGRAM, "777")
    for event in (dispatched, reply, closed):
        assert event.as_dict()["citizen"] == "777"
        public = event.public_dict()
        assert "citizen" not in public and public["channel"] == "telegram"
        assert public["type"] == event.name
    assert "text" not in reply.public_dict()
