"""`contact simulate SCENARIO`: the model alone (--model), a staffing search (--recommend), or
a run against a real `contact serve` through its public edges (the default)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import math
import os
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contact.config import AsteriskSettings, DatabaseSettings, load_settings
from contact.domain.model import (
    CHANNEL_CAPABILITY,
    Capability,
    ChannelKind,
    Language,
    Operator,
    Role,
    Skills,
    new_id,
)
from contact.http.auth import hash_password
from contact.persistence.database import SqlDatabase
from contact.persistence.rota import RotaEntry
from contact.simulate.chaos import (
    FAULT_KEYS,
    ChaosError,
    Stack,
    account,
    citizen_channels,
    edge_settings,
    faults_for,
    inject,
    not_done,
    settle,
)
from contact.simulate.des import simulate
from contact.simulate.drive import Credentials, DriveResult, OperatorBot, drive
from contact.simulate.edges.run import OpenEdges, open_edges
from contact.simulate.edges.voice import (
    Opened,
    PbxFactory,
    VoiceEdge,
    give_phones,
    open_pbx,
    telephony_up,
)
from contact.simulate.report import drive_report, model_report, to_html
from contact.simulate.response import respond
from contact.simulate.scenario import BUILT_IN, DAYS, Scenario, ScenarioError, load_scenario
from contact.simulate.staffing import Recommendation, pooled_service_level, pools_of, recommend
from contact.simulate.traffic import generate
from contact.simulate.unit_books import UnitBooks, account_units


def add_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], pbx: PbxFactory | None = None
) -> None:
    """`pbx`: the project's Asterisk runner for given settings (the composition root gives
    it): 102 calls go through that Asterisk, started when it is provisioned."""
    p = subparsers.add_parser(
        "simulate",
        help="play a city's traffic: the model, a staffing search, or against a real server",
        description=__doc__,
    )
    p.add_argument("scenario", help=f"a TOML file or one of: {', '.join(BUILT_IN)}")
    p.add_argument("--seed", type=int, default=1, help="same seed, same traffic (default 1)")
    p.add_argument("--model", action="store_true", help="simulate the model only, no server")
    p.add_argument(
        "--recommend",
        action="store_true",
        help="search the fewest operators per hour meeting the scenario's target; print the rota",
    )
    p.add_argument(
        "--publish",
        action="store_true",
        help="with --recommend: store the rota in the database (CONTACT_DATABASE_URL) for the "
        "supervisor page, replacing what was published for the same hours of the week",
    )
    p.add_argument(
        "--by",
        metavar="USERNAME",
        help="with --publish: the supervisor or admin account publishing it (audited)",
    )
    p.add_argument(
        "--days",
        help="with --publish: the days of the week the rota holds for, e.g. mon,tue,wed,thu "
        "(default: the scenario's own)",
    )
    p.add_argument("--url", default="http://127.0.0.1:8080", help="the contact serve to drive")
    p.add_argument("--app-key", help="the citizen app key (default: CONTACT_APP_API_KEYS' first)")
    p.add_argument(
        "--operators",
        type=int,
        default=0,
        help="create this many bot operators with `contact operators add` (same CONTACT_* "
        "environment as the server); default: the scenario's rota for the first hour",
    )
    p.add_argument(
        "--operator",
        action="append",
        default=[],
        metavar="USER:PASSWORD",
        help="use an existing operator account (repeatable) instead of creating bots",
    )
    p.add_argument(
        "--speed", type=float, default=60.0, help="time compression (60: a day in 24 min)"
    )
    p.add_argument("--minutes", type=float, help="play only the first N minutes of the scenario")
    p.add_argument("--drain-s", type=float, default=30.0, help="wall seconds to drain at the end")
    p.add_argument("--out", help="directory for report.json and report.html")
    p.add_argument(
        "--chaos",
        action="store_true",
        help="start the stack itself and hurt it during the run (kill -9 a node, restart Redis "
        "empty, cut PostgreSQL 10 s, drop the units' MQTT feed); count every acknowledged "
        "contact in the database",
    )
    p.add_argument(
        "--nodes", type=int, default=1, help="with --chaos: contact serve nodes (>1: PostgreSQL)"
    )
    p.add_argument(
        "--database-url",
        type=_database_url,
        help="with --chaos: the database the nodes share (default: a SQLite file in --out)",
    )
    p.add_argument(
        "--faults",
        help="with --chaos: only these faults, comma-separated: "
        f"{','.join(FAULT_KEYS)} (default: every one the stack can have)",
    )
    p.add_argument(
        "--no-voice",
        action="store_true",
        help="carry 102 calls as app reports instead of calling through Asterisk with sipp",
    )
    p.set_defaults(func=run, pbx=pbx)


def _window(scenario: Scenario, minutes: float | None) -> Scenario:
    if minutes is None:
        return scenario
    return scenario.model_copy(update={"duration_h": min(scenario.duration_h, minutes / 60)})


def _write(report: dict[str, Any], out: str | None, name: str) -> Path:
    where = Path(out or f"simulation-{name}")
    where.mkdir(parents=True, exist_ok=True)
    (where / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), "utf-8")
    (where / "report.html").write_text(to_html(report), "utf-8")
    return where


def _print_rota(scenario: Scenario, found: Recommendation) -> None:

    t, rota, outcomes = scenario.target, found.rota, found.outcomes
    print(f"rota for {scenario.name}: fewest operators per hour so that {t.service_level:.0%} of")
    print(
        f"{t.kind} contacts are answered within {t.answer_s:g} s "
        f"(abandoned ≤ {t.max_abandoned:.0%})"
    )
    groups = list(found.by_pool) if scenario.skills else []
    if groups:
        print("         total  " + "  ".join(f"{g:>12}" for g in groups))
    for h, n in enumerate(rota):
        split = "  ".join(f"{found.by_pool[g][h]:12d}" for g in groups)
        bar = "" if groups else "  " + "#" * n
        print(f"  {(scenario.start_hour + h) % 24:02d}:00  {n:4d}  {split}{bar}")
    print(f"operator-hours: {sum(rota)}")
    kind = None if t.kind == "all" else t.kind
    print(
        f"simulated service level with it: {pooled_service_level(outcomes, kind):.1%} ({t.kind}),"
        f" {pooled_service_level(outcomes, None):.1%} (all contacts)"
    )


# the model's channels as the system names them, for the workplaces a skill group needs
SCENARIO_CAPABILITY = {
    name: CHANNEL_CAPABILITY[kind]
    for name, kind in {
        "voice": ChannelKind.VOICE,
        "app": ChannelKind.APP,
        "telegram": ChannelKind.TELEGRAM,
        "whatsapp": ChannelKind.WHATSAPP,
        "kiosk": ChannelKind.KIOSK,
        "alarm": ChannelKind.SCHOOL_ALARM,
        "camera": ChannelKind.CAMERA,
    }.items()
}


def publish_days(scenario: Scenario, days: str | None) -> list[int]:
    """The days (0 = Monday) a rota is published for: the scenario's first day, or those named
    (then the scenario covers at most a day, so no hour of the week is given twice)."""
    hours = math.ceil(scenario.duration_h)
    if days is None:
        if hours > 168:
            raise ValueError("--publish: a rota covers at most a week (168 hours)")
        return [DAYS.index(scenario.start_day)]
    if hours > 24:
        raise ValueError(f"--days: the scenario covers {hours} hours; at most 24 with --days")
    names = [d.strip().lower() for d in days.split(",") if d.strip()]
    unknown = [d for d in names if d not in DAYS]
    if unknown or not names:
        raise ValueError(f"--days: days are {','.join(DAYS)} (got {days!r})")
    return sorted({DAYS.index(d) for d in names})


def rota_entries(
    scenario: Scenario, found: Recommendation, days: list[int], by: str, at: datetime
) -> list[RotaEntry]:
    """The recommended rota as the supervisor page reads it: per hour of the week (the
    scenario's hours, moved to each of `days`) and skill group, with what the group speaks
    and the kinds of workplace its channels need."""
    t = scenario.target
    level = pooled_service_level(found.outcomes, None if t.kind == "all" else t.kind)
    level = 1.0 if math.isnan(level) else level  # nothing offered: nothing missed
    groups: list[tuple[str, list[str], list[str]]]
    if scenario.skills:
        groups = [(g.name, sorted(g.languages), g.channels) for g in scenario.skills]
    else:
        channels = [c for c, n in scenario.per_day.items() if n > 0]
        groups = [(next(iter(found.by_pool)), sorted(scenario.languages), channels)]
    entries = []
    for h in range(len(found.rota)):
        since_start = scenario.start_hour + h  # hours after the scenario's first midnight
        for day in days:
            how = (day * 24 + since_start) % 168
            for position, (name, languages, channels) in enumerate(groups):
                capabilities = sorted({SCENARIO_CAPABILITY[c].value for c in channels})
                entries.append(
                    RotaEntry(
                        how,
                        name,
                        position,
                        found.by_pool[name][h],
                        tuple(languages),
                        tuple(capabilities),
                        scenario.name,
                        round(level, 4),
                        at,
                        by,
                    )
                )
    return entries


async def _publisher(username: str) -> Operator | None:
    """The supervisor or admin account a rota is published by (checked before the search)."""
    db = await SqlDatabase.open(load_settings().database)
    try:
        known = await db.operators.by_username(username)
    finally:
        await db.close()
    if known is None or not known.operator.role.at_least(Role.SUPERVISOR):
        return None
    return known.operator


async def _publish(
    scenario: Scenario, found: Recommendation, who: Operator, days: list[int], seed: int
) -> int:
    entries = rota_entries(scenario, found, days, who.id, datetime.now(UTC))
    db = await SqlDatabase.open(load_settings().database)
    try:
        await db.rota.publish(entries)
        await db.audit.append(
            who.id,
            "rota.publish",
            scenario.name,
            {
                "via": "cli",
                "os_user": getpass.getuser(),
                "days": [DAYS[d] for d in days],
                "hours": len({e.hour_of_week for e in entries}),
                "operator_hours": sum(found.rota) * len(days),
                "seed": seed,
            },
        )
    finally:
        await db.close()
    hours = len({e.hour_of_week for e in entries})
    print(f"published for {hours} hour(s) of the week by {who.username}")
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        scenario = _window(load_scenario(args.scenario), args.minutes)
    except ScenarioError as exc:
        print(f"contact simulate: {exc}", file=sys.stderr)
        return 2
    if args.publish and (not args.recommend or not args.by):
        print("contact simulate: --publish needs --recommend and --by USERNAME", file=sys.stderr)
        return 2
    if args.recommend:
        publisher = None
        if args.publish:
            try:
                days = publish_days(scenario, args.days)
            except ValueError as exc:
                print(f"contact simulate: {exc}", file=sys.stderr)
                return 2
            publisher = asyncio.run(_publisher(args.by))
            if publisher is None:
                print(
                    f"contact simulate: {args.by!r} is not a supervisor or admin account",
                    file=sys.stderr,
                )
                return 2
        found = recommend(scenario, seed=args.seed)
        _print_rota(scenario, found)
        if publisher is not None:
            return asyncio.run(_publish(scenario, found, publisher, days, args.seed))
        return 0
    if args.model:
        rota = scenario.operators[scenario.start_hour :] + scenario.operators[: scenario.start_hour]
        hours = math.ceil(scenario.duration_h)
        rota = [rota[h % 24] for h in range(hours)]

        pools = pools_of(scenario)
        rotas = (
            {g.name: [scenario.split(n)[g.name] for n in rota] for g in scenario.skills}
            if scenario.skills
            else {pools[0].name: rota}
        )

        arrivals = generate(scenario, args.seed)
        outcome = simulate(arrivals, rotas, scenario.target.answer_s, scenario.wrap_up_s, pools)
        responses = respond(scenario, arrivals, outcome, args.seed)
        report = model_report(scenario, outcome, rota, args.seed, responses)
        where = _write(report, args.out, scenario.name)
        _summary(report)
        print(f"report: {where / 'report.html'}")
        return 0
    if args.chaos:
        return asyncio.run(_chaos(args, scenario))
    return asyncio.run(_real(args, scenario))


def _summary(report: dict[str, Any]) -> None:
    tot, em = report["total"], report["emergency"]

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{x:.1%}"

    print(
        f"{report['scenario']}: {tot['offered']} contacts; emergencies answered within target "
        f"{pct(em['service_level'])}, all {pct(tot['service_level'])}; "
        f"abandoned {pct(tot['abandoned_share'])}"
    )
    response = report.get("response")
    if response and response["all"]["sent"]:
        r = response["all"]
        print(
            f"units sent {r['sent']}: on scene within {response['target_min']:g} min "
            f"{pct(r['within_target'])}, mean {r['mean_min']:.1f} min, p90 {r['p90_min']:.1f} min"
        )


async def _create_operators(n: int) -> list[Any]:
    """Bot accounts made the way an administrator makes them: `contact operators add`."""

    exe = str(Path(sys.executable).with_name("contact"))
    tag = secrets.token_hex(3)
    made = [Credentials(f"sim-{tag}-{i:03d}", secrets.token_urlsafe(18)) for i in range(n)]
    gate = asyncio.Semaphore(4)

    async def add(i: int, who: Credentials) -> None:
        async with gate:
            proc = await asyncio.create_subprocess_exec(
                *(exe, "operators", "add", who.username, "--name", f"Sim {i}"),
                "--password-stdin",
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=os.environ,
            )
            _, err = await proc.communicate((who.password + "\n").encode())
            if proc.returncode != 0:
                raise RuntimeError(f"contact operators add failed: {err.decode()[-500:]}")

    await asyncio.gather(*(add(i, who) for i, who in enumerate(made)))
    return made


async def _real(args: argparse.Namespace, scenario: Scenario) -> int:
    from rich.live import Live
    from rich.table import Table

    settings = load_settings()  # the center's own CONTACT_* environment
    key = args.app_key or next(iter(sorted(settings.app.keys())), None)
    if not key:
        print("contact simulate: no app key (--app-key or CONTACT_APP_API_KEYS)", file=sys.stderr)
        return 2
    if args.operator:
        operators = []
        for spec in args.operator:
            user, _, password = spec.partition(":")
            operators.append(Credentials(user, password))
    else:
        count = args.operators or scenario.operators[scenario.start_hour]
        began = time.monotonic()
        operators = await _create_operators(count)
        print(f"{count} bot operators created in {time.monotonic() - began:.1f} s")
    arrivals = generate(scenario, args.seed)
    url = args.url.rstrip("/")
    where = Path(args.out or f"simulation-{scenario.name}")
    voice: VoiceEdge | None = None
    pbx: Opened | None = None
    note: str | None = None
    if "voice" in {a.channel for a in arrivals}:
        voice, pbx, note = await _voice(args, [url], where, settings.asterisk)
    phones_before: dict[str, str | None] = {}
    if voice is not None:
        endpoints = await voice.start([url], operators[0], len(operators))
        phones_before = await give_phones(settings.database.url, operators, endpoints)
    run_id = f"sim{args.seed}-{secrets.token_hex(3)}"
    began = time.monotonic()
    opened = await open_edges(scenario, arrivals, [url], settings, run_id, args.speed, args.seed)
    print(
        f"edges {', '.join(['app', *opened.by_channel])} open in {time.monotonic() - began:.1f} s"
    )
    for line in opened.notes:
        print(f"note: {line}")

    def view(result: DriveResult, bots: list[OperatorBot]) -> Table:
        table = Table(title=f"{scenario.name} ×{args.speed:g}")
        for col in ("sent", "accepted", "refused", "answered", "closed"):
            table.add_column(col, justify="right")
        table.add_row(
            f"{result.started}/{result.planned}",
            str(len(result.accepted)),
            str(sum(1 for s in result.sent if not s.accepted)),
            str(sum(len(b.answered) for b in bots)),
            str(result.handled),
        )
        return table

    try:
        with Live(refresh_per_second=4, transient=True) as live:
            result = await drive(
                arrivals,
                base_url=url,
                app_key=key,
                operators=operators,
                speed=args.speed,
                seed=args.seed,
                drain_s=args.drain_s,
                progress=lambda r, b: live.update(view(r, b)),
                edges=opened.edges,
                run=run_id,
                dispatch_after_s=opened.dispatch_after_s,
                on_dispatch=opened.on_dispatch,
                voice=voice,
                app_sos_share=scenario.app_sos_share,
                app_sos_video_share=scenario.app_sos_video_share,
            )
        calls = await _calls_back(voice, note, settings.database.url, result)
    finally:
        replies = opened.replies()
        await opened.close()
        if voice is not None:
            await voice.close()
            before = [phones_before.get(who.username) for who in operators]
            await give_phones(settings.database.url, operators, before)
        if pbx is not None:
            await pbx.close()
    # every edge's contacts, found in the center's database (the same CONTACT_DATABASE_URL);
    # the calls were read back by their own edge (a call and its callback task share a number)
    books = await account(
        settings.database.url,
        opened.prefixes,
        {s.device_id: s.contact_id for s in result.accepted if s.edge != "voice"},
        within_s=30.0,
    )
    settle(result, books)
    units = await _unit_books(settings.database.url, opened, result)
    report = drive_report(scenario, result, args.seed)
    report["accounting"] = books.figures()
    report["replies_to_chats"] = replies
    report["voice"] = calls
    if opened.units is not None:
        report["units"] = opened.units.figures()
    if units is not None:
        report["units_accounting"] = units.figures()
    where = _write(report, args.out, scenario.name)
    _summary(report)
    print(
        f"accepted by the edge: {report['accepted_by_edge']}/{report['sent']}, final states "
        f"{report['final_states']}, not waiting or terminal: {len(result.errors)}"
    )
    print(
        f"found in the database exactly once: {books.found_once}/{books.acknowledged}, missing "
        f"{len(books.missing)}, duplicated {len(books.duplicated)}, orphaned {len(books.orphaned)}"
    )
    _voice_summary(calls)
    _units_summary(units, report.get("units"))
    print(f"report: {where / 'report.html'}")
    lost = books.missing or books.duplicated or books.orphaned or (units and units.lost)
    return 1 if result.errors or report["refused"] or lost else 0


async def _unit_books(
    database_url: str, opened: OpenEdges, result: DriveResult
) -> UnitBooks | None:
    """The units' side of the accounting (`unit_books.py`), once every unit has retired."""
    if opened.units is None:
        return None
    u = opened.units
    await opened.retire_units()
    return await account_units(
        database_url,
        f"{opened.run}-u",
        u.tokens,
        {d: c for c, d in result.dispatch_ids.items()},
        u.reported,
        u.fixes,
        within_s=30.0,
    )


def _units_summary(books: UnitBooks | None, figures: dict[str, Any] | None) -> None:
    if books is None or figures is None:
        return
    mqtt = figures["mqtt"]
    over_mqtt = (
        f", {figures['over_mqtt']} of them over MQTT: {mqtt['published']} fixes published, "
        f"{mqtt['lost']} lost while the broker was away, longest gap {mqtt['longest_gap_s']:g} s"
        if mqtt is not None
        else ""
    )
    print(
        f"units' fixes: {figures['fixes_over_http']} over HTTP{over_mqtt}; status reports "
        f"{figures['status_reports']}, {figures['status_retried']} answered only after another "
        f"try, the slowest after {figures['slowest_status_ack_s']:g} s, not acknowledged "
        f"{figures['status_refused'] or 'none'}"
    )
    print(
        f"units {books.units}: dispatches acknowledged {books.dispatches_acknowledged}, found "
        f"{books.dispatches_found}, missing {len(books.dispatches_missing)}, duplicated "
        f"{len(books.dispatches_duplicated)}, stored but unacknowledged "
        f"{books.dispatches_unacknowledged} (another unit sent after a lost answer: "
        f"{len(books.dispatches_sent_again)}); statuses reflected {books.statuses_reflected}/"
        f"{books.statuses_acknowledged}, not out of service {len(books.not_retired)}, "
        f"dispatches left active {len(books.left_active)}; last fixes stored "
        f"{books.fixes_reflected}/{books.fixes_reflected + len(books.fixes_behind)}"
    )
    for line in books.lost[:20]:
        print(f"  lost: {line}")


async def _voice(
    args: argparse.Namespace, bases: list[str], where: Path, settings: AsteriskSettings
) -> tuple[VoiceEdge | None, Opened | None, str | None]:
    """The 102 edge when calls can go through Asterisk (the center's telephony on, an Asterisk
    running or provisioned, sipp here); else None and why, printed as a note."""
    if args.no_voice:
        note = "102 calls are carried by the app edge (--no-voice)"
    elif (off := await telephony_up(bases, 0.0)) is not None and "off" in off:
        note = f"102 calls are carried by the app edge: {off}"
    else:
        factory = args.pbx
        opened = await open_pbx(factory(settings) if factory is not None else None)
        if opened.pbx is None:
            note = f"102 calls are carried by the app edge: {opened.reason}"
        elif (down := await telephony_up(bases, 30.0)) is not None:
            await opened.close()
            note = f"102 calls are carried by the app edge: {down}"
        else:
            tag = f"{secrets.randbelow(10**5):05d}"
            edge = VoiceEdge(opened.pbx, where / "voice", args.speed, tag)
            print("102 calls through Asterisk: sipp callers, the bots answer on sipp phones")
            return edge, opened, None
    print(f"note: {note}")
    return None, None, note


async def _calls_back(
    voice: VoiceEdge | None, note: str | None, database_url: str, result: DriveResult
) -> dict[str, Any]:
    """The run's calls as the database has them; every problem is one of the run's errors."""
    if voice is None:
        return {"driven": False, "note": note}
    calls = [s for s in result.sent if s.arrival.channel == "voice"]
    books = await voice.read_back(database_url, calls)
    for number in books.missing:
        result.errors.append(f"call {number}: answered by the dialplan, not in the database")
    for number in books.duplicated:
        result.errors.append(f"call {number}: more than one contact")
    result.errors += [f"call contact {c}: left connected" for c in books.orphaned]
    result.errors += [f"call contact {c}" for c in books.not_settled if "connected" not in c]
    await voice.videos_done(30.0)  # their SOS closed: the center hangs them up
    videos = await voice.read_back_videos(database_url)
    for number in videos["not_joined"]:
        result.errors.append(f"SOS video call {number}: not joined to its SOS in the database")
    return {**voice.figures(), "accounting": books.public(), "sos_video": videos}


def _voice_summary(calls: dict[str, Any]) -> None:
    if not calls.get("driven"):
        return
    pop, books = calls["screen_pop_ms"], calls["accounting"]
    print(
        f"102: {calls['calls']} calls, {calls['answered_by_dialplan']} answered by the dialplan, "
        f"{calls['talked_to']} talked to, {books['abandoned']} abandoned "
        f"({books['callback_tasks']} callback tasks); screen pop p50 {pop['p50']} ms, "
        f"p95 {pop['p95']} ms (n={pop['n']})"
    )
    video = calls["sos_video"]
    if video["calls"]:
        print(
            f"SOS video: {video['calls']} calls, {video['answered_by_dialplan']} answered by the "
            f"dialplan, {video['joined_their_sos']} joined their SOS, "
            f"{video['hung_up_by_center']} hung up by the center"
        )


def _database_url(url: str) -> str:
    """As a node reads it (`postgresql://…` pasted → the async driver the nodes ship): the
    run's own reads at the end use the same, not a driver that is not installed."""
    return DatabaseSettings(url=url).url


async def _bots(database_url: str, count: int) -> list[Any]:
    """Bot accounts written straight into the database the chaos nodes use (a process and a
    password hash per `contact operators add` would cost minutes)."""
    tag, password = secrets.token_hex(3), secrets.token_urlsafe(18)
    hashed = hash_password(password)
    made = [Credentials(f"chaos-{tag}-{i:03d}", password) for i in range(count)]
    db = await SqlDatabase.open(DatabaseSettings(url=database_url))
    try:
        for i, who in enumerate(made):
            skills = Skills(frozenset(Language), frozenset(Capability))
            await db.operators.add(
                Operator(new_id(), who.username, f"Chaos {i}", Role.OPERATOR, skills), hashed
            )
    finally:
        await db.close()
    return made


async def _chaos(args: argparse.Namespace, scenario: Scenario) -> int:
    where = Path(args.out or f"simulation-{scenario.name}-chaos")
    url = args.database_url or f"sqlite+aiosqlite:///{(where / 'contact.db').resolve()}"
    only = [k.strip() for k in (args.faults or "").split(",") if k.strip()]
    if unknown := [k for k in only if k not in FAULT_KEYS]:
        print(f"contact simulate --chaos: unknown fault {', '.join(unknown)}", file=sys.stderr)
        return 2
    stack = Stack(where / "chaos", url)
    wrap_up = max(1, round(scenario.wrap_up_s / args.speed))
    channels = citizen_channels()
    try:
        pbx = None if args.no_voice else args.pbx
        await stack.start(args.nodes, {"CONTACT_ROUTING_WRAP_UP_S": str(wrap_up), **channels}, pbx)
        if args.no_voice:
            stack.asterisk = Opened(None, reason="--no-voice")
    except ChaosError as exc:
        await stack.stop()
        print(f"contact simulate --chaos: {exc}", file=sys.stderr)
        return 2
    voice: VoiceEdge | None = None
    opened: OpenEdges | None = None
    try:
        operators = await _bots(url, args.operators or scenario.operators[scenario.start_hour])
        arrivals = generate(scenario, args.seed)
        run_id = f"sim{args.seed}-{secrets.token_hex(3)}"
        # the citizens' own edges and the units, the devices registered in the nodes' database
        # (the real one, not through the relay); half the units' fixes over the stack's MQTT
        opened = await open_edges(
            scenario,
            arrivals,
            stack.urls,
            edge_settings(stack.env),
            run_id,
            args.speed,
            args.seed,
            env={**stack.env, "CONTACT_DATABASE_URL": url},
        )
        for line in opened.notes:
            print(f"note: {line}")
        if stack.asterisk is not None and stack.asterisk.pbx is not None:
            tag = f"{secrets.randbelow(10**5):05d}"
            voice = VoiceEdge(stack.asterisk.pbx, where / "voice", args.speed, tag)
            await give_phones(
                url, operators, await voice.start(stack.urls, operators[0], len(operators))
            )
        elif "voice" in {a.channel for a in arrivals}:
            print(f"note: 102 calls are carried by the app edge: {stack.voice_reason}")
        faults = faults_for(stack, only)
        records: list[Any] = []

        async def hurt(start: float, end: float) -> None:
            span = end - start
            at = [start + span * (i + 1) / (len(faults) + 1) for i in range(len(faults))]
            records.extend(await inject(stack, faults, at, start))

        backend = "PostgreSQL + Redis" if stack.postgres else "embedded"
        names = ", ".join(name for name, _ in faults)
        print(f"chaos on {len(stack.nodes)} node(s) ({backend}): {names}")
        result = await drive(
            arrivals,
            base_url=stack.urls,
            app_key=stack.app_key,
            operators=operators,
            speed=args.speed,
            seed=args.seed,
            drain_s=args.drain_s,
            during=hurt,
            edges=opened.edges,
            run=run_id,
            dispatch_after_s=opened.dispatch_after_s,
            on_dispatch=opened.on_dispatch,
            voice=voice,
            app_sos_share=scenario.app_sos_share,
            app_sos_video_share=scenario.app_sos_video_share,
        )
        # every edge's contacts by their run-unique citizens; the calls by their numbers
        acknowledged = {s.device_id: s.contact_id for s in result.accepted if s.edge != "voice"}
        books = await account(url, opened.prefixes, acknowledged, within_s=30.0)
        settle(result, books)
        units = await _unit_books(url, opened, result)
        calls = await _calls_back(voice, stack.voice_reason, url, result)
    finally:
        replies = opened.replies() if opened is not None else {}
        if opened is not None:
            await opened.close()
        if voice is not None:
            await voice.close()
        await stack.stop()
    report = drive_report(scenario, result, args.seed)
    report["voice"] = calls
    report["replies_to_chats"] = replies
    report["chaos"] = {
        "nodes": len(stack.nodes),
        "backend": "postgresql+redis" if stack.postgres else "embedded",
        "faults": [vars(r) for r in records] + [vars(r) for r in not_done(stack)],
        "accounting": books.figures(),
        "units_accounting": units.figures() if units is not None else None,
    }
    if opened is not None and opened.units is not None:
        report["units"] = opened.units.figures()
    _write(report, str(where), scenario.name)
    _summary(report)
    for r in records:
        took = "not recovered" if r.recovered_s is None else f"recovered in {r.recovered_s:g} s"
        print(f"  {r.at_s:7.1f} s  {r.name}: {took} ({r.note})")
    for r in not_done(stack):
        print(f"     –      {r.name}: {r.note}")
    print(
        f"acknowledged {books.acknowledged}, found exactly once {books.found_once}, missing "
        f"{len(books.missing)}, duplicated {len(books.duplicated)}, orphaned {len(books.orphaned)}"
        f", stored but unacknowledged {books.stored_unacknowledged}"
    )
    _voice_summary(calls)
    _units_summary(units, report.get("units"))
    print(f"report: {where / 'report.html'}")
    lost = books.missing or books.duplicated or books.orphaned or result.errors
    units_lost = units is not None and bool(units.lost)
    unrecovered = [r for r in records if r.recovered_s is None]
    return 1 if lost or units_lost or unrecovered else 0
