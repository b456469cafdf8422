"""`contact demo`: the center on embedded defaults with demo operators and a steady stream of
synthetic citizen reports in Kazakh and Russian, sent through the real app endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import uuid
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from contact.bootstrap import Container, build
from contact.cli import demo_settings
from contact.config import Settings
from contact.domain.model import Capability, Language, Operator, Role, Skills, new_id
from contact.errors import Conflict
from contact.http.app import create_app
from contact.http.auth import hash_password
from contact.persistence.database import SqlDatabase

if TYPE_CHECKING:
    from contact.dispatch.demo import DemoFleet

log = logging.getLogger(__name__)

DEMO_OPERATORS: tuple[tuple[str, str, Role, frozenset[Language]], ...] = (
    ("operator", "Айгерім Сейітова", Role.OPERATOR, frozenset({Language.KK, Language.RU})),
    ("operator2", "Иван Петров", Role.OPERATOR, frozenset({Language.RU})),
    ("supervisor", "Ержан Қасымов", Role.SUPERVISOR, frozenset({Language.KK, Language.RU})),
)

REPORTS: dict[Language, tuple[str, ...]] = {
    Language.RU: (
        "Во дворе дома громко ругаются соседи, слышны крики.",
        "У подъезда стоит машина с включённым двигателем уже третий час.",
        "Украли велосипед с парковки у торгового центра.",
        "На остановке лежит человек, не реагирует.",
        "Подростки разбили стекло в автобусной остановке.",
        "Помогите, в квартире напротив дерутся, кто-то кричит о помощи!",
        "Как получить справку об отсутствии судимости?",
    ),
    Language.KK: (
        "Аулада көршілер қатты айқайлап жанжалдасып жатыр.",
        "Сауда орталығының тұрағынан велосипедім ұрланды.",
        "Аялдамада бір адам жатыр, ес-түссіз сияқты.",
        "Жасөспірімдер дүкеннің терезесін сындырды.",
        "Көмектесіңдер, көрші пәтерде төбелес болып жатыр!",
        "Жол апаты болды, екі көлік соқтығысты, жараланғандар бар сияқты.",
    ),
}

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
            )
            with contextlib.suppress(Conflict):  # another demo node seeded it meanwhile
                await db.operators.add(operator, digest)
        else:
            await db.operators.set_password(creds.operator.id, digest)


def synthetic_report(rng: random.Random) -> dict[str, object]:
    language = rng.choice(list(Language))
    lat = ALMATY[0] + rng.uniform(-0.06, 0.06)
    lon = ALMATY[1] + rng.uniform(-0.09, 0.09)
    text = rng.choice(REPORTS[language])
    return {
        "text": text,
        "language": language.value,
        "device_id": f"demo-{rng.randrange(10_000, 99_999)}-{uuid.uuid4().hex[:8]}",
        "location": {
            "lat": round(lat, 6),
            "lon": round(lon, 6),
            "accuracy_m": rng.choice([5, 12, 30, 80]),
        },
        "kind": "info" if text.startswith(("Как ", "Қалай")) else "report",
    }


async def feed(base_url: str, key: str, interval: float, rng: random.Random) -> None:
    async with aiohttp.ClientSession() as session:
        while True:
            await asyncio.sleep(rng.expovariate(1 / interval))
            try:
                async with session.post(
                    f"{base_url}/api/v1/app/reports",
                    json=synthetic_report(rng),
                    headers={"X-Api-Key": key},
                ) as response:
                    if response.status != 202:
                        log.warning("demo report refused: %s", response.status)
            except aiohttp.ClientError as exc:
                log.warning("demo report failed: %s", exc)


async def _run(settings: Settings, interval: float) -> None:
    settings, key = demo_settings(settings)
    container = await build(settings)
    password = _password()
    await seed_operators(container.db, password)
    fleet = await _demo_city(container, settings)
    app = create_app(container)
    if fleet is not None:
        from contact.dispatch.demo import demo_routes

        demo_routes(app)  # the demo cameras' stills
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.http.host, settings.http.port)
    await site.start()
    base = f"http://{settings.http.host}:{settings.http.port}"
    print(
        f"""
contact demo is running: {base}
  log in as  operator / {password}    (Kazakh and Russian)
             operator2 / {password}   (Russian only)
             supervisor / {password}  → {base}/supervisor
  app key for your own reports (X-Api-Key): {key}
  a synthetic citizen report arrives every ~{interval:g} s. Ctrl-C stops.
""",
        flush=True,
    )
    task = asyncio.create_task(feed(base, key, interval, random.Random()))
    if fleet is not None:
        await fleet.start()  # the demo's patrol units, through their own API
    try:
        await asyncio.Event().wait()
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
    from contact.dispatch.demo import DemoFleet, seed_city

    print("loading the demo city (districts, cameras, units)…", flush=True)
    base = f"http://{settings.http.host}:{settings.http.port}"
    city, units = await seed_city(container.db.dispatch, snapshot_base=base)
    return DemoFleet(base, city, units)


def run_demo(settings: Settings, *, interval: float) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(settings, interval))
    return 0
