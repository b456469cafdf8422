"""The driving node's resync reads Asterisk's call records (voice/records.py): a call gone
and unknown becomes one abandoned contact with its callback task; one known is left alone;
one still live and not yet registered keeps the watermark before it until it is."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contact.domain.model import ChannelKind, ContactState
from contact.telephony.voice.records import CallRecords
from tests.unit.test_telephony_voice import Line, make_line


def _line_of(uid: str, number: str) -> str:
    extra = '"{""extra"":""voice ' + number + '""}"'
    return f'"ContactCall","1795299225.5","{uid}","{uid}",{extra}\n'


@pytest.fixture
async def line(tmp_path: Path) -> AsyncIterator[Line]:
    made = await make_line(tmp_path)
    yield made
    await made.voice.stop()


async def test_records_give_back_the_calls_no_node_saw(line: Line, tmp_path: Path) -> None:
    path = tmp_path / "contact-calls.csv"
    records = CallRecords(path, tmp_path / "node" / "call-records.json")
    records.begin()  # no file yet: all of it is new when it appears
    line.voice.resyncer._records = records
    known = await line.call("1795299225.1", "+77015550001")  # seen by this node
    path.write_text(
        _line_of("1795299225.1", "+77015550001")
        + _line_of("1795299225.2", "+77015550002")  # came and went unseen
        + "garbage\n"
        + _line_of("1795299225.3", "+77015550003")  # live, its ContactCall on its way
    )
    line.control.live = [
        {
            "Channel": "PJSIP/sipp-00000001",
            "Uniqueid": "1795299225.1",
            "Linkedid": "1795299225.1",
            "Context": "contact-hold",
            "Application": "Wait",
        },
        {
            "Channel": "PJSIP/sipp-00000003",
            "Uniqueid": "1795299225.3",
            "Linkedid": "1795299225.3",
            "Context": "contact-hold",
            "Application": "Wait",
        },
    ]
    for _ in range(2):  # a second resync finds nothing new
        await line.voice.resync(full=False)
        await line.voice.idle()
    contacts = sorted((c.citizen, c.channel, c.state) for c in line.contacts.contacts.values())
    assert contacts == [
        ("+77015550001", ChannelKind.VOICE, await line.state(known)),
        ("+77015550002", ChannelKind.CALLBACK, ContactState.QUEUED),
        ("+77015550002", ChannelKind.VOICE, ContactState.ABANDONED),
    ]
    assert records.malformed == 1
    # the live one is read again until it is registered, and then never recovered
    again, _mark = records.read()
    assert [r.uniqueid for r in again] == ["1795299225.3"]
    await line.call("1795299225.3", "+77015550003")
    await line.voice.resync(full=False)
    assert records.read() == ([], None)
