"""ContactLifecycle.join with fakes: what joins a contact goes to its operator only when they are
there; the video call of an app SOS never rings the phone of an operator who left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contact.config import AuthSettings
from contact.domain import events as ev
from contact.domain.commands import Accept, RegisterContact
from contact.domain.model import ChannelKind, ContactState, Operator, Presence, Role
from contact.ports import Session
from contact.routing.attendance import Absence, Attendance
from contact.routing.lifecycle import ContactLifecycle
from tests.fakes import FakeOperatorRepository
from tests.unit.test_telephony_voice import Line, make_line


class FakeAttendance:
    def __init__(self) -> None:
        self.away: dict[str, Absence] = {}

    async def absence(self, operator_id: str) -> Absence | None:
        return self.away.get(operator_id)


async def _sos_held_by_op(line: Line) -> str:
    sos = await line.bus.execute(
        RegisterContact(channel=ChannelKind.APP_SOS, text="SOS", citizen="device-0001")
    )
    await line.routing.tick()
    await line.bus.execute(Accept(contact_id=sos.contact_id, operator_id="op"))
    assert await line.state(sos.contact_id) is ContactState.CONNECTED
    return str(sos.contact_id)


async def _video_call(line: Line, contact_id: str) -> None:
    await line.signal(
        Event="UserEvent",
        UserEvent="ContactCall",
        Uniqueid="1795299300.1",
        Channel="PJSIP/app-demo-00000001",
        Endpoint="app-demo",
        Media="video",
        ContactId=contact_id,
    )


@pytest.mark.parametrize("present", [True, False])
async def test_an_sos_video_call_rings_its_operator_only_if_they_are_there(
    tmp_path: Path, present: bool
) -> None:
    line = await make_line(tmp_path)
    try:
        attendance = FakeAttendance()
        lifecycle = ContactLifecycle(
            contacts=line.contacts,
            routing=line.routing,
            bus=line.bus,
            clock=line.clock,
            attendance=attendance,  # type: ignore[arg-type]
        )
        line.voice.set_join(lifecycle.join)  # what telephony/service.py wires
        contact_id = await _sos_held_by_op(line)
        if not present:
            attendance.away["op"] = Absence("holder_without_session", Presence.BUSY)
        await _video_call(line, contact_id)
        rung = [args for args in line.control.named("ring")]
        if present:
            assert len(rung) == 1
            assert await line.state(contact_id) is ContactState.CONNECTED
            return
        assert rung == []  # nobody is at that phone
        contact = await line.contacts.get(contact_id)
        assert contact.state is ContactState.QUEUED and contact.operator_id is None
        reclaimed = [e for e in line.events if isinstance(e, ev.ContactReclaimed)]
        assert [(e.operator_id, e.reason) for e in reclaimed] == [("op", "holder_without_session")]
        # its place: its first arrival; the operator whose session lapsed is away
        assert contact.queued_at == contact.created_at
        assert line.operators.presence["op"] is Presence.AWAY
        assert line.voice.live_call(contact_id) is not None  # the video call waits with it
    finally:
        await line.voice.stop()


class FakeSessions:
    def __init__(self, *sessions: Session) -> None:
        self.sessions = list(sessions)

    async def for_operator(self, operator_id: str) -> list[Session]:
        return [s for s in self.sessions if s.operator_id == operator_id]


def _session(seen_s_ago: float, created_s_ago: float = 60.0) -> Session:
    now = datetime.now(UTC)
    return Session(
        token_hash="h" * 64,
        operator_id="op",
        role=Role.OPERATOR,
        csrf_token="c",
        created_at=now - timedelta(seconds=created_s_ago),
        last_seen_at=now - timedelta(seconds=seen_s_ago),
    )


async def test_attendance_is_a_live_session_and_not_away() -> None:
    settings = AuthSettings(session_idle_s=1800, session_absolute_s=43200)
    operators = FakeOperatorRepository(Operator(id="op", username="op", display_name="Op"))
    await operators.set_presence("op", Presence.BUSY)

    async def absence(*sessions: Session) -> str | None:
        found = await Attendance(operators, FakeSessions(*sessions), settings).absence("op")  # type: ignore[arg-type]
        return None if found is None else found.reason

    assert await absence(_session(10)) is None
    assert await absence() == "holder_without_session"  # logged out everywhere
    assert await absence(_session(1801)) == "holder_without_session"  # idle past the timeout
    assert await absence(_session(10, created_s_ago=43201)) == "holder_without_session"
    assert await absence(_session(1801), _session(5)) is None  # another workplace is live
    await operators.set_presence("op", Presence.AWAY)
    assert await absence(_session(10)) == "holder_away"
