"""contact.telephony.parse on AMI events recorded from Asterisk 22.10 (asterisk-config/), and
fuzzed: whatever an event carries, parsing never raises and nothing unsafe comes out."""

from __future__ import annotations

import base64
import re
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from contact.domain.model import ChannelKind, Language, LocationSource
from contact.telephony import parse

# --- recorded events (trimmed of the snapshot headers contact does not read) -----------------

CONTACT_CALL = {
    "Event": "UserEvent",
    "Privilege": "user,all",
    "Timestamp": "1795299225.116402",
    "Channel": "PJSIP/sipp-00000000",
    "ChannelState": "4",
    "CallerIDNum": "+77011234567",
    "Context": "inbound",
    "Exten": "102",
    "Uniqueid": "1795299225.0",
    "Linkedid": "1795299225.0",
    "UserEvent": "ContactCall",
    "Endpoint": "sipp",
    "CallerNum": "+77011234567",
    "XLocation": "lat=43.25;lon=76.95;acc=20",
    "Geo": "",
    "Kind": "voice",
}
KIOSK_CALL = {
    **CONTACT_CALL,
    "Channel": "PJSIP/kiosk-park1-00000003",
    "Uniqueid": "1795299230.7",
    "Endpoint": "kiosk-park1",
    "CallerNum": "",
    "XLocation": "lat=1;lon=2;acc=3",
    # format="GML",shape="Circle",crs="2d",pos="43.2380 76.9450",radius="10"
    "Geo": "Zm9ybWF0PSJHTUwiLHNoYXBlPSJDaXJjbGUiLGNycz0iMmQiLHBvcz0iNDMuMjM4MCA3Ni45NDUw"
    "IixyYWRpdXM9IjEwIg==",
    "Kind": "kiosk",
}
APP_VIDEO_CALL = {
    **CONTACT_CALL,
    "Channel": "PJSIP/app-demo-00000009",
    "Context": "app-inbound",
    "Endpoint": "app-demo",
    "CallerNum": "",
    "Media": "video",
    "ContactId": "a1d61e944fde438b92d81445f7b37600",
}
RECORDING = {
    "Event": "UserEvent",
    "Channel": "PJSIP/sipp-00000000",
    "Context": "contact-record",
    "Uniqueid": "1795299225.0",
    "UserEvent": "ContactRecording",
    "File": "20261121/1795299225.0.wav",
}
LANGUAGE = {
    "Event": "UserEvent",
    "Uniqueid": "1795299225.0",
    "UserEvent": "ContactLanguage",
    "Language": "kk",
}
LOCATION_MESSAGE = {
    "Event": "UserEvent",
    "Channel": "Message/ast_msg_queue",
    "Context": "contact-messages",
    "Uniqueid": "1795299306.3",
    "UserEvent": "ContactLocation",
    "Endpoint": "sipp",
    "XLocation": "lat=43.3;lon=77.0;acc=5",
}
HANGUP = {
    "Event": "Hangup",
    "Channel": "PJSIP/sipp-op-00000001",
    "Uniqueid": "61fa5e1e53fe46a3ad0182bdb2fb879d",
    "Linkedid": "1795299225.0",
    "Cause": "16",
    "Cause-txt": "Normal Clearing",
}
ORIGINATE_OK = {
    "Event": "OriginateResponse",
    "Response": "Success",
    "Channel": "PJSIP/sipp-op-00000001",
    "Context": "contact-operator-wait",
    "Reason": "4",
    "Uniqueid": "61fa5e1e53fe46a3ad0182bdb2fb879d",
}
ORIGINATE_NO_ANSWER = {
    "Event": "OriginateResponse",
    "Response": "Failure",
    "Channel": "PJSIP/sipp-op/sip:op@127.0.0.1:5999",
    "Reason": "3",
    "Uniqueid": "abc123",
}
DIAL_BEGIN = {
    "Event": "DialBegin",
    "Channel": "PJSIP/sipp-op-00000001",
    "Context": "contact-dial",
    "Uniqueid": "7ded9c1aee7d4f3389e8f931da1bfb93",
    "DestChannel": "PJSIP/sipp-trunk-00000002",
    "DestUniqueid": "1795299306.4",
}
ORIGINATE_DIAL_BEGIN = {  # an Originate's own dial: no calling channel
    "Event": "DialBegin",
    "DestChannel": "PJSIP/sipp-op-00000001",
    "DestUniqueid": "61fa5e1e53fe46a3ad0182bdb2fb879d",
}
BRIDGE_ENTER = {
    "Event": "BridgeEnter",
    "BridgeUniqueid": "b07ddadd-53b1-4fb2-9dfc-39df73be1099",
    "Channel": "PJSIP/sipp-00000000",
    "Context": "contact-connect",
    "Uniqueid": "1795299305.0",
}
TRANSFER_FAILED = {
    "Event": "UserEvent",
    "Channel": "PJSIP/sipp-00000000",
    "Context": "contact-transfer",
    "Exten": "103",
    "Uniqueid": "1795299225.0",
    "UserEvent": "ContactTransfer",
    "Result": "CHANUNAVAIL",
    "Target": "103",
}


def test_a_call_announcement() -> None:
    sig = parse.signal(CONTACT_CALL)
    assert isinstance(sig, parse.CallAnnounced)
    assert (sig.uniqueid, sig.channel, sig.endpoint) == (
        "1795299225.0",
        "PJSIP/sipp-00000000",
        "sipp",
    )
    assert sig.number == "+77011234567"
    assert sig.channel_kind is ChannelKind.VOICE
    assert sig.location is not None
    assert (sig.location.lat, sig.location.lon, sig.location.accuracy_m) == (43.25, 76.95, 20)
    assert sig.location.source is LocationSource.SIP_HEADER
    assert sig.sent_at == pytest.approx(1795299225.116402)


def test_a_kiosk_is_where_it_is_configured_not_where_it_claims() -> None:
    sig = parse.signal(KIOSK_CALL)
    assert isinstance(sig, parse.CallAnnounced)
    assert sig.channel_kind is ChannelKind.KIOSK
    assert sig.location is not None
    assert (sig.location.lat, sig.location.lon, sig.location.accuracy_m) == (43.238, 76.945, 10)
    assert sig.location.source is LocationSource.FIXED
    assert sig.number is None


def test_the_apps_video_call_of_an_sos() -> None:
    sig = parse.signal(APP_VIDEO_CALL)
    assert isinstance(sig, parse.CallAnnounced)
    assert sig.channel_kind is ChannelKind.VIDEO
    assert sig.contact_id == "a1d61e944fde438b92d81445f7b37600"
    assert parse.announced({**APP_VIDEO_CALL, "ContactId": "../x"}).contact_id is None  # type: ignore[union-attr]


def test_the_other_signals() -> None:
    assert parse.signal(RECORDING) == parse.RecordingStarted(
        "1795299225.0", "20261121/1795299225.0.wav"
    )
    assert parse.signal(LANGUAGE) == parse.LanguageChosen("1795299225.0", Language.KK)
    located = parse.signal(LOCATION_MESSAGE)
    assert isinstance(located, parse.LocationSent) and located.endpoint == "sipp"
    assert located.location.accuracy_m == 5
    assert parse.signal(HANGUP) == parse.HungUp(
        "61fa5e1e53fe46a3ad0182bdb2fb879d", "PJSIP/sipp-op-00000001", 16
    )
    assert parse.signal(ORIGINATE_OK) == parse.OriginateResult(
        "61fa5e1e53fe46a3ad0182bdb2fb879d", True, "answered"
    )
    assert parse.signal(ORIGINATE_NO_ANSWER) == parse.OriginateResult("abc123", False, "no_answer")
    assert parse.signal(DIAL_BEGIN) == parse.DialStarted(
        "7ded9c1aee7d4f3389e8f931da1bfb93", "1795299306.4"
    )
    assert parse.signal(ORIGINATE_DIAL_BEGIN) is None
    assert parse.signal(BRIDGE_ENTER) == parse.Bridged(
        "1795299305.0", "b07ddadd-53b1-4fb2-9dfc-39df73be1099"
    )
    assert parse.signal(TRANSFER_FAILED) == parse.DialplanResult(
        "1795299225.0", "transfer", "CHANUNAVAIL", "103"
    )
    assert parse.signal({"Event": "FullyBooted", "Status": "Fully Booted"}) == parse.Booted()
    assert parse.signal({"Event": "Newchannel", "Uniqueid": "1.1"}) is None


def test_bad_values_are_dropped_not_passed_on() -> None:
    assert parse.signal({**RECORDING, "File": "../../etc/passwd"}) is None
    assert parse.signal({**LANGUAGE, "Language": "en"}) is None
    assert parse.signal({**LOCATION_MESSAGE, "Endpoint": "a b"}) is None
    assert parse.signal({**CONTACT_CALL, "Uniqueid": "1;Hangup"}) is None
    sig = parse.signal({**CONTACT_CALL, "Endpoint": "x/y", "CallerNum": "12;34,56"})
    assert isinstance(sig, parse.CallAnnounced)
    # not a number: marked, never made into one by stripping
    assert sig.endpoint is None and sig.number is None and sig.caller_invalid
    result = parse.signal({**TRANSFER_FAILED, "Result": "NO\r\nANSWER", "Target": "1;2"})
    assert result == parse.DialplanResult("1795299225.0", "transfer", "NOANSWER", None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lat=43.238;lon=76.945;acc=12", (43.238, 76.945, 12.0)),
        ("LAT=1;LON=2", (1.0, 2.0, None)),
        ("lat=43;lng=76;accuracy=5", (43.0, 76.0, 5.0)),
        ("lat=91;lon=0", None),
        ("lat=nan;lon=0", None),
        ("lat=1e400;lon=0", None),
        ("lat=1", None),
        ("", None),
        ("garbage", None),
        ("lat=1;lon=2;acc=-3", (1.0, 2.0, None)),
    ],
)
def test_x_location(text: str, expected: tuple[float, float, float | None] | None) -> None:
    location = parse.parse_xlocation(text)
    if expected is None:
        assert location is None
    else:
        assert location is not None
        assert (location.lat, location.lon, location.accuracy_m) == expected


def _geo(text: str | bytes) -> str:
    """What [contact-caller] sends: GEOLOC_PROFILE's text, base64-encoded."""
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


def test_pidf_lo_shapes_and_civic_addresses() -> None:
    point = parse.parse_geo(_geo('format="GML",shape="Point",crs="2d",pos="43.2 76.9"'))
    assert point.location is not None and point.location.accuracy_m is None
    assert point.location.source is LocationSource.PIDF_LO
    circle = parse.parse_geo(
        _geo('format="GML",shape="Circle",crs="2d",pos="43.238 76.945",radius="15"')
    )
    assert circle.location is not None and circle.location.accuracy_m == 15
    civic = parse.parse_geo(
        _geo('format="civicAddress",country="KZ",A1="Almaty",A3="Almaty",RD="Abay Ave",'
             'HNO="10",FLR="3"')
    )  # fmt: skip
    assert civic.location is None
    assert civic.civic_address == "Abay Ave, 10, 3, Almaty, KZ"
    assert parse.parse_geo(_geo('format="GML",shape="Polygon",pos="1 2"')).location is None
    assert parse.parse_geo(_geo('format="URI",uri="http://x"')).location is None
    assert parse.parse_geo(None).location is None
    assert parse.parse_geo("").civic_address is None


# recorded from Asterisk 22.10: sipp's PIDF-LO (a civicAddress with xml:lang="kk") through
# [contact-caller]; its NAM carries `, " & $ ${SHELL(id)}`
RECORDED_CIVIC = (
    "Zm9ybWF0PSJjaXZpY0FkZHJlc3MiLGxhbmc9ImtrIixjb3VudHJ5PSJLWiIsQTE9ItCQ0LvQvNCw0YLRiyIsQTM9"
    "ItCQ0LvQvNCw0YLRiyIsUkQ9ItKa0LDQsdCw0L3QsdCw0Lkg0LHQsNGC0YvRgCIsU1RTPSLQtNCw0qPSk9GL0LvR"
    "iyIsSE5PPSI4NSIsRkxSPSIzIixOQU09ItCQ0LHQsNGPLCAi0LTQvtC8IiAmICR4ICR7U0hFTEwoaWQpfSI="
)


def test_a_kazakh_civic_address_keeps_every_letter() -> None:
    values = parse.decode_geo(RECORDED_CIVIC)
    assert values["RD"] == "Қабанбай батыр" and values["STS"] == "даңғылы"
    assert values["NAM"] == 'Абая, "дом" & $x ${SHELL(id)}'  # text, never evaluated
    assert "lang" not in values  # not a key contact reads
    geo = parse.parse_geo(RECORDED_CIVIC)
    assert geo.location is None
    assert geo.civic_address == (
        'Абая, "дом" & $x ${SHELL(id)}, Қабанбай батыр даңғылы, 85, 3, Алматы, KZ'
    )
    russian = parse.parse_geo(
        _geo('format="civicAddress",country="KZ",A1="Алматы",RD="Абая",STS="проспект",'
             'HNO="10",HNS="А",UNIT="2",ROOM="15",PC="050000"')
    )  # fmt: skip
    assert russian.civic_address == "Абая проспект, 10 А, 2, 15, Алматы, 050000, KZ"
    sig = parse.announced({**CONTACT_CALL, "XLocation": "", "Geo": RECORDED_CIVIC})
    assert sig is not None and sig.civic_address is not None
    assert "Қабанбай батыр" in sig.civic_address and sig.location is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # newlines, in the value and as a would-be AMI header: one line, no key `Event`
        (
            'format="civicAddress",RD="Абая\r\nEvent: Fake\r\n\r\n",HNO="1\n2"',
            {"format": "civicAddress", "RD": "Абая Event: Fake", "HNO": "1 2"},
        ),
        # separators that mean something to the dialplan, AMI, a shell or HTML: just text
        (
            'format="civicAddress",RD="Абая, 10; кв. 5 & $x ${EXTEN} <b>|",A1="Алматы"',
            {"format": "civicAddress", "RD": "Абая, 10; кв. 5 & $x ${EXTEN} <b>|", "A1": "Алматы"},
        ),
        # control, bidi-override, zero-width, private-use characters go; a tab is a space
        (
            'format="civicAddress",RD="\x00А\x1b[2Jба\u202eя\u200b\ue000\tул.\u2028"',
            {"format": "civicAddress", "RD": "А[2Jбая ул."},
        ),
        # unknown keys dropped; `format` written by the dialplan first is not overridden
        (
            'format="GML",shape="Point",pos="1 2",format="civicAddress",Event="Fake",x-y="1"',
            {"format": "GML", "shape": "Point", "pos": "1 2"},
        ),
        # keys in another case are the known ones; unquoted values are read too
        (
            'FORMAT=civicAddress, rd="Абая" , hno=5',
            {"format": "civicAddress", "RD": "Абая", "HNO": "5"},
        ),
        # one value is at most 100 characters
        (
            'format="civicAddress",RD="' + "Ә" * 300 + '"',
            {"format": "civicAddress", "RD": "Ә" * 100},
        ),
        # not key=value: what came before is kept, nothing after
        ('format="civicAddress",RD="Абая",??? HNO=1', {"format": "civicAddress", "RD": "Абая"}),
        ("", {}),
    ],
)
def test_hostile_geo_values_are_cleaned(raw: str, expected: dict[str, str]) -> None:
    assert parse.decode_geo(_geo(raw)) == expected


@pytest.mark.parametrize(
    "encoded",
    [
        _geo('format="civicAddress",RD="' + "Ә" * 4096 + '"'),  # 8 KB: over the cap
        "Zm9ybWF0PSJHTUwi!!",  # not base64
        "Zm9ybWF0PSJHTUwi\nLHNoYXBl",  # a line break inside
        " Zm9ybWF0PSJHTUwi",
        "Zm9ybWF0PSJHTUwi\n",  # a trailing line break (an AMI line end)
        "Zm9ybWF0PSJHTUw",  # not a multiple of 4
        "Zm9ybWF0PSJHTUwi====",
        "-_-_",  # URL-safe alphabet
        "format=GML|shape=Circle|crs=2d|pos=43.2380 76.9450|radius=10",  # plain text
        _geo(b'format="civicAddress",RD="\xd0\x90\xff\xfe"'),  # invalid UTF-8
        _geo(b'format="civicAddress",RD="\xed\xa0\x80"'),  # a UTF-16 surrogate in UTF-8
    ],
)
def test_a_geo_field_that_is_not_what_the_dialplan_sends_is_ignored(encoded: str) -> None:
    assert parse.decode_geo(encoded) == {}
    assert parse.parse_geo(encoded) == parse.Geo(None, None)
    sig = parse.announced({**CONTACT_CALL, "Geo": encoded})
    assert sig is not None and sig.civic_address is None  # the call itself still counts
    assert sig.location is not None and sig.location.source is LocationSource.SIP_HEADER


def test_a_letter_cut_by_the_dialplans_byte_cap_is_dropped_not_the_address() -> None:
    raw = 'format="civicAddress",RD="Қабанбай"'.encode()
    cut = raw[: raw.index("й".encode()) + 1]  # half of the last letter
    assert parse.decode_geo(_geo(cut)) == {"format": "civicAddress", "RD": "Қабанба"}
    full = ('format="civicAddress",A1="Алматы",RD="' + "Ә" * 600).encode()
    assert len(full) > parse.GEO_RAW_MAX
    capped = full[: parse.GEO_RAW_MAX]  # what ${geo:0:1024} leaves: bytes
    assert parse.decode_geo(_geo(capped))["A1"] == "Алматы"
    assert len(_geo(capped)) <= parse.GEO_ENCODED_MAX


def test_the_more_precise_of_header_and_pidf_lo_wins() -> None:
    header = parse.parse_xlocation("lat=1;lon=1;acc=5")
    geo = parse.parse_geo(_geo('format="GML",shape="Circle",pos="2 2",radius="50"')).location
    assert parse.best_location(header, geo) is header
    assert parse.best_location(parse.parse_xlocation("lat=1;lon=1"), geo) is geo
    assert parse.best_location(None, geo) is geo and parse.best_location(header, None) is header


def test_dial_strings_are_strict() -> None:
    assert parse.dialable("+77011234567") == "+77011234567"
    for bad in (None, "", "12", "+", "1;2", "1&2", "7701 123", "7" * 21, "77\n1", "${EXTEN}"):
        assert parse.dialable(bad) is None, bad
    assert parse.trunk_dial_string("103", "pstn", None) == "PJSIP/103@pstn"
    assert (
        parse.trunk_dial_string("+7701", "sipp-trunk", "127.0.0.1:5070")
        == "PJSIP/sipp-trunk/sip:+7701@127.0.0.1:5070"
    )
    with pytest.raises(ValueError):
        parse.trunk_dial_string("1;2", "pstn", None)
    with pytest.raises(ValueError):
        parse.trunk_dial_string("103", "pstn&x", None)
    assert parse.callback_dial_string("endpoint:kiosk-park1", "pstn", None) == "PJSIP/kiosk-park1"
    with pytest.raises(ValueError):
        parse.callback_dial_string("endpoint:a/b", "pstn", None)
    assert parse.operator_dial_string("PJSIP/op1") == "PJSIP/op1"
    assert parse.operator_dial_string("PJSIP/desk1/sip:desk1@10.0.0.5:5060") is not None
    for bad in ("SIP/op1", "PJSIP/op1&PJSIP/op2", "PJSIP/op1,10", "Local/1@x", "PJSIP/a b"):
        assert parse.operator_dial_string(bad) is None, bad
    assert parse.spy_data("1795299225.0", "quEB") == "1795299225.0,quEB"
    with pytest.raises(ValueError):
        parse.spy_data("1,2", "quE")
    with pytest.raises(ValueError):
        parse.spy_data("1795299225.0", "quEX(1)")


def test_live_channels_tell_callers_from_legs() -> None:
    caller = parse.live_channel(
        {
            "Event": "CoreShowChannel",
            "Channel": "PJSIP/sipp-00000000",
            "Uniqueid": "1795299225.0",
            "Linkedid": "1795299225.0",
            "Context": "contact-hold",
            "Application": "Wait",
            "ChannelStateDesc": "Up",
        }
    )
    assert caller is not None and caller.caller and not caller.operator_leg
    bridged = parse.live_channel(
        {
            "Channel": "PJSIP/sipp-00000000",
            "Uniqueid": "1795299305.0",
            "Linkedid": "1795299305.0",
            "Context": "contact-connect",
            "Application": "Bridge",
            "BridgeId": "b07d",
        }
    )
    assert bridged is not None and bridged.caller and bridged.bridge_id == "b07d"
    leg = parse.live_channel(
        {
            "Channel": "PJSIP/sipp-op-00000001",
            "Uniqueid": "61fa5e1e53fe46a3ad0182bdb2fb879d",
            "Linkedid": "1795299225.0",
            "Context": "contact-operator-wait",
            "Application": "Wait",
        }
    )
    assert leg is not None and leg.operator_leg and not leg.caller
    dialled = parse.live_channel(
        {
            "Channel": "PJSIP/sipp-trunk-00000002",
            "Uniqueid": "1795299306.4",
            "Linkedid": "7ded9c1aee7d4f3389e8f931da1bfb93",
            "Context": "inbound",
            "Application": "AppDial",
        }
    )
    assert dialled is not None and not dialled.caller
    assert parse.live_channel({"Channel": "Message/ast_msg_queue", "Uniqueid": "1.3"}) is None


def test_a_caller_read_back_at_a_resync() -> None:
    live = parse.live_channel(
        {
            "Channel": "PJSIP/sipp-00000004",
            "Uniqueid": "1795299400.9",
            "Linkedid": "1795299400.9",
            "Context": "contact-hold",
            "Application": "Wait",
        }
    )
    assert live is not None
    sig, recording = parse.announced_from_variables(
        live,
        {
            "CONTACT_CALLER_NUM": "+7701",
            "CONTACT_XLOCATION": "lat=1;lon=2",
            "CONTACT_KIND": "voice",
            "CONTACT_RECORDING": "20261121/1795299400.9.wav",
            "CHANNEL(endpoint)": "sipp",
        },
    )
    assert sig is not None and sig.number == "+7701" and sig.endpoint == "sipp"
    assert recording == "20261121/1795299400.9.wav"
    # its PIDF-LO civic address, read back from CONTACT_GEO as the UserEvent carried it
    sig, _ = parse.announced_from_variables(
        live, {"CONTACT_GEO": RECORDED_CIVIC, "CONTACT_KIND": "voice"}
    )
    assert sig is not None and sig.civic_address is not None
    assert sig.civic_address.startswith('Абая, "дом"') and "Қабанбай батыр" in sig.civic_address
    # a kiosk's configured place
    sig, _ = parse.announced_from_variables(
        live,
        {
            "CONTACT_GEO": KIOSK_CALL["Geo"],
            "CONTACT_KIND": "kiosk",
            "CONTACT_XLOCATION": "lat=1;lon=2",
        },
    )
    assert sig is not None and sig.channel_kind is ChannelKind.KIOSK and sig.location is not None
    assert (sig.location.lat, sig.location.lon, sig.location.source) == (
        43.238,
        76.945,
        LocationSource.FIXED,
    )
    # a CONTACT_GEO that is not base64 is no location, and the caller is still registered
    sig, _ = parse.announced_from_variables(live, {"CONTACT_GEO": "format=GML|pos=1 2"})
    assert sig is not None and sig.location is None and sig.civic_address is None


# --- fuzzing ----------------------------------------------------------------------------------

KEYS = st.sampled_from(
    [
        "Event",
        "UserEvent",
        "Uniqueid",
        "Channel",
        "Endpoint",
        "CallerNum",
        "XLocation",
        "Geo",
        "Kind",
        "Media",
        "Callback",
        "ContactId",
        "File",
        "Language",
        "Result",
        "Target",
        "Cause",
        "Response",
        "Reason",
        "DestUniqueid",
        "DialStatus",
        "BridgeUniqueid",
    ]
)
EVENTS = st.sampled_from(
    ["UserEvent", "Hangup", "OriginateResponse", "DialBegin", "DialEnd", "BridgeEnter", "X"]
)
USER_EVENTS = st.sampled_from(
    [
        "ContactCall",
        "ContactRecording",
        "ContactLanguage",
        "ContactLocation",
        "ContactTransfer",
        "ContactConsult",
        "ContactCallback",
    ]
)
VALUES = st.text(max_size=300) | st.sampled_from(["1795299225.0", "lat=1;lon=2", "103", "4"])
SAFE = re.compile(r"^[0-9A-Za-z_.+/@:;=|\- ]*$")


@settings(max_examples=400, deadline=None)
@given(event=EVENTS, user_event=USER_EVENTS, extra=st.dictionaries(KEYS, VALUES, max_size=12))
# found by this test in a full run: a channel or bridge id that is a lone CR came back as it was
@example(event="Hangup", user_event="ContactCall", extra={"Uniqueid": "0", "Channel": "\r"})
@example(event="BridgeEnter", user_event="X", extra={"Uniqueid": "1.1", "BridgeUniqueid": "a,\r\n"})
def test_any_event_parses_without_raising_and_yields_only_safe_values(
    event: str, user_event: str, extra: dict[str, str]
) -> None:
    message = {**extra, "Event": event, "UserEvent": user_event}
    sig = parse.signal(message)
    if sig is None:
        return
    for name in getattr(sig, "__slots__", ()):
        value = getattr(sig, name)
        if isinstance(value, str) and name != "civic_address":  # text for people, not AMI
            assert "\n" not in value and "\r" not in value and "," not in value
    if isinstance(sig, parse.CallAnnounced) and sig.civic_address is not None:
        _assert_shown_text(sig.civic_address, parse.CIVIC_ADDRESS_MAX)
    if isinstance(sig, parse.CallAnnounced):
        assert sig.number is None or re.fullmatch(r"\+?[0-9]{1,31}", sig.number)
        assert sig.endpoint is None or parse.ENDPOINT_NAME.match(sig.endpoint)
    if isinstance(sig, parse.RecordingStarted):
        assert ".." not in sig.path


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=100))
def test_numbers_and_locations_never_raise(raw: str) -> None:
    number = parse.caller_number(raw)
    assert number is None or (number == raw and re.fullmatch(r"\+?[0-9]{1,32}", number))
    if parse.dialable(raw) is not None:
        assert re.fullmatch(r"\+?[0-9]{3,20}", raw)
    parse.parse_xlocation(raw)
    parse.parse_geo(raw)


def _assert_shown_text(text: str, limit: int) -> None:
    assert 0 < len(text) <= limit and text == text.strip()
    assert not [c for c in text if unicodedata.category(c)[0] == "C" or c in "\u2028\u2029"]


GEO_TEXT = st.lists(
    st.tuples(
        st.sampled_from(
            ["format", "RD", "A1", "HNO", "pos", "posList", "shape", "lang", "Event", "x"]
        ),
        st.text(max_size=120)
        | st.sampled_from(["GML", "civicAddress", "Circle", "Polygon", "ArcBand", "1 2"])
        | st.lists(st.floats(-200, 200), max_size=12).map(lambda n: " ".join(map(str, n))),
    ),
    max_size=12,
).map(lambda items: ",".join(f'{k}="{v}"' for k, v in items))


@settings(max_examples=400, deadline=None)
@given(GEO_TEXT | st.text(max_size=1100))
def test_any_geo_text_decodes_to_known_keys_and_clean_values(text: str) -> None:
    encoded = _geo(text.encode("utf-8", "surrogatepass")[: parse.GEO_RAW_MAX])
    values = parse.decode_geo(encoded)
    assert set(values) <= parse.GEO_KEYS
    for key, value in values.items():
        _assert_shown_text(value, parse.GEO_RAW_MAX if key == "posList" else parse.GEO_VALUE_MAX)
    geo = parse.parse_geo(encoded)
    if geo.civic_address is not None:
        _assert_shown_text(geo.civic_address, parse.CIVIC_ADDRESS_MAX)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1100))
def test_any_bytes_as_geo_never_raise(raw: bytes) -> None:
    parse.parse_geo(_geo(raw))
    parse.parse_geo(_geo(raw)[:-1])


def test_a_location_header_too_large_to_read_is_said_not_dropped() -> None:
    """[contact-caller] sets CONTACT_XLOCATION to `unreadable=1` when the caller's headers were
    over what PJSIP_HEADER reads (4 KB): the operator is told, unless something else located
    the caller (its PIDF-LO); a kiosk's fixed place never needs it."""
    unreadable = {**CONTACT_CALL, "XLocation": parse.XLOCATION_UNREADABLE}
    sig = parse.announced(unreadable)
    assert sig is not None and sig.location is None and sig.location_too_large
    circle = _geo('format="GML",shape="Circle",crs="2d",pos="43.238 76.945",radius="15"')
    located = parse.announced({**unreadable, "Geo": circle})
    assert located is not None and located.location is not None
    assert not located.location_too_large
    kiosk = parse.announced({**unreadable, "Kind": "kiosk", "Geo": circle})
    assert kiosk is not None and not kiosk.location_too_large
    plain = parse.announced(CONTACT_CALL)
    assert plain is not None and not plain.location_too_large
    # what a caller could send itself is only a header without a position
    assert parse.parse_xlocation(parse.XLOCATION_UNREADABLE) is None


def test_a_caller_number_is_a_number_or_marked_invalid_never_made_into_one() -> None:
    identity = parse.caller_identity
    assert identity("+77019000001", "valid") == ("+77019000001", False)
    assert identity("77019000001", None) == ("77019000001", False)  # no status: checked here
    assert identity("", "absent") == (None, False)
    assert identity(None, None) == (None, False)
    # [contact-caller-id] found something that is not a number (the injection of issue 9)
    assert identity("", "invalid") == (None, True)
    assert identity("+77019000001999", "invalid") == (None, True)
    # and contact checks again what the dialplan let through
    for bad in ("+7701+1", "7701 900", "+", "7" * 33, "७७०१", "+77019000001\r\nEvent: X"):
        assert identity(bad, "valid") == (None, True), bad
    sig = parse.signal({**CONTACT_CALL, "CallerNum": "", "CallerStatus": "invalid"})
    assert isinstance(sig, parse.CallAnnounced) and sig.number is None and sig.caller_invalid
    sig = parse.signal({**CONTACT_CALL, "CallerStatus": "valid"})
    assert isinstance(sig, parse.CallAnnounced) and sig.number == "+77011234567"
    assert not sig.caller_invalid
    live = parse.live_channel(
        {"Channel": "PJSIP/sipp-00000004", "Uniqueid": "1795299400.9", "Context": "contact-hold"}
    )
    assert live is not None
    sig, _ = parse.announced_from_variables(
        live, {"CONTACT_CALLER_NUM": "", "CONTACT_CALLER_STATUS": "invalid"}
    )
    assert sig is not None and sig.number is None and sig.caller_invalid
