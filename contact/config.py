"""One typed, frozen Settings from CONTACT_* environment variables, one section per subsystem.

Each section reads its own prefix, so the public names stay flat and readable:
CONTACT_HTTP_PORT, CONTACT_DATABASE_URL, CONTACT_REDIS_URL, CONTACT_ROUTING_OFFER_TIMEOUT_S …
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _section(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, frozen=True, extra="ignore")


class HttpSettings(BaseSettings):
    model_config = _section("CONTACT_HTTP_")
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # largest request body accepted anywhere (a report with a 5 MB photo fits)
    max_body_bytes: int = Field(6 * 1024 * 1024, gt=0)
    # send cookies only over TLS; turn on behind the TLS-terminating proxy
    secure_cookies: bool = False


class DatabaseSettings(BaseSettings):
    model_config = _section("CONTACT_DATABASE_")
    url: str = "sqlite+aiosqlite:///./var/contact.db"
    echo: bool = False

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


class AuthSettings(BaseSettings):
    model_config = _section("CONTACT_AUTH_")
    session_idle_s: int = Field(30 * 60, gt=0)  # OWASP ASVS L2
    session_absolute_s: int = Field(12 * 3600, gt=0)
    login_attempts_per_minute: int = Field(10, gt=0)


class AppChannelSettings(BaseSettings):
    model_config = _section("CONTACT_APP_")
    enabled: bool = True
    # keys the citizen app sends in X-Api-Key; unset: the app channel refuses intake
    api_keys: SecretStr | None = None
    max_photo_bytes: int = Field(5 * 1024 * 1024, gt=0)
    max_text_chars: int = Field(4000, gt=0)
    reports_per_minute_per_device: int = Field(20, gt=0)

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
    rtp_start: int = Field(20000, ge=1024, le=65535)
    rtp_end: int = Field(20999, ge=1024, le=65535)

    @model_validator(mode="after")
    def _rtp_range(self) -> AsteriskSettings:
        if self.rtp_end <= self.rtp_start:
            raise ValueError("CONTACT_ASTERISK_RTP_END must be above CONTACT_ASTERISK_RTP_START")
        return self

    @property
    def effective_run_dir(self) -> Path:
        return self.run_dir if self.run_dir is not None else self.cache_dir / "run"


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
    log: LogSettings = Field(default_factory=LogSettings)

    def masked(self) -> dict[str, Any]:
        """The effective configuration with every secret (and passwords in URLs) hidden."""
        data = self.model_dump(mode="json")
        data["database"]["url"] = _mask_url(self.database.url)
        if self.redis.url is not None:
            data["redis"]["url"] = _mask_url(self.redis.url.get_secret_value())
        if self.asterisk.ami_secret is not None:
            data["asterisk"]["ami_secret"] = "**********"
        if self.app.api_keys is not None:
            data["app"]["api_keys"] = "**********"
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
