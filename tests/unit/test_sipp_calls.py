"""The one way contact's sipp callers dial: challenged, then with the digest; the dialplan's
200 OK ACKed; the To tag kept when the caller writes its dialog itself."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from contact.sipp_calls import dial, scenario_xml


def test_a_caller_dials_answers_the_challenge_and_acks_the_answer() -> None:
    steps = dial(number="+99900001", password="pw", sdp="v=0\n", headers=["X-Test: 1"])
    root = ET.fromstring(scenario_xml("t", steps))  # well-formed
    sent = [e.text or "" for e in root.iter("send")]
    invites = [s for s in sent if s.lstrip().startswith("INVITE sip:102@")]
    assert len(invites) == 2
    assert "[authentication" not in invites[0]
    assert "[authentication username=sipp password=pw]" in invites[1]
    assert all("X-Test: 1" in s and "From: <sip:+99900001@" in s for s in invites)
    assert [e.get("response") for e in root.iter("recv")] == [
        "100",
        "401",
        "100",
        "180",
        "183",
        "200",
    ]
    assert sent[-1].lstrip().startswith("ACK [next_url]")
    assert not list(root.iter("action"))  # nothing kept unless asked


def test_the_to_tag_is_kept_for_a_dialog_written_later() -> None:
    steps = dial(number="1", password="pw", sdp="", exten="sos", to_tag_into="totag")
    root = ET.fromstring(scenario_xml("t", steps))
    ok = next(e for e in root.iter("recv") if e.get("response") == "200")
    ereg = ok.find("action/ereg")
    assert ereg is not None and ereg.get("assign_to") == "totag"
    assert ereg.get("header") == "To:"
    assert "INVITE sip:sos@" in (next(root.iter("send")).text or "")
