"""The operator's browser softphone: where and as whom it registers.

`GET /api/v1/me/softphone` gives the logged-in operator the SIP identity of their own endpoint
(`Operator.endpoint`, e.g. `PJSIP/op1`): Asterisk's WebSocket URL, the SIP URI, the digest user
and password. The endpoint must be a WebRTC one in asterisk-config/pjsip.conf; the password is
the one `contact asterisk up` generated for its auth section (secrets.json of the run
directory), never a value from the repository. Each hand-out is audited.

The page's Content-Security-Policy gets the WebSocket's origin in `connect-src`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from yarl import URL

from contact.config import AsteriskSettings
from contact.context import Key
from contact.http.api import API, acting
from contact.http.auth import check_origin
from contact.http.errors import CSP_CONNECT
from contact.http.keys import CONTAINER
from contact.http.pages import WEB_DIR

log = logging.getLogger(__name__)

BUNDLE = WEB_DIR / "static" / "dist" / "jssip.min.js"
_ENDPOINT = re.compile(r"^PJSIP/([A-Za-z0-9_.-]{1,64})\Z")
_SECTION = re.compile(r"^\[([^\]]+)\](?:\(([^)]*)\))?\Z")
_TRUE = frozenset({"yes", "true", "on", "1", "y", "t"})


@dataclass(frozen=True)
class SipAccounts:
    """Where the center's SIP endpoints are configured (its pjsip.conf) and the passwords
    `contact asterisk up` generated for them: `password(auth_section)`, None where none was
    made yet (a GET never creates secrets). The composition root provides it from
    telephony's Asterisk runner, whether or not telephony runs on this node."""

    config_dir: Path
    password: Callable[[str], str | None]


SIP_ACCOUNTS: Key[SipAccounts] = Key("sip_accounts")


@dataclass(frozen=True)
class SipIdentity:
    endpoint: str  # the pjsip endpoint name
    auth_section: str
    username: str  # digest user
    webrtc: bool


def _parse_pjsip(text: str) -> list[tuple[str, list[str], dict[str, str]]]:
    """Sections of a pjsip.conf in order: (name, templates or `!`, options; last one wins)."""
    sections: list[tuple[str, list[str], dict[str, str]]] = []
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        head = _SECTION.match(line)
        if head:
            parents = [p.strip() for p in (head.group(2) or "").split(",") if p.strip()]
            sections.append((head.group(1).strip(), parents, {}))
        elif "=" in line and sections:
            key, _, value = line.partition("=")
            sections[-1][2][key.strip().rstrip(">").strip()] = value.strip()
    return sections


def sip_identity(config_dir: Path, endpoint: str) -> SipIdentity | None:
    """The endpoint of that name in config_dir/pjsip.conf, with its templates applied."""
    sections = _parse_pjsip((config_dir / "pjsip.conf").read_text())
    templates: dict[str, dict[str, str]] = {}
    objects: dict[tuple[str, str], dict[str, str]] = {}
    for name, parents, options in sections:
        merged: dict[str, str] = {}
        for parent in parents:
            merged.update(templates.get(parent, {}))
        merged.update(options)
        if "!" in parents:
            templates[name] = merged
        elif "+" not in parents:
            objects[(merged.get("type", ""), name)] = merged
    found = objects.get(("endpoint", endpoint))
    if found is None or not found.get("auth"):
        return None
    auth_section = found["auth"].split(",")[0].strip()
    auth = objects.get(("auth", auth_section), {})
    return SipIdentity(
        endpoint=endpoint,
        auth_section=auth_section,
        username=auth.get("username", endpoint),
        webrtc=found.get("webrtc", "no").lower() in _TRUE,
    )


def ws_origin(settings: AsteriskSettings) -> str:
    url = URL(settings.effective_ws_url)
    return str(url.origin())


# why this center has no voice, in one line for the logs and the badge's tooltip
# (`contact demo` provides it when it could not start Asterisk here)
VOICE_OFF_REASON: Key[str] = Key("voice_off_reason")


def _unavailable(reason: str, detail: str | None = None) -> web.Response:
    body: dict[str, Any] = {"available": False, "reason": reason}
    if detail:
        body["detail"] = detail
    return web.json_response(body)


async def my_softphone(request: web.Request) -> web.Response:
    principal = acting(request)
    check_origin(request)
    c = request.app[CONTAINER]
    operator = await c.db.operators.get(principal.operator_id)
    settings = c.settings.asterisk
    voice_off = c.find(VOICE_OFF_REASON)
    if voice_off is not None:  # the center runs without voice: a fact, not a fault
        return _unavailable("telephony_off", voice_off)
    match = _ENDPOINT.match(operator.endpoint or "")
    if match is None:
        return _unavailable("no_endpoint")
    accounts = c.find(SIP_ACCOUNTS)
    if accounts is None:
        return _unavailable("not_provisioned")
    identity = sip_identity(accounts.config_dir, match.group(1))
    if identity is None:
        return _unavailable("unknown_endpoint")
    if not identity.webrtc:
        return _unavailable("not_webrtc")
    password = accounts.password(identity.auth_section)
    if password is None:
        return _unavailable("not_provisioned")
    ws_url = settings.effective_ws_url
    await c.db.audit.append(
        principal.operator_id, "softphone.credentials", None, {"endpoint": identity.endpoint}
    )
    body: dict[str, Any] = {
        "available": True,
        "ws_url": ws_url,
        "uri": f"sip:{identity.username}@{URL(ws_url).host}",
        "username": identity.username,
        "password": password,
        "display_name": operator.display_name,
        "endpoint": f"PJSIP/{identity.endpoint}",
    }
    return web.json_response(body)


def setup(app: web.Application) -> None:
    settings = app[CONTAINER].settings.asterisk
    app[CSP_CONNECT] = (*app.get(CSP_CONNECT, ()), ws_origin(settings))
    if not BUNDLE.is_file():
        log.warning("%s is missing (cd web && npm ci && npm run build): no softphone", BUNDLE)
    app.router.add_get(f"{API}/me/softphone", my_softphone)
