"""The simulator signs as the real senders do: its kiosk signature, written from
docs/device-channels.md, is what the center's kiosk channel verifies; every retry is a new
request (a later timestamp), never a replay; its WhatsApp signature is Meta's; and the chat
stand-ins only ever listen on this machine."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from contact.channels.kiosk import parse as kiosk
from contact.channels.whatsapp.parse import check_signature
from contact.errors import Forbidden, Unauthorized
from contact.simulate.edges.chat import loopback_address
from contact.simulate.edges.devices import KioskSigner, kiosk_signature
from contact.simulate.standins.whatsapp import sign

KEY = "k" * 43
PATH = "/api/v1/kiosks/park-01/sos"


def test_the_kiosk_signature_is_the_documented_one() -> None:
    body = b'{"press_id": "p1"}'
    base = b"1795300085\nPOST\n" + PATH.encode() + b"\n" + body
    expected = "sha256=" + hmac.new(KEY.encode(), base, hashlib.sha256).hexdigest()
    assert kiosk_signature(KEY, "1795300085", "post", PATH, body) == expected
    assert kiosk_signature(KEY, "1795300085", "POST", PATH, body) == kiosk.sign(
        KEY, "1795300085", "POST", PATH, body
    )


def test_the_center_verifies_what_the_simulator_signs() -> None:
    body = json.dumps({"press_id": "p1", "language": "kk"}).encode()
    headers = KioskSigner(KEY, clock=lambda: 1_795_300_085.7).headers(PATH, body)
    signed = kiosk.signed_headers(headers["X-Timestamp"], headers["X-Signature"])
    kiosk.verify(KEY, signed, "POST", PATH, body, now=1_795_300_090, window_s=300)
    with pytest.raises(Unauthorized):  # another path (a heartbeat replayed as a press)
        kiosk.verify(KEY, signed, "POST", PATH[:-3] + "heartbeat", body, now=1e9, window_s=1e9)
    with pytest.raises(Unauthorized):  # another body
        kiosk.verify(KEY, signed, "POST", PATH, body + b" ", now=1_795_300_090, window_s=300)
    with pytest.raises(Unauthorized):  # another key
        kiosk.verify("x" * 43, signed, "POST", PATH, body, now=1_795_300_090, window_s=300)


def test_a_retry_within_the_same_second_is_a_new_request_not_a_replay() -> None:
    signer = KioskSigner(KEY, clock=lambda: 1_795_300_085.2)
    tries = [signer.headers(PATH, b"{}") for _ in range(3)]
    stamps = [int(h["X-Timestamp"]) for h in tries]
    assert stamps == [1_795_300_085, 1_795_300_086, 1_795_300_087]
    digests = {
        kiosk.replay_digest("park-01", kiosk.signed_headers(h["X-Timestamp"], h["X-Signature"]))
        for h in tries
    }
    assert len(digests) == 3  # the center's replay store takes each once


def test_the_whatsapp_signature_is_metas() -> None:
    # Meta's test vector: HMAC_SHA256(key "secret", "test")
    assert sign(b"test", "secret") == (
        "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
    )
    body = b'{"object": "whatsapp_business_account"}'
    check_signature("app-secret", body, sign(body, "app-secret"))  # the center takes it
    with pytest.raises(Forbidden):
        check_signature("another-secret", body, sign(body, "app-secret"))


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("http://127.0.0.1:8081", ("127.0.0.1", 8081)),
        ("http://localhost:9000/", ("localhost", 9000)),
        ("https://api.telegram.org", None),  # the real one: never driven
        ("https://graph.facebook.com", None),
        ("http://127.0.0.1", None),  # no port to listen on
        ("http://10.0.0.5:8081", None),  # another machine
        ("http://127.0.0.1:99999", None),
    ],
)
def test_stand_ins_listen_only_on_this_machine(url: str, where: tuple[str, int] | None) -> None:
    assert loopback_address(url) == where
