"""The app's SOS video call as sipp places it: to extension `sos` as the `sipp-app` test
endpoint, with the SOS's id and the language in its headers, audio and VP8 video offered; its
video a capture sipp can play; Asterisk's answer read for whether it took the video."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from pathlib import Path

from contact.simulate.edges.video import VP8, video_caller_scenario, write_video
from contact.simulate.edges.voice import video_answered


def test_the_video_caller_calls_sos_for_its_sos_with_audio_and_video(tmp_path: Path) -> None:
    xml = video_caller_scenario(
        number="+999123459000001",
        password="pw",
        contact_id="c0ffee",
        language="kk",
        talk_max_ms=30000,
        audio=tmp_path / "a.ul",
        video=tmp_path / "v.pcap",
    )
    root = ET.fromstring(xml)
    invites = [e.text or "" for e in root.iter("send") if "INVITE sip:sos@" in (e.text or "")]
    assert len(invites) == 2
    assert all("X-Contact-Id: c0ffee" in i and "X-Language: kk" in i for i in invites)
    assert "[authentication username=sipp-app password=pw]" in invites[1]
    assert "m=audio [media_port] RTP/AVP 0" in xml
    assert f"m=video [media_port+2] RTP/AVP {VP8}" in xml and "VP8/90000" in xml
    assert f'play_pcap_video="{tmp_path / "v.pcap"}"' in xml
    labels = {e.get("id") for e in root.iter("label")}
    assert {e.get(a) for e in root for a in ("next", "ontimeout") if e.get(a)} <= labels


def test_the_video_is_a_capture_of_vp8_rtp_packets(tmp_path: Path) -> None:
    data = write_video(tmp_path / "v.pcap", seconds=1.0, fps=5).read_bytes()
    magic, _, _, _, _, _, link = struct.unpack_from("<IHHiIII", data)
    assert magic == 0xA1B2C3D4 and link == 1  # Ethernet
    at, packets = 24, []
    while at < len(data):
        _, _, caplen, _ = struct.unpack_from("<IIII", data, at)
        packets.append(data[at + 16 : at + 16 + caplen])
        at += 16 + caplen
    assert len(packets) == 5
    rtp = packets[0][14 + 20 + 8 :]  # past Ethernet, IPv4 and UDP
    assert rtp[0] == 0x80 and rtp[1] & 0x7F == VP8


_ANSWER = """\
----------------------------------------------- 2026-12-07 13:42:46.036429
UDP message sent (527 bytes):

INVITE sip:sos@127.0.0.1:25060 SIP/2.0
m=video 24802 RTP/AVP 96

----------------------------------------------- 2026-12-07 13:42:46.050000
UDP message received [727] bytes :

SIP/2.0 200 OK
m=audio 30010 RTP/AVP 0
m=video {port} RTP/AVP 96

"""


def test_the_answer_says_whether_asterisk_took_the_video(tmp_path: Path) -> None:
    log = tmp_path / "call.log"
    log.write_text(_ANSWER.format(port=30012))
    assert video_answered(log)
    log.write_text(_ANSWER.format(port=0))  # declined: only the offer had a port
    assert not video_answered(log)
    assert not video_answered(tmp_path / "absent.log")
