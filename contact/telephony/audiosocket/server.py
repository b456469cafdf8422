"""The AudioSocket server Asterisk's audio taps connect to (loopback only).

Total: whatever a connection sends (an unknown kind, a wrong length, a truncated frame, silence,
a UUID of no tap, the same tap twice) ends that connection only, is logged and counted
(`contact_audiosocket_rejected_total{reason}`), and never reaches another connection or the
server. Connections beyond `max_connections` are closed at once, before anything is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge

from contact.telephony.audiosocket import wire

log = logging.getLogger(__name__)


class Limits(Protocol):
    """What the server is told (CONTACT_TRANSCRIBE_AUDIOSOCKET_*, … of its consumer)."""

    @property
    def audiosocket_host(self) -> str: ...
    @property
    def audiosocket_port(self) -> int: ...
    @property
    def max_connections(self) -> int: ...
    @property
    def hello_timeout_s(self) -> float: ...
    @property
    def idle_timeout_s(self) -> float: ...


class Sink(Protocol):
    """Where one tap's audio goes (the stream a consumer reads, or a test's leg)."""

    def feed(self, pcm: bytes, rate: int) -> bool:
        """Audio arrived (never waits). False: no more is taken, the connection closes."""
        ...

    def end(self) -> None: ...


# claim(tap_id) → the sink waiting for that tap's audio (once), or None
Claim = Callable[[str], Sink | None]


class AudioSocketMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.rejected = Counter(
            "contact_audiosocket_rejected_total",
            "AudioSocket connections ended for a protocol error, a stray UUID or overload",
            ["reason"],
            registry=registry,
        )
        self.connections = Gauge(
            "contact_audiosocket_connections", "AudioSocket connections open", registry=registry
        )


class AudioSocketServer:
    def __init__(
        self,
        settings: Limits,
        claim: Claim,
        *,
        metrics: AudioSocketMetrics,
    ) -> None:
        self._s = settings
        self._claim = claim
        self._metrics = metrics
        self._server: asyncio.Server | None = None
        self._open = 0
        self._handlers: set[asyncio.Task[None]] = set()
        self.rejections: dict[str, int] = {}

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def listening(self) -> bool:
        return self._server is not None

    @property
    def connections(self) -> int:
        return self._open

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self._s.audiosocket_host, self._s.audiosocket_port, backlog=128
        )
        log.info("AudioSocket server on %s:%s", self._s.audiosocket_host, self.port)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._server.wait_closed()
        self._server = None

    def _reject(self, reason: str) -> None:
        self.rejections[reason] = self.rejections.get(reason, 0) + 1
        self._metrics.rejected.labels(reason).inc()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._open >= self._s.max_connections:
            self._reject("overload")
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._open += 1
        self._metrics.connections.inc()
        leg: Sink | None = None
        try:
            leg = await self._converse(reader)
        except wire.ProtocolError as error:
            self._reject(error.reason)
            log.info("AudioSocket connection closed: %s", error.reason)
        except asyncio.IncompleteReadError:
            self._reject("truncated")
        except TimeoutError:
            self._reject("timeout")
        except (ConnectionError, OSError):
            self._reject("reset")
        except asyncio.CancelledError:
            pass  # the server stops
        except Exception:  # a bug of ours: this connection only
            self._reject("error")
            log.exception("AudioSocket connection failed")
        finally:
            self._handlers.discard(task)
            self._open -= 1
            self._metrics.connections.dec()
            writer.transport.abort()  # nothing to flush: we never write
            if leg is not None:
                leg.end()

    async def _converse(self, reader: asyncio.StreamReader) -> Sink | None:
        """Read the tap's UUID, then its audio until it ends; the sink, once claimed."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self._s.hello_timeout_s) as deadline:
            kind, length = wire.header(await reader.readexactly(wire.HEADER))
            if kind != wire.KIND_UUID:
                raise wire.ProtocolError("no_uuid")
            tap_id = wire.tap_id(await reader.readexactly(length))
            leg = self._claim(tap_id)
            if leg is None:
                raise wire.ProtocolError("unknown_tap")
            try:
                while True:
                    deadline.reschedule(loop.time() + self._s.idle_timeout_s)
                    kind, length = wire.header(await reader.readexactly(wire.HEADER))
                    payload = await reader.readexactly(length) if length else b""
                    rate = wire.SLIN_RATES.get(kind)
                    if rate is not None:
                        if not leg.feed(payload, rate):
                            return leg  # the watchdog stopped it: closing ends the tap
                    elif kind == wire.KIND_UUID:
                        raise wire.ProtocolError("second_uuid")
                    elif kind in (wire.KIND_HANGUP, wire.KIND_ERROR):
                        return leg
                    # DTMF: nothing to recognise
            except BaseException:
                leg.end()
                raise
