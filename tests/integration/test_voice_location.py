"""Where a caller is, end to end on a real Asterisk with real sipp phones: an RFC 6442 PIDF-LO
civic address in Kazakh or Russian reaches the operator whole (the dialplan carries it
base64-encoded, contact decodes and checks it), a hostile one is cleaned, and both it and a
kiosk's fixed place are read back from the channel when contact restarts while the calls hold.
Asterisk or sipp missing makes these tests FAIL, never skip."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from contact.domain.model import Language, Role
from contact.i18n import text
from contact.ports import Call
from contact.telephony import parse, shapes
from tests.integration.test_voice_harness import (
    CALLER,
    Parties,
    Party,
    Pbx,
    VoiceCenter,
    caller_scenario,
    rtp_peer,
    start_voice_center,
    voice_settings,
)
from tests.integration.test_voice_harness import parties as parties
from tests.integration.test_voice_harness import pbx as pbx
from tests.ports import free_udp_port
from tests.support import Browser

pytestmark = pytest.mark.timeout(120)

_PIDF_CIVIC = """\
<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"
 xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"
 xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="pres:caller@example.kz">
<dm:device id="phone">
<gp:geopriv>
<gp:location-info>
<ca:civicAddress xml:lang="{lang}">
{elements}
</ca:civicAddress>
</gp:location-info>
<gp:usage-rules/>
<gp:method>Manual</gp:method>
</gp:geopriv>
</dm:device>
</presence>
"""


def civic_pidf(lang: str, **elements: str) -> str:
    """A PIDF-LO with a civic address (RFC 5139 elements; the values are XML text)."""
    lines = "\n".join(f"<ca:{name}>{value}</ca:{name}>" for name, value in elements.items())
    return _PIDF_CIVIC.format(lang=lang, elements=lines)


KAZAKH = civic_pidf(
    "kk", country="KZ", A1="Алматы", A3="Алматы", RD="Қабанбай батыр", STS="даңғылы",
    HNO="85", FLR="3",
)  # fmt: skip
KAZAKH_ADDRESS = "Қабанбай батыр даңғылы, 85, 3, Алматы, KZ"
RUSSIAN = civic_pidf("ru", country="KZ", A1="Алматы", RD="проспект Абая", HNO="10", HNS="А")
RUSSIAN_ADDRESS = "проспект Абая, 10 А, Алматы, KZ"
# what a caller can put in XML text: separators, an expansion, a would-be AMI header (the
# PIDF-LO's line breaks are XML whitespace: Asterisk normalizes them, so `&#10;` is used)
HOSTILE = civic_pidf(
    "ru",
    country="KZ",
    A1="Алматы",
    RD="Абая, 10; кв. 5 &amp; $x ${SHELL(id)} &quot;,A1=&quot;x",
    NAM="А&#10;Event: Fake&#13;&#10;UserEvent: ContactCall&#10;",
    LMK="у входа &lt;b&gt;" + "Ә" * 900,
)
_PIDF_GML = """\
<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"
 xmlns:gml="http://www.opengis.net/gml" xmlns:gs="http://www.opengis.net/pidflo/1.0"
 xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="pres:caller@example.kz">
<dm:device id="phone">
<gp:geopriv>
<gp:location-info>
{shape}
</gp:location-info>
<gp:usage-rules/>
<gp:method>Cell</gp:method>
</gp:geopriv>
</dm:device>
</presence>
"""
# a cell sector as a network's location server sends it (3GPP TS 23.032: a polygon of up to
# 15 points), and the same sector as an arc band around its mast
SECTOR = [(43.2562, 76.9285), (43.2611, 76.9352), (43.2598, 76.9461), (43.2527, 76.9433)]
POLYGON = _PIDF_GML.format(
    shape='<gml:Polygon srsName="urn:ogc:def:crs:EPSG::4326"><gml:exterior><gml:LinearRing>'
    + "".join(f"<gml:pos>{lat} {lon}</gml:pos>" for lat, lon in [*SECTOR, SECTOR[0]])
    + "</gml:LinearRing></gml:exterior></gml:Polygon>"
)
ARC_BAND = _PIDF_GML.format(
    shape='<gs:ArcBand srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>43.2562 76.9285</gml:pos>'
    '<gs:innerRadius uom="urn:ogc:def:uom:EPSG::9001">300</gs:innerRadius>'
    '<gs:outerRadius uom="urn:ogc:def:uom:EPSG::9001">1500</gs:outerRadius>'
    '<gs:startAngle uom="urn:ogc:def:uom:EPSG::9102">20</gs:startAngle>'
    '<gs:openingAngle uom="urn:ogc:def:uom:EPSG::9102">120</gs:openingAngle></gs:ArcBand>'
)
_SDP_PART = "Content-Type: application/sdp\nContent-Length: [len]\n\n"
_SDP_END = "a=sendrecv\n\n]]></send>"


async def civic_caller(
    parties: Parties,
    pidf: str,
    *,
    caller: str = CALLER,
    hold_ms: int | None = None,
) -> Party:
    """A caller of 102 whose INVITE carries its PIDF-LO (RFC 6442: a Geolocation header that
    points at a multipart body part next to the SDP)."""
    rtp = await rtp_peer(600.0)
    scenario = caller_scenario(
        caller=caller,
        user="sipp",
        password=parties.pbx.runner.sip_password("sipp-auth"),
        rtp_port=rtp.port,
        headers=["Geolocation: <cid:loc@caller.example.kz>", "Geolocation-Routing: no"],
        hold_ms=hold_ms,
    )
    assert scenario.count(_SDP_PART) == 2 and scenario.count(_SDP_END) == 2
    scenario = scenario.replace(
        _SDP_PART,
        "Content-Type: multipart/mixed;boundary=b1\nContent-Length: [len]\n\n"
        "--b1\nContent-Type: application/sdp\n\n",
    ).replace(
        _SDP_END,
        "a=sendrecv\n--b1\nContent-Type: application/pidf+xml\n"
        f"Content-ID: <loc@caller.example.kz>\n\n{pidf}--b1--\n\n]]></send>",
    )
    target = f"127.0.0.1:{parties.pbx.settings.sip_port}"
    argv = [target, "-m", "1", "-l", "1", "-timeout", "120", "-timeout_error"]
    return parties.add(Party(parties._run("civic", scenario, argv, free_udp_port()), rtp))


@pytest.fixture
async def vc(pbx: Pbx, tmp_path: Path) -> AsyncIterator[VoiceCenter]:
    center = await start_voice_center(voice_settings(tmp_path, pbx))
    yield center
    await center.center.client.close()


async def _queued(boss: Browser) -> str:
    queued = await boss.next_event("contact.queued", "supervisor", within_s=10)
    contact_id: str = queued["data"]["contact"]["id"]
    return contact_id


async def test_a_kazakh_civic_address_reaches_the_operator_whole(
    vc: VoiceCenter, parties: Parties
) -> None:
    boss = await vc.operator("civic-watch", None, role=Role.SUPERVISOR)
    caller = await civic_caller(parties, KAZAKH, hold_ms=6000)
    contact_id = await _queued(boss)
    contact = await boss.get(f"/api/v1/contacts/{contact_id}")
    print(f"\nsummary: {contact['summary']}")
    assert contact["summary"].endswith(f"Адрес: {KAZAKH_ADDRESS}")
    assert contact["citizen"] == CALLER and contact["channel"] == "voice"
    call = await _stored_call(vc, contact_id)
    assert call.civic_address == KAZAKH_ADDRESS
    assert caller.sipp.proc.poll() is None  # still on the line
    await boss.close()


async def test_a_hostile_civic_address_is_text_on_one_line_and_nothing_else(
    vc: VoiceCenter, parties: Parties, pbx: Pbx
) -> None:
    boss = await vc.operator("hostile-civic-watch", None, role=Role.SUPERVISOR)
    await civic_caller(parties, HOSTILE, hold_ms=6000)
    contact_id = await _queued(boss)
    address = (await _stored_call(vc, contact_id)).civic_address
    print(f"\ncivic address: {address!r}")
    assert address is not None and len(address) <= parse.CIVIC_ADDRESS_MAX
    assert address.startswith("А Event: Fake UserEvent: ContactCall, Абая, 10; кв. 5 & $x")
    assert "${SHELL(id)}" in address  # text, never evaluated
    assert not any(c in address for c in "\r\n\t\x00")
    # one ContactCall, one call, one channel: nothing was split off or run
    calls = (await boss.get("/api/v1/calls"))["calls"]
    assert [c["contact_id"] for c in calls] == [contact_id]
    channels = await vc.telephony.control.channels()
    assert [c["Channel"].split("-")[0] for c in channels] == ["PJSIP/sipp"]
    assert (await vc.telephony.ami.action({"Action": "Ping"}))["Response"] == "Success"
    await boss.close()


async def test_locations_are_read_back_when_contact_restarts_while_the_callers_hold(
    pbx: Pbx, parties: Parties, tmp_path: Path
) -> None:
    settings = voice_settings(tmp_path, pbx)
    first = await start_voice_center(settings)
    try:
        boss = await first.operator("restart-watch", None, role=Role.SUPERVISOR)
        await civic_caller(parties, KAZAKH)  # holds until the test hangs up
        a = await _queued(boss)
        await boss.close()
    finally:
        await first.center.client.close()

    # while no contact listens: a Russian civic address and a kiosk (its fixed place)
    await civic_caller(parties, RUSSIAN, caller="+77012222222")
    await parties.caller(
        user="kiosk-park1", caller="kiosk-park1", headers=["X-Location: lat=1;lon=2"]
    )
    await _until_channels(pbx, 3)

    second = await start_voice_center(settings)
    try:
        boss = await second.center.browser("restart-watch")
        await boss.connect()
        live = await _live_calls(boss, 3)
        contacts = {cid: await boss.get(f"/api/v1/contacts/{cid}") for cid in live}
        print("\n" + "\n".join(c["summary"] for c in contacts.values()))
        assert contacts[a]["summary"].endswith(f"Адрес: {KAZAKH_ADDRESS}")
        (russian,) = [c for c in contacts.values() if c["citizen"] == "+77012222222"]
        assert russian["summary"].endswith(f"Адрес: {RUSSIAN_ADDRESS}")
        call = await _stored_call(second, russian["id"])
        assert call.civic_address == RUSSIAN_ADDRESS
        (kiosk,) = [c for c in contacts.values() if c["channel"] == "kiosk"]
        location = kiosk["location"]
        assert (location["lat"], location["lon"], location["source"]) == (43.238, 76.945, "fixed")
        await boss.close()
    finally:
        await second.center.client.close()


async def test_a_civic_address_never_raises_a_calls_priority(
    vc: VoiceCenter, parties: Parties
) -> None:
    """A real microdistrict ("Батыс" holds "атыс") and a street named after a person
    ("Пожарского" holds "пожар"): the operator reads them, triage never does."""
    boss = await vc.operator("triage-watch", None, role=Role.SUPERVISOR)
    pidf = civic_pidf(
        "kk", country="KZ", A1="Ақтөбе", A3="Ақтөбе", A5="Батыс-2 шағын ауданы",
        RD="Пожарского", HNO="15", LMK="Төрт жол",
    )  # fmt: skip
    await civic_caller(parties, pidf, hold_ms=4000)
    contact = await boss.get(f"/api/v1/contacts/{await _queued(boss)}")
    assert "Батыс-2 шағын ауданы" in contact["summary"] and "Пожарского" in contact["summary"]
    assert contact["priority_name"] == "voice"
    await boss.close()


async def test_a_cell_sector_polygon_or_arc_band_places_the_caller(
    vc: VoiceCenter, parties: Parties
) -> None:
    """Its centroid with a radius over the whole sector, on the operator's contact."""
    boss = await vc.operator("sector-watch", None, role=Role.SUPERVISOR)
    await civic_caller(parties, POLYGON, hold_ms=4000)
    polygon = (await boss.get(f"/api/v1/contacts/{await _queued(boss)}"))["location"]
    await civic_caller(parties, ARC_BAND, caller="+77013333333", hold_ms=4000)
    arc = (await boss.get(f"/api/v1/contacts/{await _queued(boss)}"))["location"]
    print(f"\npolygon: {polygon}\narc band: {arc}")
    assert polygon["source"] == arc["source"] == "pidf_lo"
    inside = (sum(p[0] for p in SECTOR) / 4, sum(p[1] for p in SECTOR) / 4)
    assert shapes.distance_m(polygon["lat"], polygon["lon"], *inside) < 100
    for vertex in SECTOR:
        assert shapes.distance_m(polygon["lat"], polygon["lon"], *vertex) <= polygon["accuracy_m"]
    assert polygon["accuracy_m"] < 1000
    # the arc band's centroid lies out from the mast along the sector's bisector (80°)
    assert 300 < shapes.distance_m(43.2562, 76.9285, arc["lat"], arc["lon"]) < 1500
    assert arc["lon"] > 76.9285 and arc["accuracy_m"] < 1500
    await boss.close()


async def test_an_oversized_location_header_is_kept_where_it_fits_or_said(
    vc: VoiceCenter, parties: Parties
) -> None:
    """PJSIP_HEADER reads at most 4 KB and fails whole beyond: a 3 KB X-Location still places
    the caller (its position kept wherever it is); an 8 KB one tells the operator the location
    was too large, in the contact."""
    boss = await vc.operator("xlocation-watch", None, role=Role.SUPERVISOR)
    # the position after 3 KB of other fields: its keys are what the dialplan keeps
    fits = ";".join(f"k{i}=" + "x" * 60 for i in range(48)) + ";lat=43.2567;lon=76.9286;acc=12"
    await parties.caller(headers=[f"X-Location: {fits}"], hold_ms=4000)
    placed = await boss.get(f"/api/v1/contacts/{await _queued(boss)}")
    assert placed["location"]["lat"] == 43.2567 and placed["location"]["lon"] == 76.9286
    assert placed["location"]["accuracy_m"] == 12
    assert text("call.location_too_large", Language.RU) not in placed["summary"]
    call = await _stored_call(vc, placed["id"])
    variables = await vc.telephony.control.variables(call.uniqueid, ("CONTACT_XLOCATION",))
    assert variables["CONTACT_XLOCATION"] == "lat=43.2567;lon=76.9286;acc=12;"
    oversized = "lat=43.2567;lon=76.9286;acc=12;" + "pad=" + "x" * 8192
    await parties.caller(caller="+77014444444", headers=[f"X-Location: {oversized}"], hold_ms=4000)
    said = await boss.get(f"/api/v1/contacts/{await _queued(boss)}")
    print(f"\nsummary: {said['summary']}")
    assert said["location"] is None
    assert said["summary"] == "Вызов 102. " + text("call.location_too_large", Language.RU)
    await boss.close()


async def _stored_call(vc: VoiceCenter, contact_id: str) -> Call:
    """The contact's one call as stored (written just after the intake, off its path)."""

    async def stored() -> list[Call]:
        return await vc.telephony.calls.for_contact(contact_id)

    (call,) = await vc.until(stored, what="the call stored")
    assert isinstance(call, Call)
    return call


async def _until_channels(pbx: Pbx, count: int, within_s: float = 10.0) -> None:
    """`count` callers on the PBX, each past its ContactCall (sent ~5 ms after the INVITE)."""
    deadline = time.monotonic() + within_s
    while f"{count} active channel" not in await pbx.runner.cli("core show channels count"):
        assert time.monotonic() < deadline, "the callers did not arrive"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)


async def _live_calls(boss: Browser, count: int, within_s: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    while True:
        live = {c["contact_id"]: c for c in (await boss.get("/api/v1/calls"))["calls"]}
        if len(live) == count:
            return live
        assert time.monotonic() < deadline, live
        await asyncio.sleep(0.1)
