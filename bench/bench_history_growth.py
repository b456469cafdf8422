"""Growth with history: incident grouping and report → screen on databases holding 0, 100k
and 1M past contacts (tests/history.py seeds them, as the growth tests do), for this checkout
and, back to back, an older one (--base) in the same run.

Grouping: --calls located contacts (around the centre of Almaty, like the reports of
bench_report_to_screen) placed one after another through SqlDispatchRepository.group on a
fresh copy of the seeded database; latency of each call and the process's CPU per call.
Report → screen (SQLite, the embedded default): bench_report_to_screen.py against a `contact
serve` whose database is a fresh copy of the seeded one, with its bare aiohttp baseline in
the same run. Each checkout runs in its own processes with PYTHONPATH set to it. The CPU is
shared with whatever else runs: the old and new figures of a row are taken back to back.

    python bench/bench_history_growth.py --base /tmp/h6-base [--sizes 0,100000,1000000]
        [--backends sqlite,postgres] [--calls 300] [--rate 50] [--duration 15] [--no-report]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from _figures import ms, pct  # bench/ is on sys.path

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent


@dataclass
class Row:
    history: int
    backend: str
    code: str  # old | new
    group_p50: float = math.nan
    group_p99: float = math.nan
    group_cpu: float = math.nan  # ms of the process's CPU per grouping
    report_p50: float = math.nan
    report_p99: float = math.nan
    report_cpu: float = math.nan  # ms of the server's CPU per report
    bare_p99: float = math.nan
    lost: int = 0


def worker(tree: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, str(HERE / "_history_probe.py"), *args],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} in {tree} failed:\n{done.stderr[-3000:]}")
    lines = done.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def measure_group(tree: Path, backend: str, history: int, calls: int, row: Row) -> None:
    url = worker(tree, "prepare", "--backend", backend, "--history", str(history))
    try:
        out = json.loads(worker(tree, "group", "--url", url, "--calls", str(calls)))
    finally:
        worker(tree, "discard", "--url", url)
    row.group_p50 = pct(out["latencies_ms"], 50)
    row.group_p99 = pct(out["latencies_ms"], 99)
    row.group_cpu = sum(out["cpu_ms"]) / len(out["cpu_ms"])


def measure_report(tree: Path, history: int, rate: float, duration: float, row: Row) -> None:
    url = worker(tree, "prepare", "--backend", "sqlite", "--history", str(history))
    try:
        env = {**os.environ, "PYTHONPATH": str(tree)}
        done = subprocess.run(
            [
                sys.executable,
                str(HERE / "bench_report_to_screen.py"),
                "--rate",
                str(rate),
                "--duration",
                str(duration),
                "--set",
                f"CONTACT_DATABASE_URL={url}",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        worker(tree, "discard", "--url", url)
    if done.returncode != 0:
        raise RuntimeError(f"report → screen in {tree} failed:\n{done.stderr[-3000:]}")
    for line in done.stdout.splitlines():
        cells = line.split()
        if cells[:1] == ["contact"] and len(cells) == 12:
            sent, p50, p99, lost = int(cells[1]), float(cells[2]), float(cells[4]), int(cells[6])
            row.report_p50, row.report_p99, row.lost = p50, p99, lost
            row.report_cpu = float(cells[10]) * 1000 / sent if sent else math.nan
        elif cells[:2] == ["bare", "aiohttp"] and len(cells) == 13:
            row.bare_p99 = float(cells[5])


def table(rows: list[Row], args: argparse.Namespace) -> str:
    lines = [
        f"growth with history: grouping ({args.calls} calls, ms) and report → screen "
        f"({args.rate:g}/s for {args.duration:g} s, SQLite, ms; bare = aiohttp baseline)",
        "",
        f"{'history':>9} {'backend':<8} {'code':<4} {'grp p50':>7} {'grp p99':>7} "
        f"{'grp cpu':>7}  {'r→s p50':>7} {'r→s p99':>7} {'cpu/rep':>7} {'lost':>4} "
        f"{'bare p99':>8}",
    ]
    for r in rows:
        lines.append(
            f"{r.history:>9,} {r.backend:<8} {r.code:<4} {ms(r.group_p50):>7} "
            f"{ms(r.group_p99):>7} {ms(r.group_cpu):>7}  {ms(r.report_p50):>7} "
            f"{ms(r.report_p99):>7} {ms(r.report_cpu):>7} {r.lost:>4} {ms(r.bare_p99):>8}"
        )
    lines.append(
        "(grp cpu: the worker's CPU per grouping; cpu/rep: the server's CPU per report; "
        f"load average at the end {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, help="an older checkout to compare (git worktree)")
    parser.add_argument("--sizes", default="0,100000,1000000")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--no-report", action="store_true", help="grouping only")
    args = parser.parse_args()
    codes = [("old", args.base.resolve())] if args.base else []
    codes.append(("new", CHECKOUT))
    rows = []
    for history in (int(s) for s in args.sizes.split(",")):
        for backend in args.backends.split(","):
            for code, tree in codes:  # back to back: the same neighbours on the CPU
                row = Row(history, backend, code)
                measure_group(tree, backend, history, args.calls, row)
                if backend == "sqlite" and not args.no_report:
                    measure_report(tree, history, args.rate, args.duration, row)
                rows.append(row)
                print(table(rows[-1:], args).splitlines()[-2], file=sys.stderr, flush=True)
    print(table(rows, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
