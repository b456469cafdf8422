"""`contact demo`: the center on embedded defaults with demo operators and a steady stream of
synthetic citizen reports in Kazakh and Russian, sent through the real app endpoint; with the
local Asterisk and synthetic 102 callers when this machine can run it (demo_voice.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import signal
import time
import uuid
from dataclasses import replace
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from contact.bootstrap import Container, build
from contact.config import AppChannelSettings, Settings
from contact.demo_voice import ENDPOINTS, DemoVoice
from contact.dispatch.demo import DemoFleet, demo_routes, seed_city
from contact.dispatch.ports import DISPATCH_STORE
from contact.domain.model import Capability, Gender, Language, Operator, Role, Skills, new_id
from contact.errors import Conflict
from contact.http.app import create_app
from contact.http.auth import hash_password
from contact.http.softphone import VOICE_OFF_REASON
from contact.persistence.database import SqlDatabase
from contact.simulate.scenario import DAYS, load_scenario
from contact.simulate.traffic import Arrival, generate

log = logging.getLogger(__name__)

DEMO_OPERATORS: tuple[tuple[str, str, Role, frozenset[Language]], ...] = (
    ("operator", "Айгерім Сейітова", Role.OPERATOR, frozenset({Language.KK, Language.RU})),
    ("operator2", "Иван Петров", Role.OPERATOR, frozenset({Language.RU})),
    ("supervisor", "Ержан Қасымов", Role.SUPERVISOR, frozenset({Language.KK, Language.RU})),
    ("admin", "Гүлнар Әбенова", Role.ADMIN, frozenset({Language.KK, Language.RU})),
)
# the form texts about each take («Отошла» / «Отошёл»; contact/i18n.py `presence.*`)
DEMO_FORMS = {
    "operator": Gender.FEMALE,
    "operator2": Gender.MALE,
    "supervisor": Gender.MALE,
    "admin": Gender.FEMALE,
}

# what a citizen writes, by the kind the city's traffic model draws and the language
REPORTS: dict[tuple[str, Language], tuple[str, ...]] = {
    ("emergency", Language.RU): (
        "Помогите, в квартире напротив дерутся, кто-то кричит о помощи!",
        "На остановке лежит человек, не реагирует.",
        "ДТП на перекрёстке, есть пострадавшие.",
    ),
    ("emergency", Language.KK): (
        "Көмектесіңдер, көрші пәтерде төбелес болып жатыр!",
        "Аялдамада бір адам жатыр, ес-түссіз сияқты.",
        "Жол апаты болды, екі көлік соқтығысты, жараланғандар бар сияқты.",
    ),
    ("ordinary", Language.RU): (
        "Во дворе дома громко ругаются соседи, слышны крики.",
        "У подъезда стоит машина с включённым двигателем уже третий час.",
        "Украли велосипед с парковки у торгового центра.",
        "Подростки разбили стекло в автобусной остановке.",
    ),
    ("ordinary", Language.KK): (
        "Аулада көршілер қатты айқайлап жанжалдасып жатыр.",
        "Сауда орталығының тұрағынан велосипедім ұрланды.",
        "Жасөспірімдер дүкеннің терезесін сындырды.",
    ),
    ("informational", Language.RU): (
        "Как получить справку об отсутствии судимости?",
        "Куда обратиться, если потерял паспорт?",
    ),
    ("informational", Language.KK): (
        "Сотталмағандығы туралы анықтаманы қалай алуға болады?",
        "Төлқұжатты жоғалтсам, қайда бару керек?",
    ),
}
CITY = "almaty-weekday"  # the default city the demo plays, scaled down to its pace

ALMATY = (43.238, 76.945)


def _password() -> str:
    return os.environ.get("CONTACT_DEMO_PASSWORD") or secrets.token_urlsafe(9)


async def seed_operators(db: SqlDatabase, password: str) -> None:
    digest = hash_password(password)
    for username, name, role, languages in DEMO_OPERATORS:
        creds = await db.operators.by_username(username)
        if creds is None:
            operator = Operator(
                id=new_id(),
                username=username,
                display_name=name,
                role=role,
                skills=Skills(languages=languages, capabilities=frozenset(Capability)),
                gender=DEMO_FORMS.get(username, Gender.OTHER),
            )
            with contextlib.suppress(Conflict):  # another demo node seeded it meanwhile
                await db.operators.add(operator, digest)
        else:
            await db.operators.set_password(creds.operator.id, digest)


def city_day(start: datetime, interval: float, seed: int) -> list[Arrival]:
    """The default city's next 24 hours from `start` (its local time), scaled so a report
    arrives every `interval` seconds on average: the hours' shape, the kinds, kk/ru and the
    districts stay the city's. Times are seconds after `start`."""
    city = load_scenario(CITY)
    factor = 86_400 / interval / sum(city.per_day.values())
    hour = start.replace(minute=0, second=0, microsecond=0)
    day = city.model_copy(
        update={
            "per_day": {c: n * factor for c, n in city.per_day.items()},
            "start_day": DAYS[hour.weekday()],
            "start_hour": hour.hour,
            "duration_h": 25.0,  # from the top of this hour to a full day from now
            "burst": None,
        }
    )
    offset = (start - hour).total_seconds()
    return [
        replace(a, t_s=a.t_s - offset)
        for a in generate(day, seed)
        if offset <= a.t_s < offset + 86_400
    ]


def report_of(a: Arrival, rng: random.Random) -> dict[str, object]:
    """An arrival of the model as the citizen app sends it (every channel travels the app
    edge here; the demo's 102 callers are sipp, on their own pace)."""
    language = Language(a.language)
    return {
        "text": rng.choice(REPORTS[(a.kind, language)]),
        "language": language.value,
        "device_id": f"demo-{rng.randrange(10_000, 99_999)}-{uuid.uuid4().hex[:8]}",
        "location": {
            "lat": round(a.lat, 6),
            "lon": round(a.lon, 6),
            "accuracy_m": rng.choice([5, 12, 30, 80]),
        },
        "kind": "info" if a.kind == "informational" else "report",
    }


async def feed(base_url: str, key: str, interval: float, zone: tzinfo) -> None:
    """Play the city, a day at a time, in real time, through the app's public edge."""
    rng = random.Random()
    async with aiohttp.ClientSession() as session:
        while True:
            began, start = time.monotonic(), datetime.now(zone)
            for a in city_day(start, interval, rng.randrange(1 << 30)):
                await asyncio.sleep(max(0.0, began + a.t_s - time.monotonic()))
                try:
                    async with session.post(
                        f"{base_url}/api/v1/app/reports",
                        json=report_of(a, rng),
                        headers={"X-Api-Key": key},
                    ) as response:
                        if response.status != 202:
                            log.warning("demo report refused: %s", response.status)
                except aiohttp.ClientError as exc:
                    log.warning("demo report failed: %s", exc)
            await asyncio.sleep(max(0.0, began + 86_400 - time.monotonic()))


async def _run(settings: Settings, interval: float, voice_wanted: bool) -> None:
    settings, key = demo_settings(settings)
    voice = DemoVoice(settings)
    if voice_wanted:
        await voice.start_asterisk()
    else:
        voice.reason = "no voice: started with --no-voice"
    try:
        await _serve(voice, key, interval)
    finally:
        await voice.stop()  # sipp callers and the Asterisk the demo started


async def _serve(voice: DemoVoice, key: str, interval: float) -> None:
    settings = voice.settings
    if voice.on:
        asterisk = settings.asterisk.model_copy(update={"enabled": True})
        settings = settings.model_copy(update={"asterisk": asterisk})
    container = await build(settings)
    if voice.reason is not None:
        container.provide(VOICE_OFF_REASON, voice.reason)
    password = _password()
    await seed_operators(container.db, password)
    if voice.on:
        await wire_softphones(container.db)
    fleet = await _demo_city(container, settings)
    app = create_app(container)
    if fleet is not None:
        demo_routes(app)  # the demo cameras' stills
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.http.host, settings.http.port)
    await site.start()
    base = f"http://{settings.http.host}:{settings.http.port}"
    voice_line = (
        "Asterisk is up; a synthetic 102 caller (kk/ru speech) rings every "
        f"~{voice.interval_s:g} s: operator answers in the page's softphone (PJSIP/op1)"
        if voice.on
        else voice.reason
    )
    print(
        f"""
contact demo is running: {base}
  log in as  operator / {password}    (Kazakh and Russian)
             operator2 / {password}   (Russian only)
             supervisor / {password}  → {base}/supervisor
             admin / {password}       → {base}/admin/quick-replies (the operators' quick replies)
  app key for your own reports (X-Api-Key): {key}
  citizen reports follow a day of {CITY} (its hours, kinds, kk/ru, districts),
  scaled to one every ~{interval:g} s on average. Ctrl-C stops.
  voice: {voice_line}
""",
        flush=True,
    )
    zone = ZoneInfo(settings.http.time_zone)
    task = asyncio.create_task(feed(base, key, interval, zone))
    if fleet is not None:
        await fleet.start()  # the demo's patrol units, through their own API
    voice.start_callers()
    try:
        await _until_stopped()
    finally:
        if fleet is not None:
            await fleet.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await runner.cleanup()


async def _demo_city(container: Container, settings: Settings) -> DemoFleet | None:
    """The demo city (districts, 68,000 cameras, 150 moving units) when dispatch is on."""
    if not settings.dispatch.enabled:
        return None
    print("loading the demo city (districts, cameras, units)…", flush=True)
    base = f"http://{settings.http.host}:{settings.http.port}"
    city, units = await seed_city(container.get(DISPATCH_STORE), snapshot_base=base)
    return DemoFleet(base, city, units)


async def _until_stopped() -> None:
    """Until Ctrl-C or SIGTERM: either one ends the demo through its cleanup (no orphan)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def wire_softphones(db: SqlDatabase) -> None:
    """The demo operators answer on the browser softphones of asterisk-config/pjsip.conf."""
    for username, endpoint in ENDPOINTS.items():
        creds = await db.operators.by_username(username)
        if creds is not None and creds.operator.endpoint != endpoint:
            await db.operators.set_endpoint(creds.operator.id, endpoint)


def run_demo(settings: Settings, *, interval: float, voice: bool = True) -> int:
    # the demo cameras' stills are served by the demo itself, on its own (loopback) address
    dispatch = settings.dispatch.model_copy(update={"camera_allow_loopback": True})
    settings = settings.model_copy(update={"dispatch": dispatch})
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(settings, interval, voice))
    return 0


def demo_settings(settings: Settings) -> tuple[Settings, str]:
    """The demo needs an app key for its synthetic citizen: the configured one or a new one."""
    keys = settings.app.keys()
    if keys:
        return settings, sorted(keys)[0]
    key = os.environ.get("CONTACT_DEMO_APP_KEY") or secrets.token_urlsafe(24)
    app = AppChannelSettings.model_validate({**settings.app.model_dump(), "api_keys": key})
    return settings.model_copy(update={"app": app}), key
