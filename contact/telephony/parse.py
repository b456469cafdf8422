"""AMI events → typed call signals, and the values contact puts into AMI actions. Pure: no
I/O, no panoramisk; tested on recorded AMI event dicts and fuzzed.

Nothing from an event is trusted: the dialplan already filtered what a caller controls
(asterisk-config/extensions.conf), and it is checked again here against strict patterns.
What contact sends back (dial strings, ChanSpy data, variables) is built only from values that
passed these patterns.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from contact.domain.model import ChannelKind, Language, Location, LocationSource
from contact.telephony import shapes

# --- value patterns -------------------------------------------------------------------------

UNIQUEID = re.compile(r"^[0-9a-f][0-9a-f.]{0,63}\Z")  # Asterisk's epoch.seq, or our own hex ids
CHANNEL_NAME = re.compile(r"^[A-Za-z]+/[A-Za-z0-9_.@:+;/-]{1,120}\Z")
ENDPOINT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}\Z")
# an operator's phone as stored on the operator (admin-controlled, still checked): an endpoint,
# optionally with an explicit URI (PJSIP/desk1/sip:desk1@10.0.0.5:5060)
DIAL_STRING = re.compile(
    r"^PJSIP/[A-Za-z0-9_.-]{1,64}"
    r"(/sips?:[A-Za-z0-9_.+-]{1,64}@[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?)?$"
)
DIALABLE = re.compile(r"^\+?[0-9]{3,20}\Z")
RECORDING_PATH = re.compile(r"^[0-9]{8}/[0-9a-f][0-9a-f.]{0,63}\.wav\Z")
INCIDENT_ID = re.compile(r"^[0-9a-f]{1,32}\Z")
HEX_ID = re.compile(r"^[0-9a-f]{32}\Z")  # contact's own ids (new_id)

# a caller's number as contact accepts it: digits and one leading +, at most 32 characters
CALLER_NUMBER = re.compile(r"^(?=.{1,32}\Z)\+?[0-9]+\Z")
CALLER_CONTEXTS = frozenset(
    {
        "inbound",
        "app-inbound",
        "contact-caller",
        "contact-language",
        "contact-record",
        "contact-hold",
        "contact-connect",
        "contact-transfer",
        "contact-dial",
        "contact-callback-auto",
    }
)
OPERATOR_CONTEXTS = frozenset({"contact-operator-wait", "contact-consult", "contact-callback"})

# ChanSpy on the citizen's channel hears both sides. `q` no beep, `u` the argument is a
# uniqueid, `E` ends with the spied channel; `w` whispers to the spied channel only (spying on
# the operator's leg: coaching), `B` barges in (both hear the supervisor).
SPY_MODES: dict[str, tuple[str, str]] = {
    "listen": ("citizen", "quE"),
    "whisper": ("operator", "quEw"),
    "barge": ("citizen", "quEB"),
}

NORMAL_CLEARING = 16
# SoftHangupRequest's Cause is the soft hangup's reason flag: AST_SOFTHANGUP_SHUTDOWN
SOFTHANGUP_SHUTDOWN = "4"


def caller_number(raw: str | None) -> str | None:
    """The number itself when it is digits and one leading `+` (at most 32 characters), else
    None: nothing is stripped or cut to make a number of what is not one."""
    return raw if raw and CALLER_NUMBER.match(raw) else None


def caller_identity(raw: str | None, status: str | None) -> tuple[str | None, bool]:
    """ContactCall's `CallerNum` and `CallerStatus` ([contact-caller-id]) → the number, and
    whether the caller sent one that is not a number (marked on the contact, never trusted)."""
    if status == "invalid":
        return None, True
    if not raw:
        return None, False
    number = caller_number(raw)
    return number, number is None


def dialable(number: str | None) -> str | None:
    """A number contact may dial back: strict (digits, an optional leading +, 3 to 20)."""
    if number is None or not DIALABLE.match(number):
        return None
    return number


def uniqueid(raw: str | None) -> str | None:
    return raw if raw and UNIQUEID.match(raw) else None


def operator_dial_string(endpoint: str | None) -> str | None:
    """An operator's or supervisor's phone as stored on the operator, if it is safe to dial."""
    if endpoint is None or not DIAL_STRING.match(endpoint):
        return None
    return endpoint


def trunk_dial_string(number: str, trunk: str, trunk_host: str | None) -> str:
    """Where a citizen's number is dialled (automatic callbacks): strictly checked parts."""
    if not DIALABLE.match(number) or not ENDPOINT_NAME.match(trunk):
        raise ValueError("not a dialable number or trunk")
    if trunk_host is None:
        return f"PJSIP/{number}@{trunk}"
    if not re.match(r"^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?\Z", trunk_host):
        raise ValueError("not a trunk host")
    return f"PJSIP/{trunk}/sip:{number}@{trunk_host}"


def callback_dial_string(target: str, trunk: str, trunk_host: str | None) -> str:
    """A callback target is a number (through the trunk) or `endpoint:<name>` (a kiosk or the
    citizen app, which register)."""
    if target.startswith("endpoint:"):
        name = target.removeprefix("endpoint:")
        if not ENDPOINT_NAME.match(name):
            raise ValueError("not an endpoint name")
        return f"PJSIP/{name}"
    return trunk_dial_string(target, trunk, trunk_host)


def spy_data(spied: str, options: str) -> str:
    if not UNIQUEID.match(spied) or not re.match(r"^[quEwB]{1,8}\Z", options):
        raise ValueError("not a channel to spy on")
    return f"{spied},{options}"


def recording_path(raw: str | None) -> str | None:
    return raw if raw and RECORDING_PATH.match(raw) and ".." not in raw else None


def incident_header(incident_id: str | None) -> str | None:
    return incident_id if incident_id and INCIDENT_ID.match(incident_id) else None


# --- locations --------------------------------------------------------------------------------


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# what [contact-caller] puts in CONTACT_XLOCATION when the caller's headers were too large to
# read (PJSIP_HEADER and PJSIP_HEADERS() both fail on a header over 4 KB)
XLOCATION_UNREADABLE = "unreadable=1"


def parse_xlocation(text: str | None) -> Location | None:
    """`lat=43.238;lon=76.945;acc=12` (X-Location, or the app's MESSAGE) → a Location."""
    if not text:
        return None
    values: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            values.setdefault(key.strip().lower(), value.strip())
    lat = _number(values.get("lat"))
    lon = _number(values.get("lon") or values.get("lng"))
    acc = _number(values.get("acc") or values.get("accuracy") or values.get("radius"))
    if lat is None or lon is None:
        return None
    try:
        return Location(
            lat=lat,
            lon=lon,
            accuracy_m=acc if acc is not None and acc >= 0 else None,
            source=LocationSource.SIP_HEADER,
        )
    except ValueError:
        return None


# The ContactCall `Geo` field and the CONTACT_GEO variable read back at a resync: what
# GEOLOC_PROFILE gives, `format="GML",shape="Circle",crs="2d",pos="LAT LON",radius="R"` or
# `format="civicAddress",country="KZ",A1="Алматы",RD="Абая",HNO="10"`, base64-encoded by the
# dialplan ([contact-caller]) from at most GEO_RAW_MAX bytes so that a Cyrillic or Kazakh civic
# address survives and nothing in it can end a UserEvent header. Decoded here, and nothing of it
# is trusted: strict base64, UTF-8, length caps, only the keys below, no control characters.
GEO_RAW_MAX = 1024
GEO_ENCODED_MAX = 4 * ((GEO_RAW_MAX + 2) // 3)  # 1368
GEO_VALUE_MAX = 100
CIVIC_ADDRESS_MAX = 200

# what res_geolocation's GML shape definitions carry (`geoloc show gml_shape_defs`)
_GML_KEYS = (
    "shape", "crs", "pos", "posList", "radius", "semiMajorAxis", "semiMinorAxis",
    "verticalAxis", "orientation", "innerRadius", "outerRadius", "startAngle", "openingAngle",
    "height",
)  # fmt: skip
# RFC 5139 / RFC 4776 civic address elements (those res_geolocation knows)
_CIVIC_KEYS = (
    "country", "A1", "A2", "A3", "A4", "A5", "A6", "PRM", "PRD", "RD", "STS", "POD", "POM",
    "RDSEC", "RDBR", "RDSUBBR", "HNO", "HNS", "LMK", "LOC", "FLR", "NAM", "PC", "BLD", "UNIT",
    "ROOM", "SEAT", "PLC", "PCN", "POBOX", "ADDCODE",
)  # fmt: skip
GEO_KEYS = frozenset({"format", *_GML_KEYS, *_CIVIC_KEYS})
_GEO_KEY_BY_LOWER = {key.lower(): key for key in GEO_KEYS}

# an address as a reader expects it: the place's name, the street, the house, inside the
# building, then the wider areas; the parts of one group are joined by a space
_CIVIC_GROUPS = (
    ("NAM",),
    ("PRM", "PRD", "RD", "STS", "POD", "POM"),
    ("RDSEC",),
    ("RDBR",),
    ("RDSUBBR",),
    ("HNO", "HNS"),
    ("BLD",),
    ("UNIT",),
    ("FLR",),
    ("ROOM",),
    ("SEAT",),
    ("LMK",),
    ("LOC",),
    ("PLC",),
    ("A6",),
    ("A5",),
    ("A4",),
    ("A3",),
    ("A2",),
    ("A1",),
    ("PCN",),
    ("PC",),
    ("POBOX",),
    ("country",),
)

_BASE64 = re.compile(r"\A(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")
_GEO_KEY = r"[A-Za-z][A-Za-z0-9_]{0,31}"
# key="value" (GEOLOC_PROFILE quotes every value and does not escape a quote inside one: a
# quoted value ends at the quote followed by `,key=` or the end) or key=value (also a quoted
# value the byte cap cut short), then a comma
_GEO_ITEM = re.compile(
    rf'\s*({_GEO_KEY})\s*=\s*(?:"(.*?)"(?=\s*,\s*{_GEO_KEY}\s*=|\s*\Z)|([^,]*))\s*(?:,|\Z)',
    re.S,
)


def _utf8(raw: bytes) -> str | None:
    """Strict UTF-8; a character cut in two by the dialplan's byte cap is dropped."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.end == len(raw):
            try:
                return raw[: exc.start].decode("utf-8")
            except UnicodeDecodeError:
                return None
        return None


def clean_text(value: str, limit: int = GEO_VALUE_MAX) -> str:
    """Text a caller sent, fit to show a person: NFC, no control, format (bidi overrides,
    zero-width), private-use or unassigned characters, any run of spaces and line breaks one
    space, at most `limit` characters."""
    kept = []
    for ch in unicodedata.normalize("NFC", value):
        category = unicodedata.category(ch)
        if category[0] == "Z" or ch in "\t\n\r\v\f":
            kept.append(" ")
        elif category[0] != "C":
            kept.append(ch)
    return " ".join("".join(kept).split())[:limit].strip()


@dataclass(frozen=True, slots=True)
class GeoItem:
    key: str
    value: str
    cut: bool  # a quoted value the byte cap ended: its last characters may be missing


def geo_items(encoded: str | None) -> list[GeoItem]:
    """The `Geo` field (or CONTACT_GEO) → its known keys with cleaned values, in order and
    repeats kept (a GML Polygon is `pos` after `pos`); empty when it is not strict base64 of at
    most GEO_RAW_MAX bytes of UTF-8."""
    if not encoded or len(encoded) > GEO_ENCODED_MAX or not _BASE64.match(encoded):
        return []
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return []
    text = _utf8(raw[:GEO_RAW_MAX])
    if text is None:
        return []
    items: list[GeoItem] = []
    pos = 0
    while pos < len(text):
        item = _GEO_ITEM.match(text, pos)
        if item is None or item.end() == pos:
            break  # not key=value: what came before stays, the rest is dropped
        pos = item.end()
        key = _GEO_KEY_BY_LOWER.get(item.group(1).lower())
        quoted, bare = item.group(2), item.group(3)
        limit = GEO_RAW_MAX if key == "posList" else GEO_VALUE_MAX
        value = clean_text(quoted if quoted is not None else bare.strip().strip('"'), limit)
        cut = quoted is None and bare.strip().startswith('"') and not bare.strip()[1:].count('"')
        if key is not None and value:
            items.append(GeoItem(key, value, cut))
    return items


def decode_geo(encoded: str | None) -> dict[str, str]:
    """The `Geo` field's known keys and cleaned values (geo_items); the first of a repeated
    key wins (`format`, which the dialplan writes first)."""
    values: dict[str, str] = {}
    for item in geo_items(encoded):
        values.setdefault(item.key, item.value)
    return values


@dataclass(frozen=True, slots=True)
class Geo:
    location: Location | None
    civic_address: str | None


def civic_address(values: Mapping[str, str]) -> str | None:
    """The civic address elements as one line for the operator, at most CIVIC_ADDRESS_MAX."""
    parts: list[str] = []
    for group in _CIVIC_GROUPS:
        part = " ".join(values[name] for name in group if values.get(name))
        if part and part not in parts:
            parts.append(part)
    return ", ".join(parts)[:CIVIC_ADDRESS_MAX].strip(" ,") or None


def parse_geo(text: str | None, *, fixed: bool = False) -> Geo:
    """The ContactCall `Geo` field (RFC 6442 PIDF-LO as GEOLOC_PROFILE gives it, or a kiosk's
    configured location, base64-encoded): a GML shape → a Location (a point, or the shape's
    centroid with a radius that covers it: see shapes.py); a civicAddress → the address as
    text. Anything else (URI references, junk) → neither."""
    items = geo_items(text)
    values: dict[str, str] = {}
    for item in items:
        values.setdefault(item.key, item.value)
    fmt = values.get("format", "").lower()
    if fmt == "civicaddress":
        return Geo(None, civic_address(values))
    if fmt != "gml":
        return Geo(None, None)
    placed = _placed(values, items)
    if placed is None:
        return Geo(None, None)
    try:
        location = Location(
            lat=placed.lat,
            lon=placed.lon,
            accuracy_m=placed.radius_m,
            source=LocationSource.FIXED if fixed else LocationSource.PIDF_LO,
        )
    except ValueError:
        return Geo(None, None)
    return Geo(location, None)


def _numbers(text: str | None) -> list[float] | None:
    """Space-separated finite numbers; None when any is not one."""
    if text is None:
        return None
    found = [_number(part) for part in text.split()]
    return None if any(n is None for n in found) else [n for n in found if n is not None]


def _angle(text: str | None) -> float | None:
    """`30`, `30 degrees` or `0.52 radians` (res_geolocation writes the unit) → degrees."""
    if text is None:
        return None
    number, _, unit = text.partition(" ")
    value = _number(number)
    if value is None or unit.strip().lower() not in ("", "degrees", "radians"):
        return None
    return math.degrees(value) if unit.strip().lower() == "radians" else value


def _vertices(values: Mapping[str, str], items: list[GeoItem]) -> list[tuple[float, float]]:
    """A Polygon's or Prism's positions: `pos` after `pos`, or one `posList` (3 numbers a
    position in crs 3d). A position the byte cap cut is left out (the rest still places it)."""
    size = 3 if values.get("crs", "").lower() == "3d" else 2
    coords: list[list[float]] = []
    for item in items:
        if item.key == "pos" and not item.cut:
            numbers = _numbers(item.value)
            if numbers is None or len(numbers) < 2:
                return []
            coords.append(numbers)
        elif item.key == "posList":
            numbers = _numbers(" ".join(item.value.split()[:-1] if item.cut else [item.value]))
            if numbers is None:
                return []
            whole = len(numbers) - len(numbers) % size
            coords.extend(numbers[i : i + size] for i in range(0, whole, size))
    return [(c[0], c[1]) for c in coords]


def _placed(values: Mapping[str, str], items: list[GeoItem]) -> shapes.Placed | None:
    shape = values.get("shape", "").lower()
    if shape in ("polygon", "prism"):
        return shapes.polygon(_vertices(values, items))
    pos = _numbers(values.get("pos"))
    if pos is None or len(pos) < 2:
        return None
    lat, lon = pos[0], pos[1]
    if shape == "point":
        return shapes.circle(lat, lon, None)
    if shape in ("circle", "sphere"):
        radius = _number(values.get("radius"))
    elif shape in ("ellipse", "ellipsoid"):  # within its semi-major axis whatever its turn
        radius = _number(values.get("semiMajorAxis"))
    elif shape == "arcband":
        inner, outer = _number(values.get("innerRadius")), _number(values.get("outerRadius"))
        start, opening = _angle(values.get("startAngle")), _angle(values.get("openingAngle"))
        if inner is None or outer is None or start is None or opening is None:
            return None
        return shapes.arc_band(lat, lon, inner, outer, start, opening)
    else:
        return None
    return shapes.circle(lat, lon, radius)


def best_location(header: Location | None, geo: Location | None) -> Location | None:
    """The caller's X-Location and its PIDF-LO: the more precise one (PIDF-LO on a tie)."""
    if header is None or geo is None:
        return geo or header
    if header.accuracy_m is not None and (
        geo.accuracy_m is None or header.accuracy_m < geo.accuracy_m
    ):
        return header
    return geo


# --- signals ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallAnnounced:
    """UserEvent ContactCall: a citizen's call reached the dialplan (before Answer)."""

    uniqueid: str
    channel: str
    endpoint: str | None
    number: str | None
    channel_kind: ChannelKind
    location: Location | None
    civic_address: str | None
    callback_id: str | None = None
    # the citizen app's video call of an SOS it already reported (X-Contact-Id)
    contact_id: str | None = None
    sent_at: float | None = None  # Asterisk's Timestamp
    # the operator whose armed phone the dialplan rang for this call ([contact-armed-claim])
    armed_operator: str | None = None
    # the caller sent its location in a header too large for the dialplan to read (X-Location
    # longer than 4 KB), and nothing else located it: the operator is told so
    location_too_large: bool = False
    # the caller sent something that is not a number ([contact-caller-id]): none is shown
    caller_invalid: bool = False


@dataclass(frozen=True, slots=True)
class ArmedRing:
    """UserEvent ContactArmedRing: the dialplan rings an armed phone for `caller`; `uniqueid`
    is that leg's."""

    uniqueid: str
    caller: str


@dataclass(frozen=True, slots=True)
class RecordingStarted:
    uniqueid: str
    path: str


@dataclass(frozen=True, slots=True)
class LanguageChosen:
    uniqueid: str
    language: Language


@dataclass(frozen=True, slots=True)
class LocationSent:
    """UserEvent ContactLocation: a caller's device sent its position (SIP MESSAGE)."""

    endpoint: str
    location: Location


@dataclass(frozen=True, slots=True)
class HungUp:
    uniqueid: str
    channel: str
    cause: int | None


@dataclass(frozen=True, slots=True)
class OriginateResult:
    uniqueid: str
    answered: bool
    reason: str  # answered | no_answer | busy | congestion | failed


@dataclass(frozen=True, slots=True)
class DialStarted:
    uniqueid: str
    dest_uniqueid: str


@dataclass(frozen=True, slots=True)
class DialEnded:
    uniqueid: str
    dest_uniqueid: str | None
    status: str


@dataclass(frozen=True, slots=True)
class Bridged:
    uniqueid: str
    bridge_id: str


@dataclass(frozen=True, slots=True)
class DialplanResult:
    """UserEvent ContactTransfer, ContactConsult, ContactCallback: a dial of ours ended."""

    uniqueid: str
    kind: str  # transfer | consult | callback
    result: str  # ANSWER, NOANSWER, BUSY, CONGESTION, CHANUNAVAIL, CANCEL …
    target: str | None


@dataclass(frozen=True, slots=True)
class Booted:
    """FullyBooted: AMI logged in to a running Asterisk (after a start or a reconnect)."""


@dataclass(frozen=True, slots=True)
class Drift:
    """Not from AMI: time for the periodic check of contact's picture against Asterisk's."""


@dataclass(frozen=True, slots=True)
class ShuttingDown:
    """Asterisk is stopping (its Shutdown event, or the soft hangups of every channel that come
    first): what ends now was dropped, the link is about to go."""


Signal = (
    CallAnnounced
    | RecordingStarted
    | LanguageChosen
    | LocationSent
    | HungUp
    | OriginateResult
    | ArmedRing
    | DialStarted
    | DialEnded
    | Bridged
    | DialplanResult
    | Booted
    | Drift
    | ShuttingDown
)

_ORIGINATE_REASONS = {"4": "answered", "3": "no_answer", "5": "busy", "8": "congestion"}
_DIALPLAN_RESULTS = {
    "ContactTransfer": "transfer",
    "ContactConsult": "consult",
    "ContactCallback": "callback",
}


def _channel_kind(event: Mapping[str, str]) -> ChannelKind:
    if event.get("Media") == "video":
        return ChannelKind.VIDEO
    if event.get("Kind") == "kiosk":
        return ChannelKind.KIOSK
    return ChannelKind.VOICE


def _timestamp(event: Mapping[str, str]) -> float | None:
    return _number(event.get("Timestamp"))


def announced(event: Mapping[str, str]) -> CallAnnounced | None:
    """A ContactCall UserEvent (or the same fields read back with Getvar at a resync)."""
    uid = uniqueid(event.get("Uniqueid"))
    channel = event.get("Channel", "")
    if uid is None or not CHANNEL_NAME.match(channel):
        return None
    kind = _channel_kind(event)
    endpoint = event.get("Endpoint") or None
    if endpoint is not None and not ENDPOINT_NAME.match(endpoint):
        endpoint = None
    geo = parse_geo(event.get("Geo"), fixed=kind is ChannelKind.KIOSK)
    unreadable = False
    if kind is ChannelKind.KIOSK:
        # the kiosk's configured place is authoritative; what the device claims is not
        location = geo.location
    else:
        xlocation = event.get("XLocation")
        location = best_location(parse_xlocation(xlocation), geo.location)
        unreadable = xlocation == XLOCATION_UNREADABLE
    callback = event.get("Callback") or None
    contact_id = event.get("ContactId") or None
    armed = event.get("Armed") or None
    number, invalid = caller_identity(event.get("CallerNum"), event.get("CallerStatus"))
    return CallAnnounced(
        uniqueid=uid,
        channel=channel,
        endpoint=endpoint,
        number=number,
        channel_kind=kind,
        location=location,
        civic_address=geo.civic_address,
        callback_id=callback if callback and HEX_ID.match(callback) else None,
        contact_id=contact_id if contact_id and HEX_ID.match(contact_id) else None,
        sent_at=_timestamp(event),
        armed_operator=armed if armed and HEX_ID.match(armed) else None,
        location_too_large=unreadable and location is None,
        caller_invalid=invalid,
    )


DIAL_STATUS = re.compile(r"[A-Z]{1,20}\Z")
BRIDGE_ID = re.compile(r"[0-9A-Za-z-]{1,64}\Z")


def signal(event: Mapping[str, str]) -> Signal | None:
    """The AMI event as a signal contact acts on; None for everything else (most events)."""
    name = event.get("Event")
    if name == "UserEvent":
        return _user_event(event)
    if name == "Hangup":
        uid = uniqueid(event.get("Uniqueid"))
        if uid is None:
            return None
        cause, channel = event.get("Cause", ""), event.get("Channel", "")
        channel = channel if CHANNEL_NAME.match(channel) else ""  # a name, or none
        return HungUp(uid, channel, int(cause) if cause.isdigit() else None)
    if name == "OriginateResponse":
        uid = uniqueid(event.get("Uniqueid"))
        if uid is None:
            return None
        reason = _ORIGINATE_REASONS.get(event.get("Reason", ""), "failed")
        answered = event.get("Response") == "Success" and reason == "answered"
        return OriginateResult(uid, answered, reason)
    if name in ("DialBegin", "DialEnd"):
        uid, dest = uniqueid(event.get("Uniqueid")), uniqueid(event.get("DestUniqueid"))
        if uid is None:
            return None  # an Originate's own dial has no calling channel
        if name == "DialBegin":
            return DialStarted(uid, dest) if dest is not None else None
        status = event.get("DialStatus", "")
        # a word of Asterisk's (ANSWER, BUSY, NOANSWER …); anything else is no status
        return DialEnded(uid, dest, status if DIAL_STATUS.match(status) else "")
    if name == "BridgeEnter":
        uid = uniqueid(event.get("Uniqueid"))
        bridge = event.get("BridgeUniqueid", "")
        bridge = bridge if BRIDGE_ID.match(bridge) else ""  # Asterisk's UUID, or none
        return Bridged(uid, bridge) if uid is not None else None
    if name == "FullyBooted":
        return Booted()
    if name == "Shutdown":
        return ShuttingDown()
    if name == "SoftHangupRequest" and event.get("Cause") == SOFTHANGUP_SHUTDOWN:
        # a stopping Asterisk hangs up every channel before it says Shutdown
        return ShuttingDown()
    return None


def _user_event(event: Mapping[str, str]) -> Signal | None:
    kind = event.get("UserEvent")
    uid = uniqueid(event.get("Uniqueid"))
    if kind == "ContactCall":
        return announced(event)
    if kind == "ContactLocation":
        endpoint = event.get("Endpoint", "")
        location = parse_xlocation(event.get("XLocation"))
        if not ENDPOINT_NAME.match(endpoint) or location is None:
            return None
        return LocationSent(endpoint, location)
    if uid is None:
        return None
    if kind in ("ContactArmedRing", "ContactArmedAnswered"):
        caller = uniqueid(event.get("Caller"))
        if caller is None or caller == uid:
            return None
        if kind == "ContactArmedRing":
            return ArmedRing(uid, caller)
        return OriginateResult(uid, True, "answered")  # no OriginateResponse for these legs
    if kind == "ContactRecording":
        path = recording_path(event.get("File"))
        return RecordingStarted(uid, path) if path is not None else None
    if kind == "ContactLanguage":
        try:
            return LanguageChosen(uid, Language(event.get("Language", "")))
        except ValueError:
            return None
    if kind in _DIALPLAN_RESULTS:
        result = re.sub(r"[^A-Z]", "", event.get("Result", ""))[:20] or "FAILED"
        target = event.get("Target") or None
        if target is not None and not re.match(r"^[0-9]{2,6}\Z", target):
            target = None
        return DialplanResult(uid, _DIALPLAN_RESULTS[kind], result, target)
    return None


# --- resync: live channels ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiveChannel:
    uniqueid: str
    channel: str
    context: str
    state: str  # Up, Ring, Ringing …
    bridge_id: str | None
    caller: bool  # a citizen's own call into the dialplan (not a leg contact made)
    operator_leg: bool  # a leg contact originated (operator, callback)


def live_channel(info: Mapping[str, str]) -> LiveChannel | None:
    """A CoreShowChannel entry. A caller is a channel that started its own call (Linkedid is
    its Uniqueid) into one of the citizen contexts, not a dialled leg (AppDial)."""
    uid = uniqueid(info.get("Uniqueid"))
    channel = info.get("Channel", "")
    if uid is None or not CHANNEL_NAME.match(channel) or channel.startswith("Message/"):
        return None
    context = info.get("Context", "")
    app = info.get("Application", "")
    caller = (
        context in CALLER_CONTEXTS and info.get("Linkedid", uid) == uid and app != "AppDial"
    ) or (context == "contact-connect" and app == "Bridge")
    return LiveChannel(
        uniqueid=uid,
        channel=channel,
        context=context,
        state=info.get("ChannelStateDesc", ""),
        bridge_id=info.get("BridgeId") or None,
        caller=caller,
        operator_leg=context in OPERATOR_CONTEXTS,
    )


RESYNC_VARIABLES = (
    "CONTACT_CALLER_NUM",
    "CONTACT_CALLER_STATUS",
    "CONTACT_XLOCATION",
    "CONTACT_GEO",
    "CONTACT_KIND",
    "CONTACT_MEDIA",
    "CONTACT_RECORDING",
    "CONTACT_CALLBACK_ID",
    "CONTACT_APP_CONTACT_ID",
    "CONTACT_ANNOUNCED",
    "CHANNEL(endpoint)",
)


def was_announced(variables: Mapping[str, str]) -> bool:
    """Its ContactCall was sent (so its variables are complete): [inbound] and the automatic
    callback set CONTACT_ANNOUNCED after it, [app-inbound] sets CONTACT_MEDIA just before."""
    return bool(variables.get("CONTACT_ANNOUNCED") or variables.get("CONTACT_MEDIA"))


def announced_from_variables(
    live: LiveChannel, variables: Mapping[str, str]
) -> tuple[CallAnnounced | None, str | None]:
    """A caller found live at a resync, read back from its channel variables (the same
    filtered values its ContactCall carried), and its recording's file."""
    fields = {
        "Uniqueid": live.uniqueid,
        "Channel": live.channel,
        "Endpoint": variables.get("CHANNEL(endpoint)", ""),
        "CallerNum": variables.get("CONTACT_CALLER_NUM", ""),
        "CallerStatus": variables.get("CONTACT_CALLER_STATUS", ""),
        "XLocation": variables.get("CONTACT_XLOCATION", ""),
        "Geo": variables.get("CONTACT_GEO", ""),
        "Kind": variables.get("CONTACT_KIND", ""),
        "Media": variables.get("CONTACT_MEDIA", ""),
        "Callback": variables.get("CONTACT_CALLBACK_ID", ""),
        "ContactId": variables.get("CONTACT_APP_CONTACT_ID", ""),
    }
    return announced(fields), recording_path(variables.get("CONTACT_RECORDING"))
