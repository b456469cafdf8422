"""sipp scenarios for the callers contact starts beside itself (the demo's 102 callers, the
simulator's callers): the one way a caller dials an extension as one of Asterisk's test
endpoints (asterisk-config/pjsip.conf `[sipp]` for 102, `[sipp-app]` for the app's SOS video:
digest credentials, any number in From).

The dial: INVITE without credentials, Asterisk's 401, the ACK for it, the INVITE again with
the digest, the provisional answers (100, 180, 183, each optional) and the dialplan's 200 OK,
ACKed. What the caller does once answered is its own (`scenario_xml` wraps its steps)."""

from __future__ import annotations

from collections.abc import Sequence

CALLER_ENDPOINT = "sipp"  # asterisk-config/pjsip.conf: test callers, any number in From


def dial(
    *,
    number: str,
    password: str,
    sdp: str,
    exten: str = "102",
    user: str = CALLER_ENDPOINT,
    headers: Sequence[str] = (),
    to_tag_into: str | None = None,
) -> list[str]:
    """The steps of a call from `number` to `exten` until the dialplan's 200 OK is ACKed.
    `sdp`: the offer (sipp keywords such as [media_port] allowed); `headers`: extra lines of
    both INVITEs; `to_tag_into`: a sipp variable that keeps the 200's To tag (`tag=…`), for a
    caller that writes its dialog's headers itself later (its `last_` headers change with
    every message it receives); `user`: the test endpoint it calls as (its digest user)."""
    head = "\n".join(
        [
            "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
            f"From: <sip:{number}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]",
            f"To: <sip:{exten}@[remote_ip]:[remote_port]>",
            "Call-ID: [call_id]",
            f"Contact: <sip:{user}@[local_ip]:[local_port]>",
            "Max-Forwards: 70",
            *headers,
        ]
    )
    body = "Content-Type: application/sdp\nContent-Length: [len]\n\n" + sdp
    invite = f"INVITE sip:{exten}@[remote_ip]:[remote_port] SIP/2.0\n{head}"
    auth = f"[authentication username={user} password={password}]"
    keep_tag = (
        ""
        if to_tag_into is None
        else '<action><ereg regexp="tag=[^;>[:space:]]+" search_in="hdr" header="To:" '
        f'assign_to="{to_tag_into}"/></action>'
    )
    return [
        f'<send retrans="500"><![CDATA[\n{invite}\nCSeq: 1 INVITE\n{body}\n]]></send>',
        '<recv response="100" optional="true"/>',
        '<recv response="401" auth="true"/>',
        f"<send><![CDATA[\nACK sip:{exten}@[remote_ip]:[remote_port] SIP/2.0\n[last_Via:]\n"
        "[last_From:]\n[last_To:]\nCall-ID: [call_id]\nCSeq: 1 ACK\nMax-Forwards: 70\n"
        "Content-Length: 0\n\n]]></send>",
        f'<send retrans="500"><![CDATA[\n{invite}\nCSeq: 2 INVITE\n{auth}\n{body}\n]]></send>',
        '<recv response="100" optional="true"/>',
        '<recv response="180" optional="true"/>',
        '<recv response="183" optional="true"/>',
        f'<recv response="200" rrs="true">{keep_tag}</recv>',
        "<send><![CDATA[\nACK [next_url] SIP/2.0\n"
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
        "[last_From:]\n[last_To:]\nCall-ID: [call_id]\nCSeq: 2 ACK\nMax-Forwards: 70\n"
        "Content-Length: 0\n\n]]></send>",
    ]


def until_hung_up(wait_ms: int, dialog: str) -> list[str]:
    """The end of an answered call: the center's BYE (answered 200 OK; label `hungup` for a
    caller that received it elsewhere), or after `wait_ms` the caller's own BYE (label
    `giveup`) with `dialog`'s Via, From, To, Call-ID and Max-Forwards lines."""
    return [
        f'<recv request="BYE" timeout="{wait_ms}" ontimeout="giveup"/>',
        '<label id="hungup"/>',
        "<send><![CDATA[\nSIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:]\n"
        "[last_Call-ID:]\n[last_CSeq:]\nContent-Length: 0\n\n]]></send>",
        '<nop next="end"/>',
        '<label id="giveup"/>',
        f'<send retrans="500"><![CDATA[\nBYE [next_url] SIP/2.0\n{dialog}\n'
        "CSeq: 3 BYE\nContent-Length: 0\n\n]]></send>",
        '<recv response="200" crlf="true"/>',
        '<label id="end"/>',
    ]


def sdp(media: str, owner: str = "sim") -> str:
    """An SDP offer from 127.0.0.1 with these media lines (`m=`, `a=`, each ending in a
    newline)."""
    return f"v=0\no={owner} 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n{media}"


def scenario_xml(name: str, steps: Sequence[str]) -> str:
    """A sipp scenario file of these steps."""
    body = "\n".join(steps)
    return (
        f'<?xml version="1.0" encoding="UTF-8" ?>\n<scenario name="{name}">\n{body}\n</scenario>\n'
    )
