"""A scenario: a small TOML file, validated, describing one city's traffic."""

from __future__ import annotations

import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

KINDS = ("emergency", "ordinary", "informational")
CHANNELS = ("voice", "app", "telegram", "whatsapp", "kiosk", "alarm", "camera")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message says what and where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _normalised(weights: dict[str, float], allowed: tuple[str, ...], what: str) -> dict[str, float]:
    unknown = set(weights) - set(allowed)
    if unknown:
        raise ValueError(f"unknown {what}: {', '.join(sorted(unknown))}")
    if any(w < 0 or not math.isfinite(w) for w in weights.values()):
        raise ValueError(f"{what} weights must be finite and not negative")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError(f"{what} weights must not all be zero")
    return {k: w / total for k, w in weights.items()}


class District(_Strict):
    name: str = Field(min_length=1, max_length=80)
    weight: float = Field(gt=0)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_km: float = Field(default=2.0, gt=0, le=50)


class Peak(_Strict):
    """Extra traffic on some days and hours (Friday and Saturday evenings)."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]]
    hours: list[int] = Field(min_length=1)
    factor: float = Field(gt=0, le=20)

    @field_validator("hours")
    @classmethod
    def _hours(cls, hours: list[int]) -> list[int]:
        if any(not 0 <= h <= 23 for h in hours):
            raise ValueError("hours are 0..23")
        return hours


class Burst(_Strict):
    """Many contacts about one event (a fire seen by the whole street)."""

    start_min: float = Field(ge=0)
    duration_min: float = Field(gt=0)
    contacts: int = Field(gt=0, le=100_000)
    kind: Literal["emergency", "ordinary", "informational"] = "emergency"
    channels: dict[str, float] = {"voice": 0.85, "app": 0.05, "telegram": 0.05, "whatsapp": 0.05}
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_km: float = Field(default=0.3, gt=0, le=50)
    text: str = Field(default="Пожар, горит дом, много дыма", min_length=1, max_length=500)

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: dict[str, float]) -> dict[str, float]:
        return _normalised(value, CHANNELS, "channel")


class SkillGroup(_Strict):
    """Operators who can take the same contacts: the languages they speak and the channels
    they work. `share`: their part of the rota's operators in a model run."""

    name: str = Field(min_length=1, max_length=40, pattern=r"^[\w .+-]+$")
    languages: list[Literal["kk", "ru"]] = Field(min_length=1)
    channels: list[str] = Field(min_length=1)
    share: float = Field(default=1.0, gt=0)

    @field_validator("channels")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = set(value) - set(CHANNELS)
        if unknown:
            raise ValueError(f"unknown channel: {', '.join(sorted(unknown))}")
        return value


class Units(_Strict):
    """The patrols: how many are on duty in each district, how fast they get there, how long
    a call-out keeps them. The response time is from the citizen's first contact to the
    unit at the scene, against `target_min` (7 minutes in Almaty)."""

    per_district: int = Field(default=4, ge=0, le=1000)
    counts: dict[str, int] = {}  # district name → units on duty, where it differs
    speed_kmh: float = Field(default=35.0, gt=0, le=200)  # door to door, with the lights on
    road_factor: float = Field(default=1.3, ge=1, le=3)  # streets are longer than the crow flies
    dispatch_s: float = Field(default=60.0, ge=0, le=3600)  # answered → a unit sent
    on_scene_min: float = Field(default=25.0, gt=0, le=24 * 60)
    target_min: float = Field(default=7.0, gt=0, le=120)


class Target(_Strict):
    service_level: float = Field(default=0.9, gt=0, lt=1)
    answer_s: float = Field(default=10.0, gt=0)
    kind: Literal["emergency", "ordinary", "informational", "all"] = "emergency"
    max_abandoned: float = Field(default=0.2, gt=0, le=1)  # of all contacts, each hour


class Scenario(_Strict):
    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    start_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    start_hour: int = Field(default=0, ge=0, le=23)
    duration_h: float = Field(default=24.0, gt=0, le=1000)
    per_day: dict[str, float]  # contacts per average day, by channel
    hourly: list[float] = Field(min_length=24, max_length=24)  # shape of a day
    weekly: dict[str, float] = {d: 1.0 for d in DAYS}  # day factors (mean 1)
    peaks: list[Peak] = []
    mix: dict[str, float]  # emergency / ordinary / informational
    languages: dict[str, float] = {"ru": 0.6, "kk": 0.4}
    districts: list[District] = Field(min_length=1)
    handling_s: dict[str, dict[str, float]]  # channel → kind → mean handling seconds
    handling_sigma: float = Field(default=0.6, ge=0, le=3)  # lognormal shape
    handling: Literal["lognormal", "exponential"] = "lognormal"
    wrap_up_s: float = Field(default=0.0, ge=0, le=3600)
    patience_s: dict[str, float]  # kind → mean patience (exponential); chats are patient
    patient_channels: list[str] = ["app", "telegram", "whatsapp", "kiosk", "alarm", "camera"]
    needs_unit: dict[str, float]  # kind → share needing a patrol
    app_sos_share: float = Field(default=0.3, ge=0, le=1)  # app emergencies that press SOS
    # SOS presses that also place the app's video call (a real run with Asterisk only)
    app_sos_video_share: float = Field(default=0.5, ge=0, le=1)
    operators: list[int] = Field(min_length=24, max_length=24)  # staffed per hour of day
    target: Target = Target()
    burst: Burst | None = None
    skills: list[SkillGroup] = []  # none: every operator takes every contact
    units: Units | None = None  # none: response to the scene is not modelled

    @field_validator("per_day")
    @classmethod
    def _per_day(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = set(value) - set(CHANNELS)
        if unknown:
            raise ValueError(f"unknown channel: {', '.join(sorted(unknown))}")
        if any(v < 0 or not math.isfinite(v) for v in value.values()):
            raise ValueError("contacts per day must be finite and not negative")
        return value

    @field_validator("hourly")
    @classmethod
    def _hourly(cls, value: list[float]) -> list[float]:
        if any(v < 0 or not math.isfinite(v) for v in value) or sum(value) <= 0:
            raise ValueError("hourly shape needs 24 finite weights, not all zero")
        return value

    @field_validator("weekly")
    @classmethod
    def _weekly(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != set(DAYS):
            raise ValueError(f"weekly needs exactly the days {', '.join(DAYS)}")
        if any(v <= 0 or not math.isfinite(v) for v in value.values()):
            raise ValueError("day factors must be positive")
        return value

    @field_validator("mix", "needs_unit", "patience_s")
    @classmethod
    def _kinds(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != set(KINDS):
            raise ValueError(f"needs exactly the kinds {', '.join(KINDS)}")
        if any(v < 0 or not math.isfinite(v) for v in value.values()):
            raise ValueError("values must be finite and not negative")
        return value

    @field_validator("mix")
    @classmethod
    def _mix(cls, value: dict[str, float]) -> dict[str, float]:
        return _normalised(value, KINDS, "kind")

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: dict[str, float]) -> dict[str, float]:
        return _normalised(value, ("kk", "ru"), "language")

    @field_validator("needs_unit")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        if any(v > 1 for v in value.values()):
            raise ValueError("shares are between 0 and 1")
        return value

    @field_validator("operators")
    @classmethod
    def _operators(cls, value: list[int]) -> list[int]:
        if any(v < 0 or v > 10_000 for v in value):
            raise ValueError("operators per hour are between 0 and 10000")
        return value

    @model_validator(mode="after")
    def _handling_covers_channels(self) -> Scenario:
        used = {c for c, n in self.per_day.items() if n > 0}
        if self.burst is not None:
            used |= {c for c, w in self.burst.channels.items() if w > 0}
        for channel in used:
            times = self.handling_s.get(channel)
            if times is None or set(times) != set(KINDS):
                raise ValueError(f"handling_s.{channel} needs a mean for each of {KINDS}")
            if any(t <= 0 or not math.isfinite(t) for t in times.values()):
                raise ValueError(f"handling_s.{channel} means must be positive seconds")
        return self

    @model_validator(mode="after")
    def _units_in_known_districts(self) -> Scenario:
        if self.units is not None:
            unknown = set(self.units.counts) - {d.name for d in self.districts}
            if unknown:
                raise ValueError(f"units.counts: unknown district: {', '.join(sorted(unknown))}")
        return self

    @model_validator(mode="after")
    def _skills_cover_the_traffic(self) -> Scenario:
        if not self.skills:
            return self
        names = [g.name for g in self.skills]
        if len(set(names)) != len(names):
            raise ValueError("skills: every group needs its own name")
        used = {c for c, n in self.per_day.items() if n > 0}
        if self.burst is not None:
            used |= {c for c, w in self.burst.channels.items() if w > 0}
        for language in (lang for lang, w in self.languages.items() if w > 0):
            for channel in sorted(used):
                if not any(language in g.languages and channel in g.channels for g in self.skills):
                    raise ValueError(f"skills: nobody takes {channel} contacts in {language}")
        return self

    def split(self, operators: int) -> dict[str, int]:
        """A head count shared among the skill groups by their shares (largest remainders)."""
        total = sum(g.share for g in self.skills)
        exact = {g.name: operators * g.share / total for g in self.skills}
        counts = {name: math.floor(x) for name, x in exact.items()}
        rest = sorted(exact, key=lambda n: counts[n] - exact[n])
        for name in rest[: operators - sum(counts.values())]:
            counts[name] += 1
        return counts

    def rate_per_hour(self, channel: str, hour_of_week: int) -> float:
        """Mean arrivals per hour on a channel in one hour of the week (Monday 00 is 0)."""
        day, hour = divmod(hour_of_week % 168, 24)
        mean_day = sum(self.weekly.values()) / 7
        rate = (
            self.per_day.get(channel, 0.0)
            * self.weekly[DAYS[day]]
            / mean_day
            * self.hourly[hour]
            / sum(self.hourly)
        )
        for peak in self.peaks:
            if DAYS[day] in peak.days and hour in peak.hours:
                rate *= peak.factor
        return rate

    @property
    def start_hour_of_week(self) -> int:
        return DAYS.index(self.start_day) * 24 + self.start_hour


BUILT_IN = ("almaty-weekday", "almaty-friday-night", "mass-incident")


def built_in_names() -> tuple[str, ...]:
    return BUILT_IN


def load_scenario(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or a TOML file by path; ScenarioError explains a bad one."""
    if name_or_path in BUILT_IN:
        text = (
            resources.files("contact.simulate")
            .joinpath("scenarios", f"{name_or_path}.toml")
            .read_text("utf-8")
        )
        where = f"built-in scenario {name_or_path}"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ScenarioError(
                f"no scenario {name_or_path!r}: give a TOML file or one of {', '.join(BUILT_IN)}"
            )
        text, where = path.read_text("utf-8"), str(path)
    return parse_scenario(text, where)


def parse_scenario(text: str, where: str = "scenario") -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{where}: not valid TOML: {exc}") from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ScenarioError(f"{where} is invalid:\n" + "\n".join(lines)) from None
