"""AmiCallControl: the CallControl port on Asterisk's AMI.

Every method is one or a few AMI actions into the dialplan contract of
asterisk-config/extensions.conf ([contact-hold], [contact-connect], [contact-transfer],
[contact-consult], [contact-operator-wait], [contact-callback*]). Values that reach Originate,
Redirect or Setvar are checked by contact.telephony.parse first and filtered again by the
dialplan. The AMI user needs only `call` and `originate` (plus `reporting` for the resync).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence

from contact.config import AsteriskSettings
from contact.errors import NotFound
from contact.telephony import parse
from contact.telephony.ami import AmiClient, AmiError

HOLD = ("contact-hold", "s")
# what an operator's leg is offered when it is to carry a caller's video too (Originate's
# `Codecs`; without it the leg is audio only): every audio codec of asterisk-config/pjsip.conf
# (Asterisk keeps those the endpoint allows) and a video codec the WebRTC templates allow. The
# bridge in [contact-connect] passes video through but cannot transcode it: the caller's own
# video codec alone (read with Getvar), or all of them when it cannot be read.
AUDIO_CODECS = ("opus", "g722", "ulaw", "alaw")
VIDEO_CODECS = ("vp8", "h264")
_SPY_MODE_OF = {options: mode for mode, (_, options) in parse.SPY_MODES.items()}


class AmiCallControl:
    def __init__(self, ami: AmiClient, settings: AsteriskSettings) -> None:
        self._ami = ami
        self._settings = settings

    @property
    def connected(self) -> bool:
        return self._ami.connected

    async def _setvar(self, channel: str, name: str, value: str) -> None:
        await self._ami.action(
            {"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value}
        )

    async def _redirect(self, channel: str, context: str, exten: str) -> None:
        await self._ami.action(
            {
                "Action": "Redirect",
                "Channel": channel,
                "Context": context,
                "Exten": exten,
                "Priority": "1",
            }
        )

    async def _trunk_vars(self, channel: str, incident_id: str | None) -> None:
        s = self._settings
        await self._setvar(channel, "CONTACT_TRUNK", s.trunk)
        await self._setvar(channel, "CONTACT_TRUNK_HOST", s.trunk_host or "")
        await self._setvar(channel, "CONTACT_INCIDENT", parse.incident_header(incident_id) or "")
        await self._setvar(channel, "CONTACT_RING_S", str(s.transfer_ring_s))

    def _target(self, target: str) -> str:
        if target not in self._settings.targets:
            raise ValueError(f"{target} is not a transfer target")
        return target

    async def hold(self, channel: str) -> None:
        await self._redirect(channel, *HOLD)

    async def ring(
        self,
        endpoint: str,
        leg_id: str,
        timeout_s: float,
        *,
        context: str = "contact-operator-wait",
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        video_of: str | None = None,
    ) -> None:
        if not parse.DIAL_STRING.match(endpoint) or parse.uniqueid(leg_id) is None:
            raise ValueError("not a phone contact may ring")
        codecs = await self._codecs_like(video_of) if video_of is not None else None
        fields = {
            "Action": "Originate",
            "Channel": endpoint,
            "Context": context,
            "Exten": "s",
            "Priority": "1",
            "Async": "true",
            "ChannelId": leg_id,
            "Timeout": str(int(timeout_s * 1000)),
            "CallerID": caller_id or "102 <102>",
        }
        action: dict[str, str | list[str]] = dict(fields)
        if codecs:
            action["Codecs"] = codecs
        if variables:
            action["Variable"] = [f"{k}={v}" for k, v in variables.items()]
        await self._ami.action(action)  # type: ignore[arg-type]

    async def _codecs_like(self, channel: str) -> str | None:
        """Originate's `Codecs` for a leg that is to carry `channel`'s video: the audio codecs
        and that channel's video codec; None (audio only, as for any call) when the channel
        has no video; every video codec when its format cannot be read."""
        try:
            reply = await self._ami.action(
                {"Action": "Getvar", "Channel": channel, "Variable": "CHANNEL(videonativeformat)"}
            )
        except (AmiError, NotFound):  # gone: the ring fails on its own; else: offer them all
            video = list(VIDEO_CODECS)
        else:
            names = re.findall(r"[a-z0-9]+", str(reply.get("Value", "") or "").lower())
            video = [c for c in VIDEO_CODECS if c in names]
            if not video:
                return None
        return ",".join((*AUDIO_CODECS, *video))

    async def connect(self, caller: str, leg: str) -> None:
        if parse.uniqueid(leg) is None:
            raise ValueError("not a leg")
        await self._setvar(caller, "CONTACT_OPERATOR_LEG", leg)
        await self._redirect(caller, "contact-connect", "s")

    async def blind_transfer(self, caller: str, target: str, incident_id: str | None) -> None:
        exten = self._target(target)
        await self._trunk_vars(caller, incident_id)
        await self._redirect(caller, "contact-transfer", exten)

    async def consult(
        self, caller: str, operator_leg: str, target: str, incident_id: str | None
    ) -> None:
        exten = self._target(target)
        await self._trunk_vars(operator_leg, incident_id)
        await self._ami.action(
            {
                "Action": "Redirect",
                "Channel": caller,
                "Context": HOLD[0],
                "Exten": HOLD[1],
                "Priority": "1",
                "ExtraChannel": operator_leg,
                "ExtraContext": "contact-consult",
                "ExtraExten": exten,
                "ExtraPriority": "1",
            }
        )

    async def hangup(self, channel: str, cause: int = parse.NORMAL_CLEARING) -> None:
        with contextlib.suppress(NotFound):  # already gone: what was asked
            await self._ami.action({"Action": "Hangup", "Channel": channel, "Cause": str(cause)})

    async def spy(self, endpoint: str, leg_id: str, spied: str, options: str) -> None:
        if not parse.DIAL_STRING.match(endpoint) or parse.uniqueid(leg_id) is None:
            raise ValueError("not a phone contact may ring")
        action: dict[str, str | list[str]] = {
            "Action": "Originate",
            "Channel": endpoint,
            "Application": "ChanSpy",
            "Data": parse.spy_data(spied, options),
            "Async": "true",
            "ChannelId": leg_id,
            "Timeout": "30000",
            "CallerID": "102 <102>",
        }
        # a browser softphone answers the spy leg by itself (the supervisor has just clicked
        # listen, whisper or barge in the page) and shows the mode; a desk phone ignores both
        mode = _SPY_MODE_OF.get(options)
        if mode is not None:
            action["Variable"] = [
                "PJSIP_HEADER(add,X-Contact-Answer)=auto",
                f"PJSIP_HEADER(add,X-Contact-Spy)={mode}",
            ]
        await self._ami.action(action)  # type: ignore[arg-type]

    async def channels(self) -> list[Mapping[str, str]]:
        return list(await self._ami.events({"Action": "CoreShowChannels"}, "CoreShowChannel"))

    async def variables(self, channel: str, names: Sequence[str]) -> dict[str, str]:
        values: dict[str, str] = {}
        for name in names:
            try:
                reply = await self._ami.action(
                    {"Action": "Getvar", "Channel": channel, "Variable": name}
                )
            except AmiError:  # an unset function or variable is an empty one
                continue
            values[name] = str(reply.get("Value", "") or "")
        return values

    async def set_globals(self, variables: Mapping[str, str]) -> None:
        for name, value in variables.items():
            await self._ami.action({"Action": "Setvar", "Variable": name, "Value": value})
