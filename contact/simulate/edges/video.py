"""The citizen app's SOS video call, as far as sipp can place it.

The app presses SOS (`POST /api/v1/app/sos`, `edges/app.py`); the center answers with what its
video call needs (docs/device-channels.md): extension `sos` of Asterisk's `[app-inbound]`, the
header `X-Contact-Id: <the SOS>`, video both ways. The app's own endpoints are WebRTC (DTLS-SRTP
keys, ICE, SIP over a WebSocket): sipp speaks none of them, so the simulated phone calls as the
test endpoint `sipp-app` of asterisk-config/pjsip.conf instead, which lands in the same
`[app-inbound]` with plain RTP: the same dialplan (Media: video from the negotiated formats,
the contact id, the language from `X-Language`), the same AMI events, the same joining of the
call to its SOS contact and ringing of the operator who holds it. The caller offers PCMU audio
(its tone, looped) and VP8 video (RTP frames from a capture written here: a few key frames a
second, not a picture anyone could decode, which Asterisk relays without decoding), and waits
for the center to hang up, at most `talk_max_ms`.

What stays untested here is the WebRTC transport itself (tests/e2e/test_webrtc_softphone.py
covers it with Chromium), and the operator's side of the video: the bots' sipp phones allow
audio only, so Asterisk offers them the call without its video.
"""

from __future__ import annotations

import struct
from pathlib import Path

from contact.sipp_calls import dial, scenario_xml, sdp, until_hung_up

APP_ENDPOINT = "sipp-app"  # asterisk-config/pjsip.conf: the app's SOS video as sipp places it
VP8 = 96  # the RTP payload type the caller's SDP gives VP8

_SDP = sdp(
    "m=audio [media_port] RTP/AVP 0\na=rtpmap:0 PCMU/8000\na=sendrecv\n"
    f"m=video [media_port+2] RTP/AVP {VP8}\na=rtpmap:{VP8} VP8/90000\na=sendrecv\n"
)


def video_caller_scenario(
    *,
    number: str,
    password: str,
    contact_id: str,
    language: str,
    talk_max_ms: int,
    audio: Path,
    video: Path,
) -> str:
    """The app's video call for the SOS `contact_id`: answered by the dialplan, it sends its
    audio (looped) and its video (the capture, once), then waits for the center's BYE (the
    operator hung up), at most `talk_max_ms` before hanging up itself."""
    me = f"<sip:{number}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]"
    dialog = (
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
        f"From: {me}\nTo: <sip:sos@[remote_ip]:[remote_port]>;[$totag]\n"
        "Call-ID: [call_id]\nMax-Forwards: 70"
    )
    headers = [f"X-Contact-Id: {contact_id}", f"X-Language: {language}"]
    steps = [
        *dial(
            number=number,
            password=password,
            sdp=_SDP,
            exten="sos",
            user=APP_ENDPOINT,
            headers=headers,
            to_tag_into="totag",
        ),
        f'<nop><action><exec rtp_stream="{audio},-1,0"/></action></nop>',
        f'<nop><action><exec play_pcap_video="{video}"/></action></nop>',
        *until_hung_up(talk_max_ms, dialog),
    ]
    return scenario_xml("sim-sos-video", steps)


def write_video(path: Path, seconds: float = 10.0, fps: int = 5) -> Path:
    """A pcap of VP8 RTP packets, what sipp's play_pcap_video sends: one small key frame per
    packet, `fps` a second (Ethernet, IPv4, UDP headers as a capture has them)."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    ssrc = 0x51A0_5000
    for n in range(int(seconds * fps)):
        # VP8 payload descriptor (start of a partition), then a key frame's tag, start code
        # and size (16×16), then filler
        frame = bytes([0x10, 0x50, 0x01, 0x00, 0x9D, 0x01, 0x2A, 16, 0, 16, 0]) + bytes(64)
        rtp = struct.pack("!BBHII", 0x80, 0x80 | VP8, n & 0xFFFF, n * 90000 // fps, ssrc)
        udp_payload = rtp + frame
        udp = struct.pack("!HHHH", 40000, 40002, 8 + len(udp_payload), 0) + udp_payload
        ip = struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(udp),
            n & 0xFFFF,
            0,
            64,
            17,
            0,
            bytes([127, 0, 0, 1]),
            bytes([127, 0, 0, 1]),
        )
        packet = b"\x00" * 12 + b"\x08\x00" + ip + udp
        t = n / fps
        out += struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(packet), len(packet))
        out += packet
    path.write_bytes(bytes(out))
    return path
