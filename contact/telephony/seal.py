"""The token that tells contact's dialplan events from forged ones.

Asterisk writes the caller's number unescaped into its AMI events, so a caller who gets a line
break into it can make the stream carry an event Asterisk never sent (asterisk-config/README.md,
"Upstream bug"). Every UserEvent of asterisk-config/extensions.conf therefore carries
`Token: ${GLOBAL(CONTACT_EVENT_TOKEN)}`, a secret of this contact process: generated at its
start, set as a dialplan global (AMI Setvar without a channel) at every AMI login before the
resync, never written to a log. A UserEvent whose token is not this one is dropped and counted.

Order at a (re)login: the Setvar is written before the FullyBooted event reaches the voice
service, and Asterisk runs one session's actions in order, so the resync's CoreShowChannels
and Getvar run after the token is in place. A caller announced in between with an old token
(contact restarted) or none (Asterisk restarted: its globals are gone) has its event dropped,
and is registered by that resync from its channel variables (CONTACT_ANNOUNCED), like a
caller announced while the link was down.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping

GLOBAL = "CONTACT_EVENT_TOKEN"
FIELD = "Token"


class EventSeal:
    def __init__(self, token: str | None = None) -> None:
        self._token = token or secrets.token_hex(16)

    def setvar(self) -> dict[str, str]:
        """The AMI action that hands the token to the dialplan."""
        return {"Action": "Setvar", "Variable": GLOBAL, "Value": self._token}

    def admits(self, event: Mapping[str, str]) -> bool:
        """Asterisk's own events pass (they are checked by the reader); a UserEvent, which only
        contact's dialplan sends, needs this process's token."""
        if event.get("Event") != "UserEvent":
            return True
        token = event.get(FIELD, "")
        return hmac.compare_digest(token.encode(), self._token.encode())
