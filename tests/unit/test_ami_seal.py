"""The event token: only UserEvents with this process's token reach the voice service, the
token is set at every login before anything is handed over, and the dialplan puts it in every
UserEvent it sends."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from contact.config import AsteriskSettings
from contact.telephony import seal
from contact.telephony.ami import AmiClient
from contact.telephony.ami_reader import Defect
from contact.telephony.seal import EventSeal

ROOT = Path(__file__).resolve().parents[2]
CALL = {
    "Event": "UserEvent",
    "UserEvent": "ContactCall",
    "Uniqueid": "1796627304.0",
    "Channel": "PJSIP/sipp-00000000",
    "CallerNum": "+77019000001",
}


def test_asterisks_own_events_pass_and_a_user_event_needs_the_token() -> None:
    s = EventSeal("a" * 32)
    assert s.admits({"Event": "Hangup", "Uniqueid": "1.1"})
    assert s.admits({**CALL, "Token": "a" * 32})
    assert not s.admits(CALL)
    assert not s.admits({**CALL, "Token": ""})
    assert not s.admits({**CALL, "Token": "a" * 31})
    assert not s.admits({**CALL, "Token": "b" * 32})
    assert not s.admits({**CALL, "Token": "а" * 32})  # Cyrillic а: no exception either
    assert not s.admits({"Event": "UserEvent", "UserEvent": "Anything", "Token": "x"})


def test_every_process_has_its_own_token() -> None:
    a, b = EventSeal(), EventSeal()
    assert a.setvar()["Value"] != b.setvar()["Value"]
    assert re.fullmatch(r"[0-9a-f]{32}", a.setvar()["Value"])
    assert a.setvar() == {"Action": "Setvar", "Variable": seal.GLOBAL, "Value": a.setvar()["Value"]}


class _Manager:
    """What AmiClient uses of panoramisk's Manager, recording the order of things."""

    def __init__(self, log: list[Any]) -> None:
        self.log = log
        self.awaiting_actions: list[Any] = []

    def send_action(self, action: dict[str, str], **_: Any) -> asyncio.Future[Any]:
        self.log.append(("action", dict(action)))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result({"Response": "Success"})
        return future


def _client(log: list[Any], rejected: list[Defect], token: str) -> tuple[AmiClient, _Manager]:
    client = AmiClient(
        AsteriskSettings(),
        "secret",
        lambda event: log.append(("event", event)),
        on_reject=rejected.append,
        seal=EventSeal(token),
    )
    manager = _Manager(log)
    client._manager = manager  # type: ignore[assignment]
    return client, manager


async def test_the_token_is_set_at_login_before_fully_booted_reaches_the_service() -> None:
    log: list[Any] = []
    client, manager = _client(log, [], "c" * 32)
    client._dispatch(manager, {"Event": "FullyBooted", "Status": "Fully Booted"})
    setvar = ("action", {"Action": "Setvar", "Variable": "CONTACT_EVENT_TOKEN", "Value": "c" * 32})
    assert log[0] == setvar
    assert log[1][0] == "event" and log[1][1]["Event"] == "FullyBooted"
    # a reconnect: the same token again, again first
    client._lost(manager, None)
    log.clear()
    client._logged(manager)
    assert log == [setvar]


async def test_a_standby_sends_no_token() -> None:
    log: list[Any] = []
    client, manager = _client(log, [], "c" * 32)
    client.permitted = lambda: False  # type: ignore[method-assign]
    client._logged(manager)
    assert [entry for entry in log if entry[0] == "action"] == []


async def test_events_without_the_token_are_dropped_counted_and_the_token_never_passed_on() -> None:
    log: list[Any] = []
    rejected: list[Defect] = []
    client, manager = _client(log, rejected, "d" * 32)
    client._dispatch(manager, CALL)
    client._dispatch(manager, {**CALL, "Token": "e" * 32})
    client._dispatch(manager, {**CALL, "Token": "d" * 32})
    client._dispatch(manager, {"Event": "Hangup", "Uniqueid": "1.1"})
    events = [entry[1] for entry in log if entry[0] == "event"]
    assert events == [{k: v for k, v in CALL.items()}, {"Event": "Hangup", "Uniqueid": "1.1"}]
    assert "Token" not in events[0]
    assert rejected == [Defect.UNSEALED, Defect.UNSEALED]


def test_every_user_event_of_the_dialplan_carries_the_token() -> None:
    dialplan = (ROOT / "asterisk-config" / "extensions.conf").read_text()
    # CELGenUserEvent writes Asterisk's own record (cel_custom), never an AMI event
    calls = re.findall(r"\bUserEvent\((.*)\)\s*$", dialplan, re.M)
    assert len(calls) >= 10
    for args in calls:
        assert args.endswith(",Token: ${GLOBAL(CONTACT_EVENT_TOKEN)}"), args
