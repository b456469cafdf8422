"""Results a centre's head reads: per hour and channel, simulated beside predicted (Erlang A),
as JSON and as one self-contained HTML page (inline SVG, no scripts, no external files)."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from typing import Any

from contact.simulate.des import Cell, Outcome, percentile, service_level
from contact.simulate.drive import DriveResult
from contact.simulate.erlang import erlang_a
from contact.simulate.response import Responses
from contact.simulate.scenario import CHANNELS, Scenario
from contact.simulate.staffing import hour_load


def _num(x: float) -> float | None:
    return None if x is None or math.isnan(x) or math.isinf(x) else round(x, 4)


def _figures(cell: Cell) -> dict[str, Any]:
    return {
        "offered": cell.offered,
        "answered": cell.answered,
        "service_level": _num(service_level(cell)),
        "asa_s": _num(sum(cell.waits) / len(cell.waits)) if cell.waits else None,
        "p90_answer_s": _num(percentile(cell.waits, 0.9)),
        "abandoned_share": _num(cell.abandoned / cell.offered) if cell.offered else None,
    }


def predicted(scenario: Scenario, rota: Sequence[int]) -> list[dict[str, Any]]:
    out = []
    for h in range(math.ceil(scenario.duration_h)):
        rate, aht, patience = hour_load(scenario, h)
        n = rota[min(h, len(rota) - 1)]
        p = erlang_a(rate, aht, n, patience, scenario.target.answer_s) if rate else None
        out.append(
            {
                "hour": h,
                "operators": n,
                "offered_erlang": _num(rate * aht),
                "service_level": _num(p.service_level) if p else None,
                "asa_s": _num(p.asa_s) if p else None,
                "p90_answer_s": _num(p.p90_answer_s) if p else None,
                "abandoned_share": _num(p.abandoned) if p else None,
                "occupancy": _num(p.occupancy) if p else None,
            }
        )
    return out


def response_figures(scenario: Scenario, responses: Responses | None) -> dict[str, Any] | None:
    """Response to the scene per district against the target (7 minutes in Almaty)."""
    if responses is None:
        return None
    return {
        "target_min": responses.target_s / 60,
        "all": responses.figures(),
        "districts": {d.name: responses.figures(d.name) for d in scenario.districts},
        "needed_but_unanswered": responses.unanswered,
    }


def model_report(
    scenario: Scenario,
    outcome: Outcome,
    rota: Sequence[int],
    seed: int,
    responses: Responses | None = None,
) -> dict[str, Any]:
    """The simulator's figures for a run of the model, with Erlang A beside each hour."""
    target = scenario.target
    hours: list[dict[str, Any]] = []
    theory = predicted(scenario, rota)
    for h in range(math.ceil(scenario.duration_h)):
        row: dict[str, Any] = {
            "hour": h,
            "hour_of_day": (scenario.start_hour + h) % 24,
            "operators": rota[min(h, len(rota) - 1)],
            "all": _figures(outcome.cell(hour=h)),
            "emergency": _figures(outcome.cell(hour=h, kind="emergency")),
            "channels": {c: _figures(outcome.cell(hour=h, channel=c)) for c in CHANNELS},
            "occupancy": _num(outcome.busy_s[h] / outcome.staffed_s[h])
            if h < len(outcome.staffed_s) and outcome.staffed_s[h]
            else None,
            "predicted": theory[h],
        }
        sl = row["emergency"]["service_level"]
        row["sla_breach"] = sl is not None and sl < target.service_level
        hours.append(row)
    return {
        "scenario": scenario.name,
        "mode": "model",
        "seed": seed,
        "target": target.model_dump(),
        "total": _figures(outcome.cell()),
        "emergency": _figures(outcome.cell(kind="emergency")),
        "channels": {c: _figures(outcome.cell(channel=c)) for c in CHANNELS},
        "occupancy": _num(sum(outcome.busy_s) / sum(outcome.staffed_s))
        if sum(outcome.staffed_s)
        else None,
        "sla_breaches": [r["hour"] for r in hours if r["sla_breach"]],
        "still_waiting_at_end": outcome.waiting_at_end,
        "response": response_figures(scenario, responses),
        "hours": hours,
    }


def drive_report(scenario: Scenario, result: DriveResult, seed: int) -> dict[str, Any]:
    """The real stack's figures: answer times measured from the 202 to the bot's accept."""
    target = scenario.target
    cells: dict[tuple[int, str], Cell] = {}
    for s in result.sent:
        key = (int(s.arrival.t_s // 3600), s.arrival.kind)
        cell = cells.setdefault(key, Cell())
        cell.offered += 1
        cell.abandoned += s.final_status == "abandoned"  # a caller who hung up waiting
        if not math.isnan(s.answered_at):
            wait = (s.answered_at - s.sent_at) * result.speed  # in scenario seconds
            cell.answered += 1
            cell.waits.append(wait)
            cell.within += wait <= target.answer_s
    whole = Cell()
    emergency = Cell()
    for (_, kind), c in cells.items():
        for into in (whole, emergency) if kind == "emergency" else (whole,):
            into.offered += c.offered
            into.answered += c.answered
            into.within += c.within
            into.abandoned += c.abandoned
            into.waits.extend(c.waits)
    states: dict[str, int] = {}
    for s in result.accepted:
        states[str(s.final_status)] = states.get(str(s.final_status), 0) + 1
    return {
        "scenario": scenario.name,
        "mode": "real",
        "seed": seed,
        "speed": result.speed,
        "wall_s": round(result.wall_s, 1),
        "operators": result.operators,
        "target": target.model_dump(),
        "sent": len(result.sent),
        "accepted_by_edge": len(result.accepted),
        "refused": sum(1 for s in result.sent if not s.accepted),
        "handled_by_bots": result.handled,
        "final_states": states,
        "accepted_ids": [s.contact_id for s in result.accepted],
        # per report the app edge accepted: [id, POST sent, 202/200 received] on the machine's
        # monotonic clock (time.monotonic, shared by its processes): bench/bench_city_day.py
        # times report → screen from it
        "edge_times": [
            [s.contact_id, round(s.sent_at, 6), round(s.acked_at, 6)]
            for s in result.accepted
            if s.edge == "app" and not math.isnan(s.acked_at)
        ],
        "not_waiting_or_terminal": result.errors,
        "carried_as_app": result.carried_as_app,
        "app_sos_presses": result.sos_presses,
        "app_sos_videos": result.sos_videos,
        "edges": edge_figures(result),
        "channels": channel_figures(result, target.answer_s),
        "dispatched": len(result.dispatched),
        "needed_a_unit": sum(1 for s in result.accepted if s.arrival.needs_unit),
        "no_unit_sent": result.dispatch_refused,
        # of the units sent, those whose answer was lost and the bot found in the panel after
        "dispatches_found_in_panel": result.dispatches_seen_in_panel,
        "total": _figures(whole),
        "emergency": _figures(emergency),
        "predicted": predicted(scenario, [result.operators]),
        "response": response_figures(scenario, real_responses(scenario, result)),
    }


def channel_figures(result: DriveResult, answer_s: float) -> dict[str, dict[str, Any]]:
    """Answer times per channel of the model (whichever edge carried it), in scenario s."""
    cells: dict[str, Cell] = {}
    for s in result.sent:
        cell = cells.setdefault(s.arrival.channel, Cell())
        cell.offered += 1
        if not math.isnan(s.answered_at):
            wait = (s.answered_at - s.sent_at) * result.speed
            cell.answered += 1
            cell.waits.append(wait)
            cell.within += wait <= answer_s
    return {c: _figures(cells[c]) for c in CHANNELS if c in cells}


def edge_figures(result: DriveResult) -> dict[str, dict[str, int]]:
    """Per edge: contacts sent through it and accepted by it."""
    out: dict[str, dict[str, int]] = {}
    for s in result.sent:
        f = out.setdefault(s.edge, {"sent": 0, "accepted": 0})
        f["sent"] += 1
        f["accepted"] += s.accepted
    return out


def real_responses(scenario: Scenario, result: DriveResult) -> Responses | None:
    """Response to the scene in a real run: from the citizen's first contact to the unit a bot
    dispatched (wall time × speed, in scenario seconds) plus the ETA the center gave that unit.
    None when the scenario has no units."""
    if scenario.units is None:
        return None
    out = Responses(scenario.units.target_min * 60)
    for s in result.accepted:
        if not s.arrival.needs_unit:
            continue
        if math.isnan(s.dispatched_at):
            out.unanswered += 1
            continue
        took = (s.dispatched_at - s.sent_at) * result.speed + (s.eta_s or 0.0)
        out.by_district.setdefault(s.arrival.district, []).append(took)
    return out


def _bars(hours: list[dict[str, Any]]) -> str:
    """Simulated (bar) and predicted (tick) emergency service level per hour, as SVG."""
    w, h, pad = 24, 160, 30
    width = pad + w * len(hours) + 10
    parts = [f'<svg width="{width}" height="{h + 40}" role="img" aria-label="service level">']
    for y in (0.0, 0.5, 0.9, 1.0):
        yy = 10 + h * (1 - y)
        parts.append(f'<line x1="{pad}" x2="{width}" y1="{yy}" y2="{yy}" stroke="#ddd"/>')
        parts.append(f'<text x="0" y="{yy + 4}" font-size="10">{int(y * 100)}%</text>')
    for i, row in enumerate(hours):
        x = pad + i * w
        sl = row["emergency"]["service_level"]
        if sl is not None:
            colour = "#c0392b" if row["sla_breach"] else "#2e86c1"
            parts.append(
                f'<rect x="{x + 2}" y="{10 + h * (1 - sl)}" width="{w - 4}" '
                f'height="{h * sl}" fill="{colour}"/>'
            )
        p = row["predicted"]["service_level"]
        if p is not None:
            yy = 10 + h * (1 - p)
            parts.append(f'<line x1="{x}" x2="{x + w}" y1="{yy}" y2="{yy}" stroke="#000"/>')
        parts.append(
            f'<text x="{x + 4}" y="{h + 30}" font-size="10">{row["hour_of_day"]:02d}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _voice_html(voice: dict[str, Any] | None) -> str:
    """102 calls: how they went through Asterisk, or why they did not."""
    if not voice:
        return ""
    if not voice.get("driven"):
        return f"<h2>102 calls</h2><p>{html.escape(str(voice.get('note')))}</p>"
    pop, books = voice["screen_pop_ms"], voice["accounting"]
    return (
        f"<h2>102 calls (sipp through Asterisk)</h2><p>{voice['calls']} calls, "
        f"{voice['answered_by_dialplan']} answered by the dialplan, {voice['talked_to']} "
        f"talked to, {books['abandoned']} abandoned ({books['callback_tasks']} callback "
        f"tasks); in the database exactly once: {books['found_once']}, missing "
        f"{len(books['missing'])}, duplicated {len(books['duplicated'])}. Screen pop (INVITE → "
        f"the queue on an operator's page): p50 {pop['p50']} ms, p95 {pop['p95']} ms "
        f"(n = {pop['n']}).</p>"
    )


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.1f} %"


def _sec(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f} s"


def _response_html(response: dict[str, Any] | None) -> str:
    if not response:
        return ""
    e = html.escape

    def row(name: str, f: dict[str, Any]) -> str:
        late = f["within_target"] is not None and f["within_target"] < 0.9
        mean = "–" if f["mean_min"] is None else f"{f['mean_min']:.1f} min"
        p90 = "–" if f["p90_min"] is None else f"{f['p90_min']:.1f} min"
        mark = ' class="breach"' if late else ""
        return (
            f"<tr{mark}><td>{e(name)}</td><td>{f['sent']}</td>"
            f"<td>{mean}</td><td>{p90}</td><td>{_pct(f['within_target'])}</td></tr>"
        )

    rows = "".join(row(name, f) for name, f in response["districts"].items())
    return (
        f"<h2>Response to the scene (target {response['target_min']:g} min)</h2>"
        "<table><tr><th>district</th><th>units sent</th><th>mean</th><th>p90</th>"
        f"<th>within target</th></tr>{rows}{row('all', response['all'])}</table>"
        f"<p>Needed a unit but none was sent (never answered, or no unit free): "
        f"{response['needed_but_unanswered']}.</p>"
    )


def to_html(report: dict[str, Any]) -> str:
    e = html.escape
    rows = []
    for r in report.get("hours", []):
        p = r["predicted"]
        rows.append(
            "<tr{}><td>{:02d}:00</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
                ' class="breach"' if r["sla_breach"] else "",
                r["hour_of_day"],
                r["operators"],
                r["all"]["offered"],
                _pct(r["emergency"]["service_level"]),
                _pct(p["service_level"]),
                _pct(r["all"]["service_level"]),
                _sec(r["all"]["asa_s"]),
                _sec(r["all"]["p90_answer_s"]),
                _pct(r["all"]["abandoned_share"]),
                _pct(p["abandoned_share"]),
                _pct(r["occupancy"]),
            )
        )
    channels = "".join(
        f"<tr><td>{e(c)}</td><td>{f['offered']}</td><td>{_pct(f['service_level'])}</td>"
        f"<td>{_sec(f['asa_s'])}</td><td>{_sec(f['p90_answer_s'])}</td>"
        f"<td>{_pct(f['abandoned_share'])}</td></tr>"
        for c, f in report.get("channels", {}).items()
        if f["offered"]
    )
    t = report["target"]
    tot, em = report["total"], report["emergency"]
    response = _response_html(report.get("response"))
    edges = "".join(
        f"<tr><td>{e(name)}</td><td>{f['sent']}</td><td>{f['accepted']}</td></tr>"
        for name, f in report.get("edges", {}).items()
    )
    if edges:
        carried = ", ".join(f"{e(c)} {n}" for c, n in report.get("carried_as_app", {}).items())
        edges = (
            "<h2>Edges driven</h2><table><tr><th>edge</th><th>sent</th><th>accepted</th></tr>"
            f"{edges}</table><p>Carried by the app edge: {carried or 'none'}. The app's SOS "
            f"button pressed: {report.get('app_sos_presses', 0)}.</p>"
        )
    chart = _bars(report["hours"]) if report.get("hours") else ""
    return f"""<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>{e(report["scenario"])}</title>
<style>body{{font:14px sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}tr.breach td{{background:#fde}}
</style></head><body>
<h1>{e(report["scenario"])} ({e(report["mode"])}, seed {report["seed"]})</h1>
<p>Target: {t["service_level"] * 100:.0f} % of {e(t["kind"])} contacts answered within
{t["answer_s"]:.0f} s. Emergencies: {_pct(em["service_level"])} (p90 answer
{_sec(em["p90_answer_s"])}). All contacts: {tot["offered"]} offered,
{_pct(tot["service_level"])} within target, average answer {_sec(tot["asa_s"])},
p90 {_sec(tot["p90_answer_s"])}, abandoned {_pct(tot["abandoned_share"])}.
Hours that missed the target: {", ".join(map(str, report.get("sla_breaches", []))) or "none"}.</p>
<h2>Emergency service level per hour (bars: simulated, red = missed; lines: Erlang A)</h2>
{chart}
<h2>Per hour</h2>
<table><tr><th>hour</th><th>operators</th><th>offered</th><th>emergency SL</th>
<th>predicted SL (Erlang A, all)</th><th>SL all</th><th>avg answer</th><th>p90 answer</th>
<th>abandoned</th><th>predicted abandoned</th><th>occupancy</th></tr>
{"".join(rows)}</table>
<h2>Per channel</h2>
<table><tr><th>channel</th><th>offered</th><th>SL</th><th>avg answer</th><th>p90</th>
<th>abandoned</th></tr>{channels}</table>
{edges}
{response}
{_voice_html(report.get("voice"))}
<h2>Raw figures</h2><pre>{e(json.dumps(report, ensure_ascii=False, indent=1)[:200_000])}</pre>
</body></html>
"""
