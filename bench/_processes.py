"""Servers run as their own OS processes, for the benchmarks that measure across processes
(bench_report_to_screen, bench_webhooks, bench_voice_screen_pop): a temporary directory for a
run, start and stop them with a log each, free ports, their CPU time, waiting for /healthz."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

T = TypeVar("T")


class Processes:
    """The servers a benchmark started, each logging to <logs>/<name>.log; stopped (TERM, then
    KILL after stop_within_s) whatever happens."""

    def __init__(self, logs: Path, stop_within_s: float = 10.0) -> None:
        self._logs = logs
        self._stop_within_s = stop_within_s
        self._running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self._logs / f"{name}.log").open("wb")
        # own session: a Ctrl-C reaches the benchmark only, which then stops the servers in order
        proc = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self._running[name] = proc
        return proc

    def log_lines(self, name: str) -> list[str]:
        path = self._logs / f"{name}.log"
        if not path.exists():
            return []
        return path.read_text(errors="replace").splitlines()

    def log_tail(self, name: str, lines: int = 30) -> str:
        return "\n".join(self.log_lines(name)[-lines:])

    def stop(self, name: str) -> None:
        proc = self._running.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(self._stop_within_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def stop_all(self) -> None:
        for name in list(self._running):
            self.stop(name)


def run_with_processes(
    bench: Callable[[Processes, Path], Coroutine[Any, Any, T]],
    *,
    temp_prefix: str,
    keep: bool,
    stop_within_s: float = 10.0,
) -> T | None:
    """asyncio.run(bench(procs, tmp)) with a new temporary directory `tmp` for the servers'
    logs and data; on the way out every server is stopped and `tmp` removed (unless keep).
    TERM and Ctrl-C interrupt it: None, after saying so."""

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with it ignored
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix))
    procs = Processes(tmp, stop_within_s)
    try:
        return asyncio.run(bench(procs, tmp))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return None
    finally:
        procs.stop_all()
        if keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A port free on 127.0.0.1 right now: TCP by default, UDP with socket.SOCK_DGRAM."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat (0.0 where /proc is missing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_healthy(url: str, proc: subprocess.Popen[bytes], within_s: float = 30.0) -> None:
    """Until GET <url>/healthz answers 200; RuntimeError when proc exits or within_s passes."""
    deadline = time.monotonic() + within_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode} while starting")
            try:
                async with session.get(f"{url}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url}/healthz did not answer 200 within {within_s:g} s")
