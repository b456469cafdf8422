"""Triage: messages per second through the matcher, the latency triage adds to each report on
the report → screen path, and precision/recall per category on the labelled corpora.

Texts are the labelled corpus (tests/data/triage_corpus.tsv, 303 messages) and the held-out
set (tests/data/triage_holdout.tsv), cycled. Figures:

- throughput, one process (= one core): `Triage.analyse` (tokenise, lemma/stem per word from
  the LRU cache, one Aho-Corasick pass, negation, decision) on warm caches; then the same in
  --procs processes at once (per-core figure = total / procs); then "cold": a fresh Triage
  (empty word cache) reading each corpus message once, every word seen for the first time.
- latency per message: each `analyse` call timed alone (perf_counter_ns), p50/p99/max, warm
  and cold. `register_contact` calls it once before the write, so this is what triage adds to
  report → screen (the rest of that path is measured by bench_report_to_screen.py).
- precision/recall per category (contact/triage/corpus.py), corpus and held-out set.

Targets: >= 50,000 messages/s per core; p99 <= 1 ms added per report.

    python bench/bench_triage.py [--seconds 3] [--procs 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from contact.triage import Triage  # noqa: E402
from contact.triage.corpus import read, score, table  # noqa: E402

DATA = HERE.parent / "tests" / "data"
TARGET_PER_CORE = 50_000
TARGET_P99_MS = 1.0


def texts() -> list[str]:
    return [s.text for s in read(DATA / "triage_corpus.tsv") + read(DATA / "triage_holdout.tsv")]


def throughput(seconds: float, *, matcher_only: bool = False) -> tuple[float, float]:
    """(messages per wall second, per CPU second of this process), warm caches. The machine
    is shared: the CPU-second figure is the one per core. `matcher_only`: hits without the
    decision (tokens → keys → automaton → hits with negation)."""
    triage = Triage()
    run = triage._matcher.hits if matcher_only else triage.analyse
    sample = texts()
    for text in sample:
        run(text)
    done = 0
    start, cpu = time.perf_counter(), time.process_time()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for text in sample:
            run(text)
        done += len(sample)
    return done / (time.perf_counter() - start), done / (time.process_time() - cpu)


def _worker(seconds: float, out: multiprocessing.Queue[tuple[float, float]]) -> None:
    out.put(throughput(seconds))


def parallel(procs: int, seconds: float) -> list[tuple[float, float]]:
    ctx = multiprocessing.get_context("fork")
    out: multiprocessing.Queue[tuple[float, float]] = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(seconds, out)) for _ in range(procs)]
    for w in workers:
        w.start()
    rates = [out.get() for _ in workers]
    for w in workers:
        w.join()
    return rates


def latencies(triage: Triage, sample: list[str]) -> tuple[list[float], list[float]]:
    """Milliseconds per call: (wall, CPU of this thread)."""
    wall, cpu = [], []
    for text in sample:
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        triage.analyse(text)
        cpu.append((time.thread_time_ns() - c0) / 1e6)
        wall.append((time.perf_counter_ns() - t0) / 1e6)
    return wall, cpu


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * p // 100) - 1).__int__()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    sample = texts()
    print(f"# triage: {len(sample)} distinct messages, cycled; {os.cpu_count()} cores here")

    one_wall, one_cpu = throughput(args.seconds)
    matcher_wall, matcher_cpu = throughput(args.seconds, matcher_only=True)
    rates = parallel(args.procs, args.seconds)
    build_t0 = time.perf_counter()
    cold_triage = Triage()
    build_s = time.perf_counter() - build_t0
    cold, cold_cpu = latencies(cold_triage, sample)  # every word seen for the first time
    warm, warm_cpu = latencies(cold_triage, sample * 20)
    cold_rate = len(cold_cpu) / (sum(cold_cpu) / 1e3)
    load = os.getloadavg()[0]

    print(f"# load average at the end: {load:.1f} on {os.cpu_count()} cores (a shared machine)")
    print()
    print("| figure | per CPU second (per core) | per wall second | target |")
    print("|---|---:|---:|---:|")
    print(
        f"| matcher (tokens, keys, automaton, negation), 1 process, warm | {matcher_cpu:,.0f} "
        f"| {matcher_wall:,.0f} | >= {TARGET_PER_CORE:,} |"
    )
    print(
        f"| triage (matcher + decision), 1 process, warm | {one_cpu:,.0f} | {one_wall:,.0f} "
        f"| >= {TARGET_PER_CORE:,} |"
    )
    print(
        f"| triage, {args.procs} processes at once | "
        f"{sum(r[1] for r in rates) / args.procs:,.0f} | {sum(r[0] for r in rates):,.0f} "
        f"(all {args.procs}) | – |"
    )
    print(f"| triage, cold (each word lemmatised/stemmed once) | {cold_rate:,.0f} | – | – |")
    print()
    print("| added per report (one analyse call) | p50 | p99 | max | target |")
    print("|---|---:|---:|---:|---:|")
    for name, values in (
        ("warm, CPU", warm_cpu),
        ("warm, wall", warm),
        ("cold, CPU", cold_cpu),
        ("cold, wall", cold),
    ):
        print(
            f"| {name} | {pct(values, 50) * 1e3:.0f} µs | {pct(values, 99) * 1e3:.0f} µs | "
            f"{max(values) * 1e3:.0f} µs | p99 <= {TARGET_P99_MS:.0f} ms |"
        )
    print(f"\nbuilding the lexicon automaton and pymorphy3's dictionary: {build_s:.2f} s")
    for name in ("triage_corpus.tsv", "triage_holdout.tsv"):
        samples = read(DATA / name)
        report = score(samples, cold_triage.analyse)
        print(f"\n## {name}: {report.samples} messages, {len(report.misses)} misclassified\n")
        print(table(report))
        for sample_, got in report.misses:
            print(f"- expected {'|'.join(sample_.labels)}, got {got}: {sample_.text}")
    ok = (
        matcher_cpu >= TARGET_PER_CORE
        and one_cpu >= TARGET_PER_CORE
        and pct(warm_cpu, 99) <= TARGET_P99_MS
    )
    print(f"\n{'targets met' if ok else 'TARGETS MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
