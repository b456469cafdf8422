"""One typed, frozen Settings from CONTACT_* environment variables, one section per subsystem.

Each section reads its own prefix, so the public names stay flat and readable:
CONTACT_HTTP_PORT, CONTACT_DATABASE_URL, CONTACT_REDIS_URL, CONTACT_ROUTING_OFFER_TIMEOUT_S …
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """`10.0.0.0/8, 127.0.0.1` → networks; ValueError naming the bad entry."""
    networks = []
    for item in (x.strip() for x in text.split(",")):
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"not an address or network: {item!r}") from None
    return tuple(networks)


def _section(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, frozen=True, extra="ignore")


# A tile URL template: one host (no {s} subdomains, no credentials: its origin goes into the
# pages' Content-Security-Policy and browsers see the whole URL), placeholders only after it.
_TILE_URL = re.compile(
    r"^(?P<scheme>https?)://(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)"
    r"(?::(?P<port>[0-9]{1,5}))?(?P<rest>/[^\s]*)$"
)
_TILE_FIELD = re.compile(r"\{[^{}]*\}")
_TILE_FIELDS_ALLOWED = frozenset({"{z}", "{x}", "{y}", "{-y}", "{r}"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def check_tile_url(url: str) -> None:
    """ValueError unless `url` is an http(s) tile template Leaflet can fill: {z}, {x} and {y}
    (or {-y}, TMS), optionally {r} (retina), on a plain host[:port]."""
    found = _TILE_URL.match(url)
    example = "e.g. https://tiles.example.kz/{z}/{x}/{y}.png"
    if found is None or not 0 < int(found["port"] or 1) <= 65535:
        raise ValueError(
            "CONTACT_HTTP_MAP_TILE_URL must be http:// or https:// with a host name or IPv4 "
            f"address (no credentials, no {{s}}), {example}"
        )
    fields = set(_TILE_FIELD.findall(found["rest"]))
    unknown = sorted(fields - _TILE_FIELDS_ALLOWED)
    if unknown:
        raise ValueError(f"CONTACT_HTTP_MAP_TILE_URL: unknown placeholder(s) {unknown}, {example}")
    if not {"{z}", "{x}"} <= fields or not fields & {"{y}", "{-y}"}:
        raise ValueError(f"CONTACT_HTTP_MAP_TILE_URL needs {{z}}, {{x}} and {{y}}, {example}")
    left = _TILE_FIELD.sub("", found["rest"])
    if "{" in left or "}" in left:
        raise ValueError(f"CONTACT_HTTP_MAP_TILE_URL has a stray brace, {example}")


def tile_origin(url: str) -> str:
    """scheme://host[:port] of a checked tile template (the default port left out)."""
    found = _TILE_URL.match(url)
    if found is None:
        raise ValueError(f"not a tile URL template: {url!r}")
    scheme, host = found["scheme"].lower(), found["host"].lower()
    port = int(found["port"]) if found["port"] else _DEFAULT_PORTS[scheme]
    return f"{scheme}://{host}" if port == _DEFAULT_PORTS[scheme] else f"{scheme}://{host}:{port}"


class HttpSettings(BaseSettings):
    model_config = _section("CONTACT_HTTP_")
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # largest request body accepted anywhere (a report with a 5 MB photo fits)
    max_body_bytes: int = Field(6 * 1024 * 1024, gt=0)
    # send cookies only over TLS; turn on behind the TLS-terminating proxy
    secure_cookies: bool = False
    # the operator map's background: an http(s) tile URL template on one host, with {z}, {x}
    # and {y} (https://tiles.example.kz/{z}/{x}/{y}.png). Unset: no tiles at all (offline
    # networks): the map draws its markers on a plain background and fetches nothing
    map_tile_url: str = ""
    map_tile_attribution: str = Field("", max_length=300)  # shown as text in the map's corner
    # GET /metrics and the details of GET /healthz need `Authorization: Bearer <token>` (or
    # Basic with the token as password: Prometheus' bearer_token / basic_auth). Unset: /metrics
    # is refused to everyone and /healthz shows its details only to logged-in supervisors
    metrics_token: SecretStr | None = None
    # the TLS proxies in front (comma list of addresses/networks): their X-Forwarded-For names
    # the client for per-address login throttling. Unset: the peer's own address
    trusted_proxies: str = ""
    # the centre's clock: every time the pages show is on it, 24-hour (IANA name)
    time_zone: str = "Asia/Almaty"

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, name: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(name)
        except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"CONTACT_HTTP_TIME_ZONE: {name!r} is not an IANA time zone") from None
        return name

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, text: str) -> str:
        try:
            parse_networks(text)
        except ValueError as exc:
            raise ValueError(f"CONTACT_HTTP_TRUSTED_PROXIES: {exc}") from None
        return text

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_strength(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value()) < 16:
            raise ValueError("CONTACT_HTTP_METRICS_TOKEN must be at least 16 characters")
        return token

    @field_validator("map_tile_url")
    @classmethod
    def _tile_template(cls, url: str) -> str:
        url = url.strip()
        if url:
            check_tile_url(url)
        return url

    @property
    def map_tile_origin(self) -> str | None:
        """The tile server's origin, the one image source the pages' CSP adds."""
        return tile_origin(self.map_tile_url) if self.map_tile_url else None


class DatabaseSettings(BaseSettings):
    model_config = _section("CONTACT_DATABASE_")
    url: str = "sqlite+aiosqlite:///./var/contact.db"
    echo: bool = False
    # connections kept open per node (each is a thread on SQLite, a backend on PostgreSQL),
    # and how many more may open for a burst (closed again as soon as they are returned)
    pool_size: int = Field(10, ge=1, le=200)
    pool_overflow: int = Field(10, ge=0, le=200)

    @field_validator("url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        # accept the plain URLs people paste and pick the async driver we ship
        if url.startswith(("postgres://", "postgresql://")):
            return "postgresql+asyncpg://" + url.split("://", 1)[1]
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


class RedisSettings(BaseSettings):
    model_config = _section("CONTACT_REDIS_")
    url: SecretStr | None = None  # unset: the in-process queue and bus (one node)
    key_prefix: str = "contact:"
    socket_timeout_s: float = Field(1.0, gt=0)


class RoutingSettings(BaseSettings):
    model_config = _section("CONTACT_ROUTING_")
    offer_timeout_s: float = Field(15.0, gt=0)  # an offer not accepted moves on
    sla_answer_s: float = Field(10.0, gt=0)  # waiting longer raises contact.sla_breached
    wrap_up_s: float = Field(30.0, ge=0)  # timed wrap-up, then ready again
    # a contact that found no operator speaking its language for this long takes anyone
    language_fallback_s: float = Field(20.0, ge=0)
    tick_s: float = Field(0.25, gt=0)  # how often timers (offers, SLA, wrap-up) are checked
    scan_depth: int = Field(64, gt=0)  # contacts looked at per assignment when skills differ
    # after how long a missed offer sets the operator away (redirect on no answer)
    away_on_missed_offer: bool = True
    # a READY operator whose browser stays disconnected this long is set away
    disconnect_grace_s: float = Field(10.0, ge=0)
    # a connected or wrap-up contact whose operator is gone (logged out, session expired,
    # away) this long goes back to its place in the queue, or to the supervisors when it
    # cannot (routing/orphans.py); checked every orphan_sweep_s
    orphan_after_s: float = Field(120.0, ge=0)
    orphan_sweep_s: float = Field(5.0, gt=0)


# the shortest idle timeout the code honours: activity is recorded every idle/4 (at most every
# 30 s) and an open operator page is pinged every idle/3, so both stay well inside the timeout
MIN_SESSION_IDLE_S = 8


class AuthSettings(BaseSettings):
    """Sessions (OWASP ASVS L2) and login throttling (OWASP: slow the guesser, never lock the
    owner out). Failed logins count in a sliding window of `login_window_s`:
    - per client address and user name: `login_free_failures`, then each further attempt
      waits 1, 2, 4 … s (at most `login_max_delay_s`), refused with 429 and Retry-After;
    - per client address over all user names (one guesser spraying many accounts; an operator
      room shares one address, hence higher): `login_free_failures_per_address`, then the same;
    - per user name over all addresses (a distributed guesser): after
      `login_user_slowdown_after` failures every attempt for that name is answered
      `login_user_delay_s` later. Never refused: the owner still gets in.
    A browser with the user's device cookie skips all three (contact/http/login_throttle.py).
    """

    model_config = _section("CONTACT_AUTH_")
    session_idle_s: int = Field(30 * 60, ge=MIN_SESSION_IDLE_S)
    session_absolute_s: int = Field(12 * 3600, gt=0)
    login_window_s: int = Field(15 * 60, gt=0)
    login_free_failures: int = Field(5, gt=0)
    login_free_failures_per_address: int = Field(50, gt=0)
    login_max_delay_s: int = Field(15 * 60, gt=0)
    login_user_slowdown_after: int = Field(100, gt=0)
    login_user_delay_s: float = Field(2.0, ge=0, le=10)

    @model_validator(mode="after")
    def _honourable(self) -> AuthSettings:
        if self.session_absolute_s < self.session_idle_s:
            raise ValueError(
                "CONTACT_AUTH_SESSION_ABSOLUTE_S must not be shorter than "
                f"CONTACT_AUTH_SESSION_IDLE_S ({self.session_absolute_s} < {self.session_idle_s})"
            )
        if self.login_free_failures_per_address < self.login_free_failures:
            raise ValueError(
                "CONTACT_AUTH_LOGIN_FREE_FAILURES_PER_ADDRESS must be at least "
                "CONTACT_AUTH_LOGIN_FREE_FAILURES"
            )
        return self

    @property
    def touch_every_s(self) -> float:
        """How often a session's last activity is written: a quarter of the idle timeout, at
        most every 30 s (a write per request would be wasted)."""
        return min(30.0, self.session_idle_s / 4)

    @property
    def ws_heartbeat_s(self) -> float:
        """Operator WebSockets are pinged this often; a page that does not answer within half
        of it is closed, so an open socket is a page that answers."""
        return min(20.0, self.session_idle_s / 3)


class AppChannelSettings(BaseSettings):
    model_config = _section("CONTACT_APP_")
    enabled: bool = True
    # keys the citizen app sends in X-Api-Key; unset: the app channel refuses intake
    api_keys: SecretStr | None = None
    max_photo_bytes: int = Field(5 * 1024 * 1024, gt=0)
    max_text_chars: int = Field(4000, gt=0)
    reports_per_minute_per_device: int = Field(20, gt=0)
    # new reports and SOS calls from one client address (made-up device ids do not multiply
    # it); a carrier's NAT puts many citizens behind one address, so not much lower
    reports_per_minute_per_address: int = Field(30, gt=0)
    # new reports and SOS calls per X-Api-Key: the whole fleet of one app (a leaked key's cap)
    reports_per_minute_per_api_key: int = Field(600, gt=0)
    # SOS: what the app needs for its video call (the WebRTC side serves it; placeholders here)
    sos_sip_uri: str = "sip:sos@127.0.0.1"  # the app calls it, with X-Contact-Id: <contact id>
    # Asterisk's WebSocket SIP transport (/ws on CONTACT_ASTERISK_HTTP_PORT); in production the
    # public wss:// URL of the TLS proxy in front of it
    sos_ws_url: str = "ws://127.0.0.1:8088/ws"
    sos_ice_servers: str = ""  # comma list of stun:/turn: URLs handed to the app
    sos_per_hour_per_device: int = Field(10, gt=0)  # new SOS contacts; a repeat joins the open one
    locations_per_minute_per_device: int = Field(120, gt=0)  # live location updates during an SOS
    registrations_per_minute_per_address: int = Field(20, gt=0)
    history_limit: int = Field(50, gt=0, le=500)  # contacts in a device's history

    def keys(self) -> frozenset[str]:
        if self.api_keys is None:
            return frozenset()
        return frozenset(
            k.strip() for k in self.api_keys.get_secret_value().split(",") if k.strip()
        )


class AsteriskSettings(BaseSettings):
    """Asterisk and its management interfaces (loopback only, least privilege)."""

    model_config = _section("CONTACT_ASTERISK_")
    ami_host: str = "127.0.0.1"
    ami_port: int = Field(5038, ge=1, le=65535)
    # rendered into manager.conf as a section name: a plain word
    ami_username: str = Field("contact", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    ami_secret: SecretStr | None = None  # unset: `contact asterisk up` generates one per run dir
    # where `contact asterisk up` keeps the sid root filesystem and the rendered run directory
    cache_dir: Path = Path.home() / ".cache" / "contact"
    run_dir: Path | None = None  # unset: <cache_dir>/run
    # native: `asterisk` on PATH; chroot: the sid rootfs in a private mount namespace (root);
    # loader: the sid rootfs through its own dynamic loader (any user); auto picks in that order
    launcher: Literal["auto", "native", "chroot", "loader"] = "auto"
    boot_timeout_s: float = Field(20.0, gt=0)  # start → FullyBooted, or `up` fails
    sip_port: int = Field(5060, ge=1, le=65535)
    http_port: int = Field(8088, ge=1, le=65535)  # Asterisk's own HTTP server: WebSocket SIP
    # the SIP WebSocket as operators' browsers reach it (wss://… behind the TLS proxy);
    # unset: ws://127.0.0.1:<http_port>/ws, for a browser on this machine
    ws_url: str | None = Field(None, pattern=r"^wss?://[^\s/?#]+(/[^\s?#]*)?$")
    rtp_start: int = Field(20000, ge=1024, le=65535)
    rtp_end: int = Field(20999, ge=1024, le=65535)
    # --- 102 voice in the unified queue (contact/telephony): off unless configured
    enabled: bool = False  # connect to AMI at `contact serve`; off: no voice, nothing fails
    ami_action_timeout_s: float = Field(5.0, gt=0)  # an AMI action unanswered this long fails
    ami_reconnect_s: int = Field(1, ge=1, le=60)  # between AMI connection attempts
    # where calls to services (101, 103, 104, 112) and callbacks leave: a pjsip endpoint
    trunk: str = Field("pstn", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    # host[:port] dialled through the trunk endpoint (sip:<number>@host); unset: its aor
    trunk_host: str | None = Field(None, pattern=r"^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$")
    transfer_targets: str = Field("101,103,104,112", pattern=r"^[0-9]{2,6}(,[0-9]{2,6})*$")
    transfer_ring_s: int = Field(30, ge=5, le=120)  # a transfer target not answering by then
    # an operator's phone rings this long on accept; unset: the routing offer timeout
    operator_ring_s: float | None = Field(None, gt=0)
    # unset: <run_dir>/spool/monitor, where MixMonitor writes (same machine as Asterisk)
    recording_dir: Path | None = None
    # Asterisk's own record of every call it announced (cel_custom, asterisk-config/README.md);
    # default: <run_dir>/log/cel-custom/contact-calls.csv, where the managed Asterisk writes it
    call_records: Path | None = None
    retention_days: int = Field(365, ge=1)  # recordings older than this are purged
    # callbacks of abandoned and dropped calls: an automatic first attempt, then a task
    callback_auto: bool = False
    callback_auto_delay_s: float = Field(20.0, ge=0)
    callback_ring_s: int = Field(30, ge=5, le=120)
    # a voice contact offered to an operator rings their phone at once, as in a classic ACD
    # (the operator answers the phone instead of clicking accept); off: accept, then it rings
    ring_on_offer: bool = False
    # several nodes per Asterisk: one drives it, holding a lease in the shared database (named
    # after AMI_HOST:PORT, so every node must spell them alike); the others stand by. A holder
    # not renewing for `lease_s` is replaced; it renews every `lease_renew_s`
    lease_s: float = Field(4.0, gt=0, le=60)
    lease_renew_s: float = Field(1.0, gt=0, le=20)

    @model_validator(mode="after")
    def _rtp_range(self) -> AsteriskSettings:
        if self.rtp_end <= self.rtp_start:
            raise ValueError("CONTACT_ASTERISK_RTP_END must be above CONTACT_ASTERISK_RTP_START")
        return self

    @model_validator(mode="after")
    def _lease_renewed_in_time(self) -> AsteriskSettings:
        if self.lease_s < 2 * self.lease_renew_s:
            raise ValueError(
                "CONTACT_ASTERISK_LEASE_S must be at least twice CONTACT_ASTERISK_LEASE_RENEW_S"
            )
        return self

    @property
    def lease_name(self) -> str:
        """The telephony lease: one per Asterisk, known by its AMI address."""
        return f"telephony:{self.ami_host.lower()}:{self.ami_port}"

    @property
    def effective_run_dir(self) -> Path:
        return self.run_dir if self.run_dir is not None else self.cache_dir / "run"

    @property
    def effective_call_records(self) -> Path:
        if self.call_records is not None:
            return self.call_records
        return self.effective_run_dir / "log" / "cel-custom" / "contact-calls.csv"

    @property
    def effective_recording_dir(self) -> Path:
        if self.recording_dir is not None:
            return self.recording_dir
        return self.effective_run_dir / "spool" / "monitor"

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self.transfer_targets.split(","))

    @property
    def effective_ws_url(self) -> str:
        return self.ws_url or f"ws://127.0.0.1:{self.http_port}/ws"


class DispatchSettings(BaseSettings):
    """Units, cameras, districts, suggestions and incident grouping (contact/dispatch/)."""

    model_config = _section("CONTACT_DISPATCH_")
    enabled: bool = True
    # unit positions over MQTT: mqtt://user:pass@host:1883 (mqtts:// for TLS); unset: MQTT off
    mqtt_url: SecretStr | None = None
    mqtt_topic_prefix: str = Field("contact/units", pattern=r"^[^#+]+$")  # <prefix>/<id>/position
    mqtt_client_id: str | None = None  # unset: contact-<node id>
    # an OSRM-compatible routing server for road ETAs (its /table service); unset: estimate only
    osrm_url: str | None = None
    osrm_profile: str = Field("driving", pattern=r"^[a-z_-]{1,32}$")
    osrm_timeout_s: float = Field(0.8, gt=0)  # then the great-circle estimate is used
    osrm_backoff_s: float = Field(30.0, ge=0)  # after a failure, estimate only for this long
    suggest_top_n: int = Field(5, gt=0, le=50)  # units in dispatch.suggested
    # the great-circle best this many are re-ranked by road ETA
    suggest_candidates: int = Field(15, gt=0, le=100)
    road_factor: float = Field(1.35, gt=0)
    car_kmh: float = Field(40.0, gt=0)
    bike_kmh: float = Field(15.0, gt=0)
    foot_kmh: float = Field(5.0, gt=0)
    response_target_s: float = Field(420.0, gt=0)  # a unit on scene within 7 minutes
    arrival_radius_m: float = Field(50.0, ge=0)  # en route within this of the scene: on scene
    # contacts about one event: within this distance and time of a contact of an open incident
    group_radius_m: float = Field(300.0, ge=0)
    group_window_s: float = Field(1800.0, ge=0)
    cameras_seeing: int = Field(8, ge=0, le=50)  # cameras that can see the place, best first
    cameras_others: int = Field(5, ge=0, le=50)  # and the nearest ones that cannot
    # the memory bound: a node refuses to load more cameras (~300 MB a million, docs/dispatch.md)
    cameras_max: int = Field(3_000_000, gt=0)
    snapshot_timeout_s: float = Field(3.0, gt=0)
    snapshot_max_bytes: int = Field(4 * 1024 * 1024, gt=0)
    snapshot_cache_s: float = Field(1.0, ge=0)  # one camera fetched at most this often
    # camera URLs on loopback (127.0.0.0/8, ::1, localhost) are refused at import and fetch
    # unless this is set (a camera relay on the same host; the demo). Link-local and cloud
    # metadata addresses are refused always (contact/address_guard.py)
    camera_allow_loopback: bool = False
    position_flush_s: float = Field(2.0, gt=0)  # latest positions are written in batches
    # a dispatched unit's position goes to its contact's open panels at most this often
    position_push_s: float = Field(2.0, gt=0)
    reload_check_s: float = Field(30.0, gt=0)  # re-read cameras/districts imported elsewhere
    max_position_age_s: float = Field(600.0, gt=0)  # older positions are not ranked
    # names this centre in exported EIDO documents (urn:emergency:uid:incidentid:<id>:<centre>)
    centre_id: str = Field("kz-102", pattern=r"^[A-Za-z0-9.-]{1,64}$")


class GeocoderSettings(BaseSettings):
    """The address of a caller's place on the operator's page (contact/http/place.py): a
    reverse geocoder (Nominatim's or Photon's /reverse) asked with a short timeout and cached;
    unset or failing: the district and the nearest known camera or kiosk instead."""

    model_config = _section("CONTACT_GEOCODER_")
    url: str | None = Field(None, pattern=r"^https?://[^\s]+$")  # e.g. http://nominatim:8080
    kind: Literal["nominatim", "photon"] = "nominatim"
    timeout_s: float = Field(1.0, gt=0, le=10)
    cache_s: float = Field(3600.0, ge=0)
    cache_size: int = Field(10_000, gt=0)


class KioskSettings(BaseSettings):
    """SOS kiosks (contact/channels/kiosk): signed HTTP heartbeats, events and button presses."""

    model_config = _section("CONTACT_KIOSK_")
    enabled: bool = True
    heartbeat_interval_s: float = Field(60.0, gt=0)  # what kiosks are told to keep
    missed_heartbeats: int = Field(3, gt=0)  # this many missed: kiosk.offline
    monitor_tick_s: float = Field(5.0, gt=0)  # how often silence is checked
    signature_window_s: float = Field(300.0, gt=0)  # X-Timestamp this close to our clock
    requests_per_minute_per_kiosk: int = Field(60, gt=0)
    max_body_bytes: int = Field(16 * 1024, gt=0)


class AlarmSettings(BaseSettings):
    """School panic buttons (contact/channels/alarm): per-site keys, top priority."""

    model_config = _section("CONTACT_ALARM_")
    enabled: bool = True
    alarms_per_minute_per_site: int = Field(30, gt=0)
    max_body_bytes: int = Field(16 * 1024, gt=0)


class CameraSettings(BaseSettings):
    """Camera analytics alerts (contact/channels/camera)."""

    model_config = _section("CONTACT_CAMERA_")
    enabled: bool = True
    # keys the analytics platform sends in X-Api-Key; unset: camera alerts are refused (503)
    api_keys: SecretStr | None = None
    # an alert below its kind's confidence threshold is acknowledged and dropped
    threshold_wanted_face: float = Field(0.80, ge=0, le=1)
    threshold_wanted_plate: float = Field(0.90, ge=0, le=1)
    threshold_weapon: float = Field(0.60, ge=0, le=1)
    threshold_aggression: float = Field(0.70, ge=0, le=1)
    threshold_crowd: float = Field(0.75, ge=0, le=1)
    # repeats of one camera, kind and subject within this window collapse into one contact
    dedupe_window_s: float = Field(300.0, ge=0)
    events_per_minute_per_camera: int = Field(120, gt=0)
    max_body_bytes: int = Field(64 * 1024, gt=0)

    def keys(self) -> frozenset[str]:
        if self.api_keys is None:
            return frozenset()
        return frozenset(
            k.strip() for k in self.api_keys.get_secret_value().split(",") if k.strip()
        )

    def threshold(self, kind: str) -> float:
        return float(getattr(self, f"threshold_{kind}"))


class TelegramSettings(BaseSettings):
    """The Telegram bot (contact/channels/telegram): on when a token is set."""

    model_config = _section("CONTACT_TELEGRAM_")
    enabled: bool = True
    token: SecretStr | None = None  # from @BotFather; unset: the channel is off
    mode: Literal["webhook", "polling"] = "webhook"
    # X-Telegram-Bot-Api-Secret-Token that Telegram sends with every webhook (required for it)
    webhook_secret: SecretStr | None = None
    # the public https URL of /webhooks/telegram; set: setWebhook at start (else set it yourself)
    webhook_url: str | None = None
    api_base: str = "https://api.telegram.org"  # or a self-hosted Bot API server
    poll_timeout_s: int = Field(25, ge=0, le=50)  # getUpdates long polling (polling mode)
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    max_media_bytes: int = Field(20 * 1024 * 1024, gt=0)  # the Bot API's own download limit
    max_text_chars: int = Field(4096, gt=0)
    messages_per_minute_per_citizen: int = Field(30, gt=0)
    send_attempts: int = Field(5, gt=0)  # an outbound message is retried this often, then failed

    @field_validator("webhook_secret")
    @classmethod
    def _secret_charset(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram accepts 1-256 characters A-Z, a-z, 0-9, _ and -
        secret = None if value is None else value.get_secret_value()
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ValueError("CONTACT_TELEGRAM_WEBHOOK_SECRET: 1-256 of A-Z a-z 0-9 _ -")
        return value

    @property
    def active(self) -> bool:
        return self.enabled and self.token is not None


class WhatsAppSettings(BaseSettings):
    """WhatsApp Cloud API (contact/channels/whatsapp): on when its four secrets are set."""

    model_config = _section("CONTACT_WHATSAPP_")
    enabled: bool = True
    verify_token: SecretStr | None = None  # the hub.verify_token of the subscription handshake
    app_secret: SecretStr | None = None  # signs every POST (X-Hub-Signature-256)
    access_token: SecretStr | None = None  # Bearer token for the Graph API
    phone_number_id: str | None = Field(None, pattern=r"^[0-9]{1,32}$")
    api_base: str = "https://graph.facebook.com"
    api_version: str = Field("v23.0", pattern=r"^v[0-9]{1,3}\.[0-9]{1,2}$")
    # an approved template with one body parameter, for messages after the 24-hour window
    template_name: str | None = Field(None, pattern=r"^[a-z0-9_]{1,512}$")
    template_language_kk: str = "kk"
    template_language_ru: str = "ru"
    window_s: float = Field(24 * 3600, gt=0)  # free-form messages only this long after the last
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    max_media_bytes: int = Field(16 * 1024 * 1024, gt=0)
    max_text_chars: int = Field(4096, gt=0)
    messages_per_minute_per_citizen: int = Field(30, gt=0)
    send_attempts: int = Field(5, gt=0)

    @property
    def active(self) -> bool:
        return self.enabled and None not in (
            self.verify_token,
            self.app_secret,
            self.access_token,
            self.phone_number_id,
        )


class ModelsSettings(BaseSettings):
    """Where speech models live (`contact models install|add|list`)."""

    model_config = _section("CONTACT_MODELS_")
    dir: Path = Path.home() / ".cache" / "contact" / "models"
    # where `contact models install` downloads `<name>.zip` from: the Vosk project's site, or a
    # mirror on the deployment's own network holding the same files (`--from URL` per command)
    base_url: str = "https://alphacephei.com/vosk/models"
    # a model archive is refused (zip bomb) when it unpacks to more bytes or more entries
    max_unpacked_bytes: int = Field(4 * 1024**3, gt=0)
    max_entries: int = Field(20_000, gt=0)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("CONTACT_MODELS_BASE_URL must start with http:// or https://")
        return value.rstrip("/")


class TranscribeSettings(BaseSettings):
    """Live transcription of calls (Vosk over AudioSocket taps)."""

    model_config = _section("CONTACT_TRANSCRIBE_")
    enabled: bool = True
    default_language: Literal["kk", "ru"] = "ru"
    # Asterisk connects to contact's AudioSocket server (one per node, loopback only: the
    # audio of emergency calls never leaves the machine unencrypted). Each tap tells Asterisk
    # the port, so the default 0 (a free port chosen at start) needs no configuration
    audiosocket_host: Literal["127.0.0.1", "::1"] = "127.0.0.1"
    audiosocket_port: int = Field(0, ge=0, le=65535)
    # recognition threads (libvosk releases the GIL): one per core by default
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=64)
    # legs recognised at once (caller and operator legs count one each); beyond it new taps
    # are refused and said so on the contact, so the running ones keep real time
    max_legs: int = Field(8, ge=1, le=1000)
    # connections the AudioSocket server holds at once (taps plus strays); more are closed
    max_connections: int = Field(32, ge=1, le=10000)
    # the watchdog: a leg this many seconds of audio behind real time drops its partials,
    # and stops (its final text so far kept) when it is `stop_lag_s` behind
    drop_partials_lag_s: float = Field(2.0, gt=0)
    stop_lag_s: float = Field(8.0, gt=0)
    partial_interval_s: float = Field(0.25, ge=0)  # at most one partial per leg this often
    # a connection must say which tap it is this soon, and then send audio at least this often
    hello_timeout_s: float = Field(3.0, gt=0)
    idle_timeout_s: float = Field(15.0, gt=0)

    @model_validator(mode="after")
    def _lags(self) -> TranscribeSettings:
        if self.stop_lag_s <= self.drop_partials_lag_s:
            raise ValueError(
                "CONTACT_TRANSCRIBE_STOP_LAG_S must exceed CONTACT_TRANSCRIBE_DROP_PARTIALS_LAG_S"
            )
        return self


class LogSettings(BaseSettings):
    model_config = _section("CONTACT_LOG_")
    level: str = "INFO"
    json_format: bool = Field(False, alias="CONTACT_LOG_JSON")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONTACT_", frozen=True, extra="ignore")
    data_dir: Path = Path("./var")  # attachments and the default SQLite file live here
    http: HttpSettings = Field(default_factory=HttpSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    app: AppChannelSettings = Field(default_factory=AppChannelSettings)
    asterisk: AsteriskSettings = Field(default_factory=AsteriskSettings)
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings)
    geocoder: GeocoderSettings = Field(default_factory=GeocoderSettings)
    kiosk: KioskSettings = Field(default_factory=KioskSettings)
    alarm: AlarmSettings = Field(default_factory=AlarmSettings)
    camera: CameraSettings = Field(default_factory=CameraSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    whatsapp: WhatsAppSettings = Field(default_factory=WhatsAppSettings)
    models: ModelsSettings = Field(default_factory=ModelsSettings)
    transcribe: TranscribeSettings = Field(default_factory=TranscribeSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    def masked(self) -> dict[str, Any]:
        """The effective configuration with every secret (and passwords in URLs) hidden."""
        data = self.model_dump(mode="json")
        data["database"]["url"] = _mask_url(self.database.url)
        if self.redis.url is not None:
            data["redis"]["url"] = _mask_url(self.redis.url.get_secret_value())
        if self.http.metrics_token is not None:
            data["http"]["metrics_token"] = "**********"
        if self.asterisk.ami_secret is not None:
            data["asterisk"]["ami_secret"] = "**********"
        if self.app.api_keys is not None:
            data["app"]["api_keys"] = "**********"
        if self.camera.api_keys is not None:
            data["camera"]["api_keys"] = "**********"
        if self.dispatch.mqtt_url is not None:
            data["dispatch"]["mqtt_url"] = _mask_url(self.dispatch.mqtt_url.get_secret_value())
        for name in ("token", "webhook_secret"):
            if getattr(self.telegram, name) is not None:
                data["telegram"][name] = "**********"
        for name in ("verify_token", "app_secret", "access_token"):
            if getattr(self.whatsapp, name) is not None:
                data["whatsapp"][name] = "**********"
        return data


def _mask_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:****@{host}" if ":" in creds else f"{scheme}://{user}@{host}"


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)


def explain(error: ValidationError) -> str:
    """A ValidationError of the settings as lines naming the CONTACT_* variables."""
    sections = {
        field.annotation.__name__: field.annotation
        for field in Settings.model_fields.values()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseSettings)
    }
    section = sections.get(error.title)
    prefix = str(section.model_config.get("env_prefix", "")) if section else "CONTACT_"
    lines = []
    for item in error.errors():
        name = "_".join(str(x) for x in item["loc"]).upper()
        where = f"{prefix}{name}" if name else error.title
        lines.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)
