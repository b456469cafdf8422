"""The SIP identity behind /api/v1/me/softphone, read from asterisk-config/pjsip.conf."""

from __future__ import annotations

from pathlib import Path

from contact.config import AsteriskSettings
from contact.http.softphone import sip_identity, ws_origin
from contact.telephony.runner import DEFAULT_CONFIG_DIR


def test_webrtc_endpoints_follow_their_templates() -> None:
    op1 = sip_identity(DEFAULT_CONFIG_DIR, "op1")
    assert op1 is not None
    assert (op1.webrtc, op1.auth_section, op1.username) == (True, "op1-auth", "op1")
    sup = sip_identity(DEFAULT_CONFIG_DIR, "sup1")  # supervisor ← operator-webrtc ← webrtc-media
    assert sup is not None and sup.webrtc
    desk = sip_identity(DEFAULT_CONFIG_DIR, "desk1")
    assert desk is not None and not desk.webrtc
    assert sip_identity(DEFAULT_CONFIG_DIR, "nobody") is None
    assert sip_identity(DEFAULT_CONFIG_DIR, "op1-auth") is None  # an auth section is no endpoint


def test_later_options_and_comments(tmp_path: Path) -> None:
    (tmp_path / "pjsip.conf").write_text(
        "[tpl](!)\nwebrtc = no\n\n"
        "[web](!,tpl)\nwebrtc = yes ; browsers\n\n"
        "[x](web)\ntype = endpoint\nauth = x-auth\n\n"
        "[x-auth]\ntype = auth\nusername = someone\n"
        "[x-auth](+)\npassword = not-read-here\n"
    )
    x = sip_identity(tmp_path, "x")
    assert x is not None
    assert (x.webrtc, x.auth_section, x.username) == (True, "x-auth", "someone")


def test_websocket_origin_for_the_csp() -> None:
    assert ws_origin(AsteriskSettings(http_port=8188)) == "ws://127.0.0.1:8188"
    public = AsteriskSettings(ws_url="wss://pbx.police.example:443/ws")
    assert ws_origin(public) == "wss://pbx.police.example"
    assert public.effective_ws_url == "wss://pbx.police.example:443/ws"
