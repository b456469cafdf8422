"""The camera snapshot proxy: the server fetches a camera's still image with the camera's own
credentials, so a browser only ever sees /api/v1/cameras/{id}/snapshot.

- Credentials in the snapshot URL (http://user:pass@host/…) are sent as Basic, and as Digest
  when the camera answers 401 with a Digest challenge (most IP cameras).
- A timeout, a size limit, raster images only (JPEG, PNG, WebP, GIF, BMP: an SVG could carry
  script), no redirects (a camera must not bounce us elsewhere).
- One fetch per camera at a time; operators looking at the same camera within `cache_s`
  share one image.
- Every fetch is counted in `camera_health` (supervisor page).
- Never towards link-local / cloud metadata addresses, nor loopback unless allowed: checked on
  the URL and on what its name resolves to at each fetch (address_guard.py; DNS rebinding).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from contact.address_guard import RefusedAddress, check_camera_url, guarded_connector
from contact.dispatch.cameras import Camera
from contact.errors import ContactError, NotFound

log = logging.getLogger(__name__)


# still images only: an SVG (or HTML) from a camera would run script in our origin
RASTER_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp"})


class SnapshotFailed(ContactError):
    """The camera did not give an image (down, refused, not an image)."""

    error_id = "camera_unreachable"
    status = 502


class SnapshotTimeout(SnapshotFailed):
    error_id = "camera_timeout"
    status = 504


@dataclass(frozen=True, slots=True)
class Snapshot:
    content: bytes
    media_type: str
    fetched_at: float


HealthRecorder = Callable[[str, bool, str | None], Awaitable[None]]


class SnapshotProxy:
    def __init__(
        self,
        *,
        timeout_s: float,
        max_bytes: int,
        cache_s: float,
        record: HealthRecorder | None = None,
        clock: Callable[[], float] = time.monotonic,
        allow_loopback: bool = False,
        resolver: AbstractResolver | None = None,  # names to addresses (tests: a fake DNS)
    ) -> None:
        self._allow_loopback = allow_loopback
        self._resolver = resolver
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes
        self._cache_s = cache_s
        self._record = record
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._cache: dict[str, Snapshot] = {}
        self._locks: dict[str, asyncio.Lock] = {}  # at most one per camera

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout_s),
                connector=guarded_connector(self._allow_loopback, self._resolver),
            )

    async def stop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def fetch(self, camera: Camera) -> Snapshot:
        if camera.snapshot_url is None:
            raise NotFound("this camera has no snapshot URL", error_id="no_snapshot")
        return await self.fetch_url(camera.id, camera.snapshot_url, health=True)

    async def fetch_url(self, key: str, url: str, *, health: bool = False) -> Snapshot:
        """The still at `url` (a camera's, or an analytics alert's), cached under `key`;
        `health`: count it in camera_health under that camera id."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._cache.get(key)
            if cached is not None and self._clock() - cached.fetched_at < self._cache_s:
                return cached
            try:
                snapshot = await self._get(url)
            except SnapshotFailed as exc:
                if health:
                    await self._health(key, False, exc.message)
                raise
            if health:
                await self._health(key, True, None)
            self._cache[key] = snapshot
            if len(self._cache) > 1000:  # keep the newest only
                oldest = min(self._cache, key=lambda k: self._cache[k].fetched_at)
                del self._cache[oldest]
                if (idle := self._locks.get(oldest)) is not None and not idle.locked():
                    del self._locks[oldest]
            return snapshot

    async def _health(self, camera_id: str, ok: bool, error: str | None) -> None:
        if self._record is None:
            return
        try:
            await self._record(camera_id, ok, error)
        except ContactError:
            log.warning("camera health not recorded for %s", camera_id)

    async def _get(self, raw_url: str) -> Snapshot:
        if self._session is None:
            raise SnapshotFailed("the snapshot proxy is not running")
        try:  # literal addresses here; names in the resolver, on what they resolve to
            check_camera_url(raw_url, self._allow_loopback)
        except RefusedAddress as exc:
            raise SnapshotFailed(
                f"the camera's address is refused: {exc}", error_id="camera_address_refused"
            ) from None
        url = URL(raw_url)
        login, password = url.user, url.password
        plain = url.with_user(None)
        headers = (
            {"Authorization": aiohttp.encode_basic_auth(login, password or "")} if login else {}
        )
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._session.get(plain, headers=headers, allow_redirects=False)
                challenge = response.headers.get("WWW-Authenticate", "")
                if response.status == 401 and login and challenge.lower().startswith("digest"):
                    response.release()
                    digest = aiohttp.DigestAuthMiddleware(login, password or "")
                    response = await self._session.get(
                        plain, middlewares=(digest,), allow_redirects=False
                    )
                async with response:
                    if response.status != 200:
                        raise SnapshotFailed(
                            f"the camera answered {response.status}",
                            details={"status": response.status},
                        )
                    media_type = response.content_type
                    if media_type not in RASTER_TYPES:
                        raise SnapshotFailed(f"the camera sent {media_type}, not a still image")
                    data = bytearray()
                    async for chunk in response.content.iter_chunked(65536):
                        data += chunk
                        if len(data) > self._max_bytes:
                            raise SnapshotFailed("the snapshot is too large")
        except TimeoutError:
            raise SnapshotTimeout("the camera did not answer in time") from None
        except aiohttp.ClientConnectorError as exc:
            if "resolves to" in str(exc.os_error):  # GuardedResolver refused what it resolved
                raise SnapshotFailed(
                    "the camera's address is refused: its name resolves to a refused address",
                    error_id="camera_address_refused",
                ) from None
            raise SnapshotFailed(f"the camera cannot be reached: {type(exc).__name__}") from None
        except aiohttp.ClientError as exc:
            raise SnapshotFailed(f"the camera cannot be reached: {type(exc).__name__}") from None
        return Snapshot(bytes(data), media_type, self._clock())


__all__ = ["Snapshot", "SnapshotFailed", "SnapshotProxy", "SnapshotTimeout"]
