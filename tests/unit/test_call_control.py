"""AmiCallControl: the AMI actions it sends for an operator's leg that carries a caller's video,
and for a supervisor's spy leg (answered by a browser softphone by itself, its mode shown)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from contact.config import AsteriskSettings
from contact.errors import NotFound
from contact.telephony.ami import AmiClient
from contact.telephony.call_control import AmiCallControl

LEG = "1795299400.3"
CALLER = "1795299400.1"


@dataclass
class FakeAmi:
    """Answers Getvar from `values` (a missing channel: NotFound); records every action."""

    values: dict[str, str] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    connected: bool = True

    async def action(self, fields: Mapping[str, Any], **_: Any) -> dict[str, str]:
        self.sent.append(dict(fields))
        if fields["Action"] == "Getvar":
            if fields["Channel"] not in self.values:
                raise NotFound("Getvar: No such channel", error_id="channel_gone")
            return {"Response": "Success", "Value": self.values[fields["Channel"]]}
        return {"Response": "Success"}

    def originate(self) -> dict[str, Any]:
        return next(a for a in self.sent if a["Action"] == "Originate")


def control(ami: FakeAmi) -> AmiCallControl:
    fake: Any = ami
    client: AmiClient = fake
    return AmiCallControl(client, AsteriskSettings())


async def test_a_voice_leg_asks_for_no_codecs() -> None:
    ami = FakeAmi()
    await control(ami).ring("PJSIP/op1", LEG, 20)
    assert [a["Action"] for a in ami.sent] == ["Originate"]
    assert "Codecs" not in ami.originate()


@pytest.mark.parametrize(
    ("native", "codecs"),
    [
        ("(vp8)", "opus,g722,ulaw,alaw,vp8"),
        ("(h264)", "opus,g722,ulaw,alaw,h264"),
        ("(nothing)", None),  # the app called without a camera: audio, as for any call
        ("", None),
    ],
)
async def test_a_video_leg_is_offered_the_callers_video_codec(
    native: str, codecs: str | None
) -> None:
    ami = FakeAmi(values={CALLER: native})
    await control(ami).ring("PJSIP/op1", LEG, 20, video_of=CALLER)
    getvar = ami.sent[0]
    assert getvar == {
        "Action": "Getvar",
        "Channel": CALLER,
        "Variable": "CHANNEL(videonativeformat)",
    }
    assert ami.originate().get("Codecs") == codecs


async def test_a_video_leg_whose_caller_cannot_be_read_is_offered_every_video_codec() -> None:
    ami = FakeAmi()
    await control(ami).ring("PJSIP/op1", LEG, 20, video_of=CALLER)
    assert ami.originate()["Codecs"] == "opus,g722,ulaw,alaw,vp8,h264"


@pytest.mark.parametrize(
    ("options", "mode"), [("quE", "listen"), ("quEw", "whisper"), ("quEB", "barge")]
)
async def test_a_spy_leg_answers_by_itself_and_says_its_mode(options: str, mode: str) -> None:
    ami = FakeAmi()
    await control(ami).spy("PJSIP/sup1", LEG, CALLER, options)
    sent = ami.originate()
    assert (sent["Application"], sent["Data"], sent["ChannelId"]) == (
        "ChanSpy",
        f"{CALLER},{options}",
        LEG,
    )
    assert sent["Variable"] == [
        "PJSIP_HEADER(add,X-Contact-Answer)=auto",
        f"PJSIP_HEADER(add,X-Contact-Spy)={mode}",
    ]
